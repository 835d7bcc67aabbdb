"""Parameter parsing and validation (cmlib/report/params.py): typed like the notebook's defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmlib.errors import ParameterError
from cmlib.report.params import (
    Parameter,
    RunParameters,
    add_cli_params,
    coerce,
    load_params_file,
    read_spec,
    validate_parameters,
)

from .conftest import FIXTURE_NOTEBOOKS


def c(default, value, text=True):
    return coerce(Parameter("x", default), value, from_text=text, where="nb")


@pytest.mark.parametrize("text,expected", [("true", True), ("False", False), ("yes", True), ("0", False)])
def test_bool_from_text(text, expected):
    assert c(False, text) is expected


def test_text_values_take_the_default_type():
    assert c("abc", "007") == "007"  # a string default keeps leading zeros
    assert c(1, "007") == 7
    assert c(0.5, "2") == 2.0 and isinstance(c(0.5, "2"), float)
    assert c(["a"], "[b, c]") == ["b", "c"]
    assert c({"a": 1}, "{b: 2}") == {"b": 2}
    assert c("2024-01-01", "2025-02-03") == "2025-02-03"
    assert c(None, "3") == 3


@pytest.mark.parametrize(
    "default,value",
    [(False, "maybe"), (1, "abc"), (1.0, "x"), ("2024-01-01", "2024-13-01"), (["a"], "{b: 1}")],
)
def test_bad_text_values_name_parameter_and_type(default, value):
    with pytest.raises(ParameterError) as e:
        c(default, value)
    msg = str(e.value)
    assert "'x'" in msg and repr(value) in msg and "nb" in msg


def test_typed_values_from_yaml():
    assert c(1.0, 3, text=False) == 3.0
    with pytest.raises(ParameterError, match="expected int"):
        c(1, True, text=False)  # a bool is not an int
    with pytest.raises(ParameterError, match="expected str"):
        c("a", 7, text=False)


def test_read_spec_reads_defaults_and_comments():
    spec = read_spec(FIXTURE_NOTEBOOKS / "ok.ipynb")
    assert spec.parameters["n"].default == 10 and spec.parameters["n"].help == "how many"
    assert spec.parameters["start"].kind == "date"
    assert read_spec(FIXTURE_NOTEBOOKS / "producer.ipynb").produces == ["thing"]


def test_validate_unknown_and_per_notebook():
    ok = read_spec(FIXTURE_NOTEBOOKS / "ok.ipynb")
    fail = read_spec(FIXTURE_NOTEBOOKS / "fail.ipynb")
    rp = add_cli_params(RunParameters(), [("n", "5"), ("fail.fail", "no")])
    out = validate_parameters([ok, fail], rp)
    assert out == {"ok": {"n": 5}, "fail": {"fail": False}}
    with pytest.raises(ParameterError, match="unknown"):
        validate_parameters([ok], add_cli_params(RunParameters(), [("unknown", "1")]))
    with pytest.raises(ParameterError, match="'nope'"):
        validate_parameters([ok], add_cli_params(RunParameters(), [("ok.nope", "1")]))


def test_params_file_names_of_other_notebooks_are_fine_but_typos_are_not(tmp_path):
    ok = read_spec(FIXTURE_NOTEBOOKS / "ok.ipynb")
    fail = read_spec(FIXTURE_NOTEBOOKS / "fail.ipynb")
    f = tmp_path / "p.yaml"
    f.write_text("parameters:\n  fail: false\n")
    assert validate_parameters([ok], load_params_file(f), [ok, fail]) == {"ok": {}}
    f.write_text("parameters:\n  fial: false\n")
    with pytest.raises(ParameterError, match="fial"):
        validate_parameters([ok], load_params_file(f), [ok, fail])
    f.write_text("parameters:\n  n: ten\n")
    with pytest.raises(ParameterError, match=r"'n'.*expected int.*'ten'"):
        validate_parameters([ok], load_params_file(f), [ok])
    f.write_text("paramters: {}\n")
    with pytest.raises(ParameterError, match="paramters"):
        load_params_file(f)


def test_a_bank_too_big_for_the_memory_is_refused_before_anything_is_built():
    import subprocess
    import sys
    import time

    from cmlib.report.runner import BYTES_PER_CUSTOMER, check_sizes

    gib24 = 24 * 2**30
    check_sizes([(1_000_000, 1)], memory=gib24)  # the production size fits
    limit = int(gib24 * 0.8 / BYTES_PER_CUSTOMER)
    with pytest.raises(ParameterError, match=f"at most {limit:,} customers") as err:
        check_sizes([(limit + 1, 1)], memory=gib24)
    assert "GB per notebook" in str(err.value)
    # through the CLI: exit 2 in seconds, one line, nothing simulated
    root = Path(__file__).resolve().parents[1]
    t0 = time.perf_counter()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cmlib",
            "run",
            "04_survival_churn_delinquency",
            "-p",
            "n_customers",
            "49000000",
        ],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
    )
    assert r.returncode == 2 and "customers on this machine" in r.stderr, r.stdout + r.stderr
    assert time.perf_counter() - t0 < 30 and "[data]" not in r.stdout


def test_a_bad_data_source_is_refused_before_any_kernel_and_a_relative_path_is_resolved(tmp_path):
    from cmlib.report.runner import preflight_sources

    specs = [read_spec(FIXTURE_NOTEBOOKS / "ok.ipynb")]
    spec = specs[0]
    # a notebook that takes a data source: its declared default is "synthetic"
    spec.parameters["data_source"] = Parameter("data_source", "synthetic", "where the data come from")
    preflight_sources(specs, {"ok": {"data_source": "german"}})  # a public set's name passes
    with pytest.raises(ParameterError, match="data_source.*existing path.*nowhere"):
        preflight_sources(specs, {"ok": {"data_source": str(tmp_path / "nowhere")}})
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ParameterError, match="not empty"):
        preflight_sources(specs, {"ok": {"data_source": str(tmp_path / "empty.csv")}})
    (tmp_path / "d.csv").write_text("a\n1\n")
    resolved = {"ok": {"data_source": "d.csv"}}
    import os

    here = os.getcwd()
    try:
        os.chdir(tmp_path)
        preflight_sources(specs, resolved)
    finally:
        os.chdir(here)
    assert resolved["ok"]["data_source"] == str((tmp_path / "d.csv").resolve())


def test_notebooks_that_read_a_users_table_list_the_roles_of_its_columns():
    """`cmlib notebooks` shows, for every notebook, which of your columns each section needs; 04's and 05's
    roles are the ones their ``columns`` parameters accept; 06 reads a folder of tables and its ``columns``
    maps the contacts table's."""
    from pathlib import Path

    from cmlib.cli import main
    from cmlib.optimize import SPEND_ROLES
    from cmlib.survival.sources import CUSTOMER_ROLES

    root = Path(__file__).resolve().parents[1] / "notebooks"
    spec = read_spec(root / "04_survival_churn_delinquency.ipynb")
    assert set(CUSTOMER_ROLES) <= set(spec.roles) and "columns" in spec.parameters
    assert {"month", "value_column"} <= set(read_spec(root / "01_market_analysis.ipynb").roles)
    spend = read_spec(root / "05_cost_optimization.ipynb")
    assert set(SPEND_ROLES) <= set(spend.roles) and "columns" in spend.parameters
    mon = read_spec(root / "06_campaign_monitoring.ipynb")
    assert mon.columns_table == "monitoring_contacts" and mon.columns_table in mon.roles
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["notebooks", "--notebooks-dir", str(root)]) == 0
    assert out.getvalue().count("roles of your own table's columns") == 6


