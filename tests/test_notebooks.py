"""Every notebook in notebooks/: hygiene (committed stripped, parameterised, summary present) and a smoke
run through the real runner with params/smoke.yaml. New notebooks are covered automatically."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cmlib.report.params import read_spec

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ids = [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_hygiene(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged parameters"
    for c in code:
        assert c.get("outputs") == [], f"outputs not stripped in cell {c.get('id')}"
        assert c.get("execution_count") is None, f"execution count left in cell {c.get('id')}"
        assert "injected-parameters" not in c.metadata.get("tags", []), "papermill's injected cell committed"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert any("summary" in c.metadata.get("tags", []) for c in nb.cells), "no summary-tagged cell"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "title first"
    spec = read_spec(path)
    assert spec.parameters, "parameters cell declares nothing"
    for p in spec.parameters.values():
        assert p.help, f"parameter {p.name} has no one-line comment"
    # md()/bullets() only display as a cell's last top-level expression: anywhere else (inside an if, or
    # before other statements) the interpretation would silently vanish from the report
    for c in code:
        if "parameters" in c.metadata.get("tags", []):
            continue
        tree = ast.parse(c.source)
        last = tree.body[-1] if tree.body else None
        for node in ast.walk(tree):
            if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and node is not last
                    and getattr(node.value.func, "id", None) in ("md", "bullets")):
                raise AssertionError(f"cell {c.get('id')} line {node.lineno}: wrap md()/bullets() in display()")
    # thin notebooks: no long function bodies defined inline (DESIGN.md §5)
    for c in code:
        for block in c.source.split("\ndef ")[1:]:
            body = [ln for ln in block.splitlines()[1:] if ln.startswith("    ")]
            assert len(body) <= 5, f"a function of {len(body)} lines belongs in cmlib"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_smoke_run(path, tmp_path):
    r = subprocess.run([sys.executable, "-m", "cmlib", "run", str(path), "-f", str(ROOT / "params" / "smoke.yaml"),
                        "--out", str(tmp_path), "--notebooks-dir", str(ROOT / "notebooks")],
                       capture_output=True, text=True, cwd=ROOT, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run = (tmp_path / "latest").resolve()
    man = json.loads((run / "manifest.json").read_text())
    assert man["status"] == "ok"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics.get(path.stem), "the notebook recorded no headline metric"
    html = (run / f"{path.stem}.html").read_text()
    assert "Traceback" not in html
