"""The run index as the weekly dashboard (``reports/index.html``) and each run's own page
(``reports/<run>/index.html``, which ``reports/latest/`` opens).

The dashboard leads with the latest good run: the data's as-of date, its alerts (the params file's business
rules), each report's summary as published, and the business KPIs of :data:`KPIS` — each with its change since
the previous data period (an earlier as-of date of a good run with the same params file) and a sparkline. The run history follows; every recorded metric, engineering checks included, is
folded away below. Pages are plain HTML with inline CSS and SVG: they open offline and fit 1,280 px.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from html import escape
from pathlib import Path

from cmlib.report.format import amount, count, num, pct

#: the dashboard's business KPIs, per notebook: (notebook, metric, label that names the denominator)
KPIS: list[tuple[str, str, str]] = [
    ("06_campaign_monitoring", "bookings_week", "Bookings this week"),
    ("06_campaign_monitoring", "bookings_vs_plan", "Bookings this week against plan"),
    ("06_campaign_monitoring", "cost_per_booking_week", "Cost per booked account this week"),
    ("06_campaign_monitoring", "forecast_bookings_error", "Last week's bookings forecast against actual"),
    ("06_campaign_monitoring", "approval_rate_window", "Approval rate (of applications, 26 weeks)"),
    (
        "06_campaign_monitoring",
        "early_dpd30_rate_window",
        "Early delinquency (30+ DPD in 3 months, of bookings)",
    ),
    ("03_scoring_model", "approval_rate", "Approval at the new cutoff (of scored applicants)"),
    (
        "03_scoring_model",
        "holdout_observed_to_predicted_bad_rate",
        "Observed ÷ predicted bad rate (out of time)",
    ),
    ("04_survival_churn_delinquency", "account_value_mean", "Value per booked account (36 months)"),
    ("05_cost_optimization", "campaign_roi", "Next wave's return on spend"),
    ("05_cost_optimization", "allocation_net_change_per_week", "Weekly gain from the proposed budget split"),
    ("01_market_analysis", "yoy_growth", "Market growth, year on year"),
]

_LABELS = {(nb, m): label for nb, m, label in KPIS}


#: KPIs that are changes against a reference: shown with their sign
_SIGNED = {"bookings_vs_plan", "forecast_bookings_error", "yoy_growth"}


def _fmt(value: float, unit: str, name: str = "") -> str:
    if unit == "fraction":
        return pct(value, 2, signed=name in _SIGNED)
    if unit == "money":  # per-contact amounts keep their cents; amounts from 100 up to the unit
        return amount(value, 2 if abs(value) < 100 else 0)
    if unit == "count":
        return count(value)
    return num(value, 3)


def _fmt_delta(delta: float, unit: str) -> str:
    if unit == "fraction":
        return f"{delta * 100:+.2f} pp"
    if unit == "money":
        return f"{delta:+,.2f}" if abs(delta) < 100 else f"{delta:+,.0f}"
    if unit == "count":
        return f"{delta:+,.0f}"
    return f"{delta:+.3f}"


def load_runs(out_dir: Path) -> list[dict]:
    """Published runs (folders with a manifest), oldest first, each with its metrics."""
    runs = []
    for d in sorted(out_dir.iterdir()):
        if d.is_symlink() or not d.is_dir() or d.name.startswith("."):
            continue
        mf = d / "manifest.json"
        if not mf.exists():
            continue
        m = json.loads(mf.read_text())
        met = d / "metrics.json"
        m["metrics"] = json.loads(met.read_text()) if met.exists() else {}
        m["folder"] = d.name
        runs.append(m)
    runs.sort(key=lambda r: (r.get("started", ""), r["folder"]))
    return runs


def metric_label(key: str, metric: dict | None = None) -> str:
    """A metric's label on the dashboard: the KPI's, else its description, else ``notebook.name``."""
    nb, _, name = key.partition(".")
    return _LABELS.get((nb, name)) or (metric or {}).get("description") or key


def evaluate_alerts(run: dict) -> list[str]:
    """Alert texts for a run: each ``{metric: NB.name, above|below: X, says: ...}`` rule its metrics break."""
    out = []
    for rule in run.get("alerts") or []:
        nb, _, name = rule["metric"].partition(".")
        m = run["metrics"].get(nb, {}).get(name)
        if m is None:
            continue
        v = m["value"]
        for side in ("above", "below"):
            if side in rule and (v > rule[side] if side == "above" else v < rule[side]):
                rule_text = f"{rule['metric']} = {_fmt(v, m['unit'])}, {side} {_fmt(rule[side], m['unit'])}"
                out.append(f"{rule['says']} ({rule_text})" if rule.get("says") else rule_text)
    return out


def as_of(run: dict) -> str | None:
    """The data's as-of date of a run: the latest ``as_of`` its notebooks recorded with their inputs."""
    dates = [
        t["as_of"]
        for tables in (run.get("data_fingerprint") or {}).values()
        for t in tables
        if isinstance(t, dict) and t.get("as_of")
    ]
    return max(dates) if dates else None