@pytest.mark.parametrize(
    "text, says",
    [
        (
            "parameters:\n  - n_customers: 5\n",
            "parameter 'parameters': expected a mapping of name: value, got 'list'",
        ),
        ("notebooks:\n  - 03_scoring_model\n", "parameter 'notebooks': expected a mapping of notebook"),
        ("alerts: 5\n", "parameter 'alerts': expected a list of {metric: NB.name, above: X}, got 'int'"),
        ("parameters:\n  n: [1,\n  x: 2\n", "expected valid YAML, got 'bad.yaml: expected ',' or ']'"),
    ],
)
def test_a_malformed_params_file_is_one_line(tmp_path, text, says):
    """#16: a params file of the wrong shape is a ParameterError naming the key (exit 2), never a traceback;
    a YAML syntax error names the line in one line."""
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ParameterError) as e:
        load_params_file(f)
    assert says.replace("'", "") in str(e.value).replace("'", "").replace('"', "") and "\n" not in str(
        e.value
    )


def test_a_params_file_that_is_a_folder_or_binary_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="a YAML file, not a folder"):
        load_params_file(tmp_path)
    (tmp_path / "b.yaml").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ParameterError, match="a YAML text file"):
        load_params_file(tmp_path / "b.yaml")


def test_parameter_values_the_library_refuses_in_one_line():
    """#16 probes: text weights, a garbage start month, no funnel stages, a scorecard without features."""
    import pandas as pd

    from cmlib import experiments as ex
    from cmlib import market as mk
    from cmlib.errors import ArtefactError
    from cmlib.market.sources import market_data
    from cmlib.scorecard.model import LoadedScorecard

    with pytest.raises(ParameterError, match="weights"):
        mk.attractiveness(pd.DataFrame({"size": [1.0, 2.0]}, index=["a", "b"]), {"size": "abc"})
    with pytest.raises(ParameterError, match="start_month"):
        market_data("debitcards", start_month="garbage")
    with pytest.raises(ParameterError, match="stages"):
        ex.funnel_lifts(pd.DataFrame({"arm": ["a", "b"], "x": [1, 0]}), "arm", [], "a")
    with pytest.raises(ArtefactError, match="at least one feature"):
        LoadedScorecard({"params": {}, "features": []})


def test_a_scorecard_fitted_on_other_data_is_one_line_naming_its_source():
    """#16 probe: a 03 run on german left scorecard.json in the out folder; 05 on the bank then listed 13
    missing columns. Now one ArtefactError names the card's source and what to do."""
    import pandas as pd

    from cmlib.errors import ArtefactError
    from cmlib.scorecard.model import LoadedScorecard

    bins = [{"bin": "missing", "points": 0.0}, {"bin": "[-inf, inf)", "upper": float("inf"), "points": 10.0}]
    doc = {
        "params": {"pdo": 20, "base_score": 600, "base_odds": 50},
        "features": [
            {"feature": f, "bins": bins, "special_codes": []}
            for f in ("duration_months", "credit_amount", "age", "job")
        ],
        "metadata": {"data_source": "german"},
    }
    with pytest.raises(
        ArtefactError, match=r"fitted on german; this data lacks 4 of its 4 features \(duration_months"
    ):
        LoadedScorecard(doc).score(pd.DataFrame({"bureau_score": [700]}))
    assert (
        LoadedScorecard(doc)
        .score(pd.DataFrame({f: [1.0] for f in ("duration_months", "credit_amount", "age", "job")}))
        .item()
        == 40.0
    )
