"""Formatters, escaping and metric recording (cmlib/report/format.py, metrics.py, theme.py)."""

from __future__ import annotations

import json
import math

import matplotlib
import pandas as pd
import pytest

from cmlib.errors import ParameterError
from cmlib.report import amount, count, md, money, pct, pp, record, recorded, set_currency, set_theme, table
from cmlib.report import metrics as mt


def test_number_formats():
    assert pct(0.0213) == "2.1%" and pct(0.05, signed=True) == "+5.0%" and pct(float("nan")) == "–"
    assert pp(0.012) == "+1.2 pp"
    assert amount(1234567.8) == "1,234,568" and amount(5.126, 2) == "5.13"
    assert count(12345.4) == "12,345"


def test_md_escapes_values_not_template():
    out = md("**{name}** has {n}", name="<script>x</script> *bold*", n=3).data
    assert out.startswith("**&lt;script&gt;x&lt;/script&gt; &#42;bold&#42;**")


def test_table_escapes_text_and_hides_row_numbers():
    html = table(
        pd.DataFrame({"who": ["<b>x</b>"], "rate": [0.5], "amt": [3.14159]}),
        percent=["rate"],
        money_cols=["amt"],
    ).to_html()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "50.0%" in html and "3.14" in html
    assert "row0_col0" in html and ">0</th>" not in html


def test_record_writes_to_the_run_and_validates(tmp_path, monkeypatch):
    monkeypatch.setenv(mt.ENV_RUN_DIR, str(tmp_path))
    monkeypatch.setenv(mt.ENV_NOTEBOOK, "nb")
    assert record("auc", 0.8123, unit="ratio", higher_is_better=True) is None
    record("auc", 0.81, unit="ratio", higher_is_better=True)  # last value wins
    got = mt.read_metrics(tmp_path)
    assert got["nb"]["auc"]["value"] == 0.81 and got["nb"]["auc"]["higher_is_better"] is True
    line = json.loads((tmp_path / "metrics" / "nb.jsonl").read_text().splitlines()[0])
    assert line["unit"] == "ratio"
    with pytest.raises(ParameterError, match="finite"):
        record("x", math.inf)
    with pytest.raises(ParameterError, match="unit"):
        record("x", 1.0, unit="furlongs")
    with pytest.raises(ParameterError, match="real number"):
        record("x", "abc")


def test_record_interactive_keeps_in_memory(monkeypatch):
    monkeypatch.delenv(mt.ENV_RUN_DIR, raising=False)
    record("interactive_metric", 2)
    assert recorded()[-1].name == "interactive_metric" and recorded()[-1].value == 2.0


def test_theme_applies():
    set_theme()
    assert matplotlib.rcParams["axes.spines.top"] is False


def test_a_missing_artefact_says_which_notebook_to_run(tmp_path, monkeypatch, capsys):
    import shutil
    from pathlib import Path

    from cmlib.report.metrics import ENV_RUN_DIR, locate_artefacts

    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "notebooks", tmp_path / "notebooks")
    monkeypatch.chdir(tmp_path)  # a project with notebooks and no reports or data/artefacts
    monkeypatch.delenv(ENV_RUN_DIR, raising=False)
    assert locate_artefacts("scorecard.json") == {"scorecard.json": None}
    assert "run 03_scoring_model first" in capsys.readouterr().out
    (tmp_path / "data" / "artefacts").mkdir(parents=True)
    (tmp_path / "data" / "artefacts" / "scorecard.json").write_text("{}")
    assert locate_artefacts("scorecard.json")["scorecard.json"].name == "scorecard.json"
    assert "scorecard.json: from data/artefacts" in capsys.readouterr().out


def test_an_artefact_comes_from_the_newest_good_run_that_has_it(tmp_path, monkeypatch):
    """A run of one notebook becomes `latest` without the others' artefacts: they come from the newest good
    run that holds them, never from a failed one."""
    import json
    from pathlib import Path

    from cmlib.report.metrics import ENV_RUN_DIR, find_artefact

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "src" / "cmlib").mkdir(parents=True)
    reports = tmp_path / "reports"

    def run(name, status, artefacts):
        d = reports / name
        (d / "artefacts").mkdir(parents=True)
        (d / "manifest.json").write_text(json.dumps({"status": status}))
        for a in artefacts:
            (d / "artefacts" / a).write_text("{}")
        return d

    run("20260101T000000", "ok", ["decision.json", "account_value.json"])
    run("20260102T000000", "failed", ["decision.json"])
    only05 = run("20260103T000000", "ok", [])
    (reports / "latest").symlink_to(only05.name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_RUN_DIR, raising=False)
    got = find_artefact("decision.json")
    assert got == Path(reports / "20260101T000000" / "artefacts" / "decision.json")
    assert find_artefact("scorecard.json") is None
    monkeypatch.setenv(ENV_RUN_DIR, str(reports / ".staging-x"))
    assert find_artefact("account_value.json").parent.parent.name == "20260101T000000"


