"""``reports/index.html``: every run with its status, headline metrics, change since the previous run
that recorded the same metric, and alerts where a metric crossed a threshold of the run's params file."""

from __future__ import annotations

import json
import os
import tempfile
from html import escape
from pathlib import Path

from cmlib.report.format import count, money, num, pct


def _fmt(value: float, unit: str) -> str:
    if unit == "fraction":
        return pct(value, 2)
    if unit == "money":  # per-contact amounts keep their cents; amounts from 100 up to the unit
        return money(value, 2 if abs(value) < 100 else 0)
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


def evaluate_alerts(run: dict) -> list[str]:
    """Alert texts for a run: each ``{metric: NB.name, above|below: X}`` rule its metrics break."""
    out = []
    for rule in run.get("alerts") or []:
        nb, _, name = rule["metric"].partition(".")
        m = run["metrics"].get(nb, {}).get(name)
        if m is None:
            continue
        v = m["value"]
        if "above" in rule and v > rule["above"]:
            out.append(f"{rule['metric']} = {_fmt(v, m['unit'])} above {_fmt(rule['above'], m['unit'])}")
        if "below" in rule and v < rule["below"]:
            out.append(f"{rule['metric']} = {_fmt(v, m['unit'])} below {_fmt(rule['below'], m['unit'])}")
    return out


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222}
h1{font-size:1.5rem} table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .7rem;text-align:left;vertical-align:top}
th{background:#f4f4f4} .ok{color:#1a7f37;font-weight:600} .failed,.skipped{color:#c62828;font-weight:600}
.alert{color:#c62828} .up{color:#1a7f37} .down{color:#c62828} .muted{color:#777}
"""


def render_index(runs: list[dict]) -> str:
    rows = []
    previous: dict[tuple[str, str], float] = {}
    rendered = []
    for r in runs:  # oldest first, so "previous" is the last earlier value of the same metric
        nbs = []
        for n in r.get("notebooks", []):
            link = f"{escape(r['folder'])}/{escape(n['name'])}.html"
            nbs.append(
                f'<a href="{link}">{escape(n["name"])}</a> <span class="{escape(n["status"])}">'
                f'{escape(n["status"])}</span> <span class="muted">{n.get("seconds", 0):.0f} s</span>'
            )
        mets = []
        for nb, d in sorted(r["metrics"].items()):
            for name, m in sorted(d.items()):
                key = (nb, name)
                delta = ""
                if key in previous:
                    diff = m["value"] - previous[key]
                    better = m.get("higher_is_better")
                    cls = "" if better is None or diff == 0 else ("up" if (diff > 0) == better else "down")
                    delta = f' <span class="{cls}">({escape(_fmt_delta(diff, m["unit"]))})</span>'
                previous[key] = m["value"]
                mets.append(f"{escape(nb)}.{escape(name)} = {escape(_fmt(m['value'], m['unit']))}{delta}")
        alerts = evaluate_alerts(r) + [
            f"fallback in {nb}: {line}"
            for nb, lines in sorted((r.get("fallbacks") or {}).items())
            for line in lines
        ]
        rendered.append(
            f'<tr><td><a href="{escape(r["folder"])}/manifest.json">{escape(r["folder"])}</a><br>'
            f'<span class="muted">{escape(r.get("params_file") or "defaults")}</span></td>'
            f'<td class="{escape(r["status"])}">{escape(r["status"])}</td>'
            f"<td>{'<br>'.join(nbs)}</td><td>{'<br>'.join(mets) or '–'}</td>"
            f'<td class="alert">{"<br>".join(escape(a) for a in alerts) or "–"}</td></tr>'
        )
    rows = list(reversed(rendered))  # newest first
    body = "\n".join(rows) or '<tr><td colspan="5">No runs yet: <code>make reports</code>.</td></tr>'
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Credit Marketing Lab — reports'
        f"</title><style>{_CSS}</style></head><body><h1>Credit Marketing Lab — report runs</h1>"
        f'<p class="muted">Newest first. Change is against the previous run that recorded the same metric; '
        f'green is better, red worse. <a href="latest/">latest good run</a></p>'
        f"<table><tr><th>run</th><th>status</th><th>notebooks</th><th>headline metrics (change)</th>"
        f"<th>alerts</th></tr>{body}</table></body></html>"
    )


def write_index(out_dir: Path) -> Path:
    """Rebuild ``index.html`` atomically from the published runs."""
    html = render_index(load_runs(out_dir))
    fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".html", dir=out_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(html)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out_dir / "index.html")
    return out_dir / "index.html"
