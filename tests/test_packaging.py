"""Packaging: environment.yml mirrors pyproject.toml, the lock pins every requirement, ruff is clean."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> str:
    r = Requirement(req)
    extras = f"[{','.join(sorted(r.extras))}]" if r.extras else ""
    return f"{r.name.lower()}{extras}{r.specifier}"


def test_environment_yml_matches_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    want = {_norm(r) for r in py["dependencies"] + py["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    have = {_norm(r) for r in pip if not r.startswith("-e")}
    assert have == want, f"only in environment.yml: {have - want}; only in pyproject: {want - have}"
    assert "-e ." in pip


def test_lock_pins_every_requirement_exactly():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if m:
            lock[m.group(1).lower().replace("_", "-")] = m.group(2)
    reqs = py["dependencies"] + [r for extra in py["optional-dependencies"].values() for r in extra]
    for req in reqs:
        r = Requirement(req)
        name = r.name.lower().replace("_", "-")
        assert name in lock, f"{name} missing from requirements.lock (run make lock)"
        assert r.specifier.contains(lock[name], prereleases=True), f"lock {name}=={lock[name]} breaks {r}"


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    r = subprocess.run(
        [ruff, "check", "src", "tests", "notebooks", "benchmarks"], cwd=ROOT, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr
