"""The analyst's loop: every notebook runs top to bottom in a plain Jupyter kernel, as Run All in JupyterLab
does — not through ``cmlib run`` and without the runner's environment — checked with nbval.

Each notebook gets params/smoke.yaml injected by papermill into a temporary copy (the runner's own parameter
validation types the values); nbval then executes the copies in one folder, producers before consumers, so
the cost-optimisation notebook finds the scorecard and lifetime-value artefacts the way an analyst's does
(``data/artefacts`` of the folder it runs in). ``--nbval-lax``: a cell fails on an error, not on output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from graphlib import TopologicalSorter
from pathlib import Path

import nbformat
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from cmlib.report.params import load_params_file, read_spec, validate_parameters
from cmlib.report.runner import dependency_order

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def nbval(files: list[Path], cwd: Path) -> subprocess.CompletedProcess:
    """pytest --nbval-lax on ``files`` in a fresh interpreter, without the runner's CMLIB_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMLIB_")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-p",
            "no:cacheprovider",
            "-q",
            "--nbval-cell-timeout",
            "900",
            "--durations",
            "0",
            *map(str, files),
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )


def failures(out: str) -> list[str]:
    """The failing items nbval names: ``<notebook>.ipynb::Cell <n>``."""
    return re.findall(r"^FAILED (\S+::Cell \d+)", out, flags=re.M)


@pytest.mark.slow
def test_every_notebook_runs_in_a_plain_kernel(tmp_path):
    specs = [read_spec(p) for p in NOTEBOOKS]
    params = validate_parameters(specs, load_params_file(ROOT / "params" / "smoke.yaml"), specs)
    order = list(TopologicalSorter(dependency_order(specs)).static_order())
    by_name = {s.name: s for s in specs}
    files = []
    for i, name in enumerate(order):  # nbval runs files in the order given: producers first
        nb = parameterize_notebook(load_notebook_node(str(by_name[name].path)), params[name])
        files.append(tmp_path / f"{i}_{name}.ipynb")
        nbformat.write(nb, files[-1])
    r = nbval(files, tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"cells failing in a plain kernel: {failures(out)}\n{out[-6000:]}"
    assert re.search(r"\b\d+ passed", out) and " failed" not in out
    assert {p.name for p in (tmp_path / "data" / "artefacts").iterdir()} >= {"scorecard.json", "clv.json"}


@pytest.mark.slow
def test_nbval_fails_and_names_the_cell(tmp_path):
    fixture = ROOT / "tests" / "fixtures" / "notebooks" / "fail.ipynb"
    nb = nbformat.read(fixture, as_version=4)
    nbformat.write(nb, tmp_path / "fail.ipynb")
    r = nbval([tmp_path / "fail.ipynb"], tmp_path)
    assert r.returncode != 0
    assert failures(r.stdout) == ["fail.ipynb::Cell 2"], r.stdout[-3000:]