def sparkline(values: list[float], width: int = 120, height: int = 26) -> str:
    """An inline SVG line over ``values`` (oldest first), the last point marked; '' for fewer than two."""
    if len(values) < 2:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    step = (width - 6) / (len(values) - 1)
    pts = [(3 + i * step, height - 3 - (v - lo) / span * (height - 6)) for i, v in enumerate(values)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    x, y = pts[-1]
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="trend over {len(values)} runs"><polyline fill="none" stroke="#0072b2" stroke-width="1.5" '
        f'points="{line}"/><circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#0072b2"/></svg>'
    )


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1180px;
padding:0 1rem;color:#222} h1{font-size:1.5rem} h2{font-size:1.15rem;margin-top:1.8rem}
table{border-collapse:collapse;margin:.5rem 0 1.2rem;font-size:.9rem;max-width:100%}
th,td{border-bottom:1px solid #ddd;padding:.3rem .7rem;text-align:left;vertical-align:top}
td.n{text-align:right;white-space:nowrap} th{background:#f4f4f4}
.ok{color:#1a7f37;font-weight:600} .failed,.skipped{color:#c62828;font-weight:600}
.alerts li{color:#c62828} .calm{color:#1a7f37} .up{color:#1a7f37} .down{color:#c62828} .muted{color:#666}
.banner{background:#fdecea;border-left:4px solid #c62828;padding:.5rem 1rem}
details{margin:1rem 0} summary{cursor:pointer;font-weight:600} code{overflow-wrap:anywhere}
h3{font-size:1rem;margin:1.2rem 0 .3rem} ul.summary li{margin:.2rem 0;line-height:1.4}
"""


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_CSS}</style></head><body>{body}</body></html>"
    )


def _run_link(run: dict, prefix: str = "") -> str:
    """The run's own page, or its manifest for runs published before run pages existed."""
    page = "index.html" if run.get("has_page", True) else "manifest.json"
    return f"{prefix}{escape(run['folder'])}/{page}"


def _changes(runs: list[dict]) -> dict[tuple[str, str], tuple[float | None, list[float]]]:
    """Per (notebook, metric): the change of the newest value since the previous data period that recorded
    it, and the values over periods (oldest first). A period is a run's data as-of date: a re-run on the same
    week's data replaces that week's point instead of reading as a change of +0 (runs without an as-of date
    are a period each)."""
    series: dict[tuple[str, str], dict[str, float]] = {}
    for i, r in enumerate(runs):
        period = as_of(r) or f"run {i:06d}"
        for nb, d in r["metrics"].items():
            for name, m in d.items():
                series.setdefault((nb, name), {})[period] = m["value"]
    out = {}
    for k, by_period in series.items():
        v = list(by_period.values())  # periods in the order of their first run; a re-run updates its value
        out[k] = (v[-1] - v[-2] if len(v) > 1 else None, v)
    return out


def _delta_html(delta: float | None, m: dict) -> str:
    if delta is None:
        return '<span class="muted">no earlier data</span>'
    better = m.get("higher_is_better")
    cls = "" if better is None or delta == 0 else ("up" if (delta > 0) == better else "down")
    return f'<span class="{cls}">{escape(_fmt_delta(delta, m["unit"]))}</span>'


def _comparable(runs: list[dict], run: dict) -> list[dict]:
    """The good runs ``run``'s figures are compared with, oldest first, ``run`` included if it is among
    ``runs``: the same params file (a smoke run is not last week), and, once runs record their data's as-of
    date, only runs that do (a run without one cannot be placed in time)."""
    out = [
        r
        for r in runs
        if r.get("status") == "ok"
        and r.get("params_file") == run.get("params_file")
        and r.get("started", "") <= run.get("started", "")
    ]
    return [r for r in out if as_of(r)] if as_of(run) else out


def _kpi_rows(run: dict, history: list[dict], spark: bool, prefix: str) -> str:
    """The KPI table; ``prefix`` is the path from the page to the run's folder (links to the reports)."""
    changes = _changes(history)
    rows = []
    for nb, name, label in KPIS:
        m = run["metrics"].get(nb, {}).get(name)
        if m is None:
            continue
        delta, values = changes.get((nb, name), (None, [m["value"]]))
        cur = m.get("currency") or (
            ((run.get("parameters") or {}).get(nb) or {}).get("currency") if m["unit"] == "money" else None
        )
        cells = [
            f"<td>{escape(label)}</td>",
            f'<td class="n">{escape((cur + " ") if cur else "")}{escape(_fmt(m["value"], m["unit"], name))}</td>',
            f'<td class="n">{_delta_html(delta, m)}</td>',
        ]
        if spark:
            cells.append(f"<td>{sparkline(values)}</td>")
        cells.append(f'<td><a href="{prefix}{escape(nb)}.html">{escape(nb)}</a></td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        return '<p class="muted">None of the dashboard\'s KPIs was recorded by this run.</p>'
    head = "<tr><th>KPI</th><th>value</th><th>change since the previous period</th>"
    head += ("<th>trend over runs</th>" if spark else "") + "<th>report</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _markdown_line(text: str) -> str:
    """One summary line (markdown, as a notebook displayed it) as safe HTML: entities undone, everything
    escaped again, then only **bold** and *italic* turned back into tags."""
    import re
    from html import unescape

    safe = escape(unescape(text))
    safe = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", safe)
    return re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", safe)


def _summaries_html(run: dict, prefix: str) -> str:
    """Each report's summary as published, so the dashboard can be acted on alone."""
    out = []
    for n in run.get("notebooks", []):
        lines = (run.get("summaries") or {}).get(n["name"])
        if not lines:
            continue
        items = "".join(f"<li>{_markdown_line(line)}</li>" for line in lines)
        out.append(
            f'<h3><a href="{prefix}{escape(n["name"])}.html">{escape(n["name"])}</a></h3><ul class="summary">{items}</ul>'
        )
    return "".join(out)


def _alerts_html(run: dict) -> str:
    alerts = evaluate_alerts(run) + [
        f"fallback in {nb}: {line}"
        for nb, lines in sorted((run.get("fallbacks") or {}).items())
        for line in lines
    ]
    if not alerts:
        return '<p class="calm">No alerts: every rule of the params file holds.</p>'
    return '<ul class="alerts">' + "".join(f"<li>{escape(a)}</li>" for a in alerts) + "</ul>"


def _all_metrics(run: dict) -> str:
    rows = []
    for nb, d in sorted(run["metrics"].items()):
        for name, m in sorted(d.items()):
            kpi = "KPI" if (nb, name) in _LABELS else ""
            rows.append(
                f"<tr><td>{escape(nb)}</td><td>{escape(name)}</td>"
                f'<td class="n">{escape(_fmt(m["value"], m["unit"]))}</td><td>{kpi}</td></tr>'
            )
    if not rows:
        return ""
    return (
        "<details><summary>Every recorded metric of this run (engineering and truth checks included)</summary>"
        "<table><tr><th>notebook</th><th>metric</th><th>value</th><th></th></tr>"
        + "".join(rows)
        + "</table></details>"
    )


def _notebook_list(run: dict, prefix: str) -> str:
    items = []
    for n in run.get("notebooks", []):
        waited = n.get("waited_seconds") or 0
        extra = f", waited {waited:.0f} s" if waited >= 1 else ""
        items.append(
            f'<a href="{prefix}{escape(n["name"])}.html">{escape(n["name"])}</a> '
            f'<span class="{escape(n["status"])}">{escape(n["status"])}</span> '
            f'<span class="muted">{n.get("seconds", 0):.0f} s{extra}</span>'
        )
    return "<br>".join(items) or "–"


def render_index(runs: list[dict]) -> str:
    """The dashboard: the latest good run's as-of date, alerts and KPIs, then every run, newest first."""
    if not runs:
        return _page(
            "Credit Marketing Lab — dashboard",
            "<h1>Credit Marketing Lab — weekly dashboard</h1><p>No runs yet: <code>make reports</code>.</p>",
        )
    good = [r for r in runs if r.get("status") == "ok"]
    newest = runs[-1]
    parts = ["<h1>Credit Marketing Lab — weekly dashboard</h1>"]
    if newest.get("status") != "ok":
        parts.append(
            f'<p class="banner">The newest run, <a href="{_run_link(newest)}">{escape(newest["folder"])}</a>, '
            f"{escape(newest.get('status', 'failed'))}; the figures below are from the last good run.</p>"
        )
    if good:
        run = good[-1]
        history = _comparable(runs, run)
        date = as_of(run)
        age = ""
        if date and run.get("started"):
            days = (dt.date.fromisoformat(str(run["started"])[:10]) - dt.date.fromisoformat(date)).days
            age = f" ({days:,} days before the run)" if days > 7 else ""
        parts.append(
            f'<p>Latest good run <a href="{_run_link(run)}">{escape(run["folder"])}</a> '
            f"(finished {escape(str(run.get('finished', '–')))}, "
            f"params {escape(run.get('params_file') or 'defaults')}); data as of "
            f"<strong>{escape(date or 'not recorded')}</strong>{escape(age)}.</p>"
        )
        parts.append("<h2>Alerts</h2>" + _alerts_html(run))
        parts.append(
            "<h2>Key figures</h2>"
            '<p class="muted">Change is against the previous data period (an earlier as-of date) of a good run with '
            "the same params file; green is better, red worse. Each figure's definition is in its report.</p>"
            + _kpi_rows(run, history, True, f"{escape(run['folder'])}/")
        )
        parts.append("<h2>Reports</h2><p>" + _notebook_list(run, f"{escape(run['folder'])}/") + "</p>")
        summaries = _summaries_html(run, f"{escape(run['folder'])}/")
        if summaries:
            parts.append("<h2>What each report says</h2>" + summaries)
        parts.append(_all_metrics(run))
    rows = []
    shown = 20  # the newest runs; older ones are folded away
    for k, r in enumerate(reversed(runs)):
        if k == shown:
            rows.append(f"</table><details><summary>{len(runs) - shown} older runs</summary><table>")
        n_alerts = len(evaluate_alerts(r)) if r.get("status") == "ok" else None
        rows.append(
            f'<tr><td><a href="{_run_link(r)}">{escape(r["folder"])}</a></td>'
            f'<td class="{escape(r["status"])}">{escape(r["status"])}</td>'
            f"<td>{escape(as_of(r) or '–')}</td>"
            f'<td class="n">{"–" if n_alerts is None else n_alerts}</td>'
            f"<td>{escape(r.get('params_file') or 'defaults')}</td></tr>"
        )
    parts.append(
        "<h2>Runs</h2><table><tr><th>run</th><th>status</th><th>data as of</th><th>alerts</th><th>params</th></tr>"
        + "".join(rows)
        + ("</table></details>" if len(runs) > shown else "</table>")
        + '<p class="muted"><a href="latest/">latest good run</a></p>'
    )
    return _page("Credit Marketing Lab — dashboard", "\n".join(parts))


def render_run_page(run: dict, previous: list[dict] | None = None) -> str:
    """A run's own page: status, data as-of date, notebooks with their times and errors, alerts, KPIs,
    fallbacks, inputs and every metric; parameters and package versions folded away."""
    prefix = ""
    parts = [
        '<p><a href="../index.html">← dashboard</a></p>',
        f'<h1>Run {escape(run["folder"])}: <span class="{escape(run["status"])}">{escape(run["status"])}</span></h1>',
        f"<p>Started {escape(str(run.get('started', '–')))}, finished {escape(str(run.get('finished', '–')))}; "
        f"params {escape(run.get('params_file') or 'defaults')}; data as of "
        f"<strong>{escape(as_of(run) or 'not recorded')}</strong>; code "
        f"<code>{escape(str((run.get('git') or {}).get('commit') or 'unknown')[:12])}</code>"
        f"{' (uncommitted changes)' if (run.get('git') or {}).get('dirty') else ''}.</p>",
    ]
    nb_rows = []
    for n in run.get("notebooks", []):
        err = escape(n.get("error") or "")
        peak = n.get("peak_rss_mb")
        nb_rows.append(
            f'<tr><td><a href="{prefix}{escape(n["name"])}.html">{escape(n["name"])}</a></td>'
            f'<td class="{escape(n["status"])}">{escape(n["status"])}</td>'
            f'<td class="n">{n.get("seconds", 0):.1f} s</td>'
            f'<td class="n">{"–" if not peak else f"{peak:,.0f} MB"}</td><td>{err or "–"}</td></tr>'
        )
    parts.append(
        "<h2>Notebooks</h2><table><tr><th>report</th><th>status</th><th>time</th><th>peak memory</th>"
        "<th>error</th></tr>" + "".join(nb_rows) + "</table>"
    )
    parts.append("<h2>Alerts</h2>" + _alerts_html(run))
    history = [*_comparable(previous or [], run), run]
    parts.append("<h2>Key figures</h2>" + _kpi_rows(run, history, False, ""))
    inputs = [
        f'<tr><td>{escape(nb)}</td><td>{escape(str(t.get("table")))}</td><td class="n">{count(t.get("rows", 0))}</td>'
        f"<td>{escape(t.get('as_of') or '–')}</td><td><code>{escape(str(t.get('fingerprint')))}</code></td></tr>"
        for nb, tables in sorted((run.get("data_fingerprint") or {}).items())
        for t in tables
        if isinstance(t, dict)
    ]
    if inputs:
        parts.append(
            "<h2>Data read</h2><table><tr><th>notebook</th><th>table</th><th>rows</th><th>as of</th>"
            "<th>fingerprint</th></tr>" + "".join(inputs) + "</table>"
        )
    parts.append(_all_metrics(run))
    params = json.dumps(run.get("parameters") or {}, indent=1, sort_keys=True, default=str)
    pkgs = ", ".join(f"{k} {v}" for k, v in sorted((run.get("packages") or {}).items()))
    parts.append(
        f"<details><summary>Parameters</summary><pre>{escape(params)}</pre></details>"
        f"<details><summary>Package versions</summary><p>{escape(pkgs)}</p></details>"
        '<p class="muted"><a href="manifest.json">manifest.json</a> · <a href="metrics.json">metrics.json</a></p>'
    )
    return _page(f"Run {run['folder']}", "\n".join(parts))


def _write_atomic(path: Path, text: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".html", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def write_run_page(run_folder: Path, out_dir: Path | None = None) -> Path:
    """Write ``<run_folder>/index.html`` from its manifest and metrics (earlier runs in ``out_dir`` give the
    KPIs' changes)."""
    run_folder = Path(run_folder)
    run = json.loads((run_folder / "manifest.json").read_text())
    met = run_folder / "metrics.json"
    run["metrics"] = json.loads(met.read_text()) if met.exists() else {}
    run["folder"] = run.get("run_id") or run_folder.name
    previous = []
    if out_dir is not None and Path(out_dir).is_dir():
        previous = [r for r in load_runs(Path(out_dir)) if r["folder"] != run["folder"]]
    return _write_atomic(run_folder / "index.html", render_run_page(run, previous))


def write_index(out_dir: Path) -> Path:
    """Rebuild ``index.html`` atomically from the published runs."""
    runs = load_runs(out_dir)
    for r in runs:
        r["has_page"] = (out_dir / r["folder"] / "index.html").exists()
    return _write_atomic(out_dir / "index.html", render_index(runs))