def test_table_presentation_rules():
    """One set of rules for every report: business labels, differences of rates in pp, p-values never
    '0.000', whole-number floats (scores, months) without decimals, an infinite median as a dash, and no row
    numbers even after filtering."""
    import numpy as np

    df = pd.DataFrame(
        {
            "metric": ["a", "b"],
            "abs_lift": [0.004, -0.01],
            "p_value": [1e-9, 0.2],
            "score": [548.0, 600.0],
            "median": [np.inf, 30.0],
            "x": [0.12345, 1.5],
        },
        index=[3, 9],
    )
    html = table(df, percent=["abs_lift"]).to_html()
    cells = [c.rsplit(" >", 1)[1] for c in html.split("</td>")[:-1]]
    assert cells == [
        "a",
        "+0.4 pp",
        "&lt; 0.001",
        "548",
        "–",
        "0.123",
        "b",
        "-1.0 pp",
        "0.200",
        "600",
        "30",
        "1.500",
    ]
    assert ">difference</th>" in html and ">p-value</th>" in html and ">3</th>" not in html
    assert ">abs_lift</th>" in table(df, labels=False).to_html()


def test_money_in_prose_has_the_reports_currency_and_a_scale():
    from cmlib.errors import ParameterError
    from cmlib.report import format as fmt

    before = dict(fmt._currency)
    try:
        assert set_currency("eur") == "Amounts are in EUR."
        assert (
            money(71.23e9) == "EUR 71.2bn" and money(3.41e6) == "EUR 3.4M" and money(-3.41e6) == "EUR -3.4M"
        )
        assert money(24_972.4) == "EUR 24,972" and money(8) == "EUR 8.00" and money(8, 0) == "EUR 8"
        assert money(float("nan")) == "–"
        with pytest.raises(ParameterError, match="currency"):
            set_currency("<script>")
    finally:
        fmt._currency.update(before)


def test_figures_have_no_offset_notation_large_values_get_a_scale_suffix():
    """#15: a '1e10' offset at the top of an axis is missed by readers; ticks read 70bn, 72bn instead."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    set_theme()
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [7.0e10, 7.1e10, 7.25e10])
    ax.plot([0, 1, 2], [7.0e10, 7.1e10, 7.25e10])
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all(lab.endswith("bn") for lab in labels), labels
    assert ax.yaxis.get_offset_text().get_text() == ""
    fig2, ax2 = plt.subplots()
    ax2.plot([0, 1], [0.0, 21_000.0])
    fig2.canvas.draw()
    thousands = [t.get_text() for t in ax2.get_yticklabels() if t.get_text()]
    assert "20k" in thousands and "5k" in thousands, thousands  # 20,000 is 20k, not 2k
    plt.close(fig2)
    small = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "0.00" in small and not any(
        lab[-1].isalpha() for lab in small
    )  # small values as matplotlib prints
    plt.close(fig)


def test_a_long_table_shows_its_top_rows_and_is_written_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("CMLIB_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("CMLIB_NOTEBOOK", "nb")
    df = pd.DataFrame({"segment": [f"s{i}" for i in range(45)], "n": range(45)})
    html = table(df, counts=["n"], caption="Segments", max_rows=10).to_html()
    assert "Segments — top 10 of 45 rows; the whole table: artefacts/tables/nb-" in html
    assert "s9<" in html and "s10<" not in html
    (csv,) = (tmp_path / "artefacts" / "tables").glob("nb-*.csv")
    assert len(pd.read_csv(csv)) == 45
    assert "top" not in table(df.head(5)).to_html()


def test_table_precision_follows_the_numbers():
    """A small coefficient and its interval keep three significant digits (never '0.004 to 0.004'); a large
    statistic (an AIC) is not shown to three decimals."""
    df = pd.DataFrame(
        {
            "coef": [0.00412, 0.00395],
            "ci_low": [0.00401, 0.00380],
            "ci_high": [0.00423, 0.00410],
            "aic": [12345.678, 12001.25],
        }
    )
    html = table(df).to_html()
    assert "0.00412" in html and "0.00401" in html and "0.00423" in html
    assert "12,345.7" in html and "12,345.678" not in html


def test_row_labels_and_axis_names_read_as_words():
    m = pd.DataFrame(
        [[0.58, 0.40]], index=pd.Index(["dpd30"], name="from_state"), columns=["current", "dpd60"]
    )
    m.columns.name = "to_state"
    html = table(m, percent=["current", "dpd60"]).to_html()
    assert ">from<" in html and ">to<" in html and "30 DPD" in html and "60 DPD" in html
    assert "from_state" not in html and "dpd30" not in html
    seg = pd.DataFrame({"n": [1]}, index=pd.Index(["young_professional"], name="segment"))
    assert "young_professional" in table(seg).to_html()  # a segment keeps the spelling the prose uses
