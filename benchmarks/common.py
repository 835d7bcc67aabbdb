"""Shared benchmark helpers: timing, peak memory of a child process, results files."""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def best_of(fn, repeat: int = 3) -> float:
    """Fastest wall time of ``repeat`` calls, in seconds (the least disturbed run)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run_child(code: str) -> tuple[float, float, str]:
    """Run Python ``code`` in a fresh process; return (seconds, peak RSS in GB, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    secs = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the maximum over all children so far: run the biggest last
    return secs, max(peak_kb, before) / 1024**2, r.stdout


def machine() -> dict:
    import os

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        **{p: metadata.version(p) for p in ("pandas", "duckdb", "ibis-framework", "numpy")},
    }


def write(name: str, payload: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(
        json.dumps({"machine": machine(), "date": time.strftime("%Y-%m-%d"), **payload}, indent=2)
    )
    return path


def size_from_args(argv, quick_n: int, full_n: int) -> tuple[bool, int]:
    """``--quick`` on the command line → (True, quick_n), else (False, full_n)."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    quick = ap.parse_args(argv).quick
    return quick, quick_n if quick else full_n
