"""The scheduled run end to end: ``cmlib run -f params/default.yaml --jobs 2`` timed per notebook.

For each size (1M customers by default; ``--sizes 1000000 10000000`` adds 10M), two runs in a fresh cache
folder: the first builds the simulated bank (cold), the second reads it (warm, as every later scheduled run
with the same parameters). Per notebook: wall seconds and the peak resident memory of that notebook's own
processes (its executor and kernel, from the run's manifest); per run: the bank step, total wall time and
whether the headline metrics of the two runs are identical (the report must not depend on where the world
came from). Reference: the same run before the bank was cached (every notebook simulating the bank in its
own kernel), from the issue's measurements, is in ``before``.

``python -m benchmarks.run [--sizes N ...] [--quick]`` writes ``benchmarks/results/run.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import write

ROOT = Path(__file__).resolve().parents[1]


def one_run(n_customers: int, out: Path, cache: Path) -> dict:
    env = dict(os.environ, CMLIB_CACHE_DIR=str(cache))
    cmd = [
        sys.executable,
        "-m",
        "cmlib",
        "run",
        "-f",
        str(ROOT / "params" / "default.yaml"),
        "--jobs",
        "2",
        "-p",
        "n_customers",
        str(n_customers),
        "--out",
        str(out),
        "--notebooks-dir",
        str(ROOT / "notebooks"),
    ]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        return {
            "status": f"failed (exit {r.returncode})",
            "wall_seconds": round(wall, 1),
            "log": r.stdout[-2000:],
        }
    bank = re.search(r"\[data\] simulated bank .*?: (built|cached) in ([\d.]+) s", r.stdout)
    run = (out / "latest").resolve()
    man = json.loads((run / "manifest.json").read_text())
    return {
        "status": man["status"],
        "wall_seconds": round(wall, 1),
        "bank": {"step": bank.group(1), "seconds": float(bank.group(2))} if bank else None,
        "notebooks": {
            nb["name"]: {"seconds": nb["seconds"], "peak_rss_mb": nb.get("peak_rss_mb")}
            for nb in man["notebooks"]
        },
        "metrics": json.loads((run / "metrics.json").read_text()),
    }


def headline(metrics: dict) -> dict:
    return {f"{nb}.{k}": v["value"] for nb, d in metrics.items() for k, v in d.items()}


def main(argv=None) -> Path:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--quick", action="store_true", help="50,000 customers only, for a smoke check")
    args = ap.parse_args(argv)
    sizes = [50_000] if args.quick else args.sizes
    out = {}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            cold = one_run(n, tmp / "reports", tmp / "cache")
            warm = one_run(n, tmp / "reports", tmp / "cache")
        same = (
            "metrics" in cold and "metrics" in warm and headline(cold["metrics"]) == headline(warm["metrics"])
        )
        for r in (cold, warm):
            r.pop("metrics", None)
        out[f"{n}"] = {"cold_cache": cold, "warm_cache": warm, "same_headline_metrics": same}
        print(
            f"{n:,} customers: cold {cold['wall_seconds']} s, warm {warm['wall_seconds']} s, same metrics {same}"
        )
    payload = {
        "what": "cmlib run -f params/default.yaml --jobs 2 (all notebooks), 2 cores",
        "before": {
            "1000000": {
                "wall_seconds": 200,
                "notebooks": {
                    "01_market_analysis": 42,
                    "02_ab_testing": 36,
                    "03_scoring_model": 31,
                    "04_survival_churn_delinquency": 109,
                    "05_cost_optimization": 29,
                },
                "note": "issue #19's measurement: every notebook simulated the bank in its own kernel (14-17 s each)",
            }
        },
        "runs": out,
    }
    name = "run_quick" if args.quick else "run"
    path = write(name, payload)
    print(path)
    return path


if __name__ == "__main__":
    main(sys.argv[1:])
