"""The scheduled run end to end: ``cmlib run -f params/default.yaml --jobs 2`` timed per notebook.

For each size (1M and 10M customers by default), two runs in a fresh cache
folder: the first builds the simulated bank (cold), the second reads it (warm, as every later scheduled run
with the same parameters). Per notebook: wall seconds (its own, and the time it waited for another notebook
when the runner started it early) and the peak resident memory of that notebook's own processes (its executor
and kernel, from the run's manifest); per run: the bank step, total wall time and whether the headline metrics
of the two runs are identical (the report must not depend on where the world came from). A size the machine
cannot hold is refused by the runner before anything starts; the refusal is recorded as the result.

``--lake`` adds a run on a user-sized Parquet folder: the 1M bank written by ``cmlib data generate`` and every
notebook pointed at its tables by path (``data_source``), as an analyst's own data lake would be read.

References: ``before`` holds the issue's measurement (every notebook simulating the bank in its own kernel)
and this change's starting point (bank cached, no early starts, bytecode not compiled).

``python -m benchmarks.run [--sizes N ...] [--lake] [--quick]`` (sizes 1M and 10M by default) writes ``benchmarks/results/run.json``.
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


def one_run(n_customers: int | None, out: Path, cache: Path, params: Path | None = None) -> dict:
    env = dict(os.environ, CMLIB_CACHE_DIR=str(cache))
    cmd = [
        sys.executable,
        "-m",
        "cmlib",
        "run",
        "-f",
        str(params or ROOT / "params" / "default.yaml"),
        "--jobs",
        "2",
        *(["-p", "n_customers", str(n_customers)] if n_customers else []),
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
            "log": (r.stdout + r.stderr)[-2000:],
        }
    bank = re.search(
        r"\[data\] simulated bank .*?: (built|cached) in ([\d.]+) s(?:, peak ([\d,]+) MB)?", r.stdout
    )
    run = (out / "latest").resolve()
    man = json.loads((run / "manifest.json").read_text())
    return {
        "status": man["status"],
        "wall_seconds": round(wall, 1),
        "bank": {
            "step": bank.group(1),
            "seconds": float(bank.group(2)),
            **({"peak_rss_mb": int(bank.group(3).replace(",", ""))} if bank.group(3) else {}),
        }
        if bank
        else None,
        "notebooks": {
            nb["name"]: {
                "seconds": round(nb["seconds"] - nb.get("waited_seconds", 0.0), 2),
                "waited_seconds": nb.get("waited_seconds", 0.0),
                "peak_rss_mb": nb.get("peak_rss_mb"),
            }
            for nb in man["notebooks"]
        },
        "metrics": json.loads((run / "metrics.json").read_text()),
    }


def headline(metrics: dict) -> dict:
    return {f"{nb}.{k}": v["value"] for nb, d in metrics.items() for k, v in d.items()}


#: where each notebook finds its table in a folder written by ``cmlib data generate`` (the user-data route)
LAKE = {
    "01_market_analysis": {"data_source": "{d}/market"},
    "02_ab_testing": {"data_source": "{d}/contacts"},
    "03_scoring_model": {"data_source": "{d}/applications", "target": "bad_12m"},
    "04_survival_churn_delinquency": {"data_source": "{d}/performance"},
    "05_cost_optimization": {"data_source": "{d}"},
    "06_campaign_monitoring": {"data_source": "{d}"},
}


def lake_run(n_customers: int, tmp: Path) -> dict:
    """Write the bank with ``cmlib data generate`` and run the notebooks on its Parquet folder by path."""
    folder = tmp / "lake"
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cmlib",
            "data",
            "generate",
            "--customers",
            str(n_customers),
            "--out",
            str(folder),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    generate = time.perf_counter() - t0
    lines = ["notebooks:"] + [
        f"  {nb}: {{{', '.join(f'{k}: {v.format(d=folder)}' for k, v in ps.items())}}}"
        for nb, ps in LAKE.items()
    ]
    params = tmp / "lake.yaml"
    params.write_text("\n".join(lines) + "\n")
    r = one_run(None, tmp / "lake-reports", tmp / "cache", params)
    r.pop("metrics", None)
    mb = sum(f.stat().st_size for f in folder.rglob("*.parquet")) / 2**20
    return {
        "folder": f"cmlib data generate --customers {n_customers:,}: {mb:,.0f} MB of Parquet in {generate:.1f} s",
        "notebooks_run": sorted(LAKE),
        **r,
    }


def main(argv=None) -> Path:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--lake", action="store_true", help="also a run on a generated Parquet folder (1M)")
    ap.add_argument("--quick", action="store_true", help="50,000 customers only, for a smoke check")
    args = ap.parse_args(argv)
    sizes = [50_000] if args.quick else args.sizes
    out = {}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            cold = one_run(n, tmp / "reports", tmp / "cache")
            if (
                cold["status"] != "ok"
            ):  # e.g. a size refused before anything starts: the refusal is the result
                out[f"{n}"] = {"cold_cache": cold}
                print(f"{n:,} customers: {cold['status']}: {cold['log'].strip().splitlines()[-1]}")
                continue
            warm = one_run(n, tmp / "reports", tmp / "cache")
        a, b = headline(cold.get("metrics", {})), headline(warm.get("metrics", {}))
        same = bool(a) and a == b
        for r in (cold, warm):
            r.pop("metrics", None)
        out[f"{n}"] = {"cold_cache": cold, "warm_cache": warm, "same_headline_metrics": same}
        if not same:  # which, and by how much: a difference must be explained, not only counted
            out[f"{n}"]["differing_metrics"] = {
                k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)
            }
        print(
            f"{n:,} customers: cold {cold['wall_seconds']} s, warm {warm['wall_seconds']} s, same metrics {same}"
        )
    lake = None
    if args.lake:
        with tempfile.TemporaryDirectory() as tmp:
            lake = lake_run(50_000 if args.quick else 1_000_000, Path(tmp))
        print(f"lake: {lake['status']} in {lake['wall_seconds']} s")
    payload = {
        "what": "cmlib run -f params/default.yaml --jobs 2 (all notebooks), 2 cores",
        "before": {
            "session_start": {
                "wall_seconds": 95.4,
                "notebooks": {
                    "01_market_analysis": 14.7,
                    "02_ab_testing": 13.3,
                    "03_scoring_model": 17.7,
                    "04_survival_churn_delinquency": 35.0,
                    "05_cost_optimization": 30.3,
                    "06_campaign_monitoring": 13.5,
                },
                "note": "make reports at 1M with a warm cache before the early starts, the artefact waits, the "
                "compiled bytecode and the faster cells (run 20261130T101241)",
            },
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
            },
            "10000000": {
                "wall_seconds": 621.9,
                "bank_seconds": 214.5,
                "notebooks": {
                    "01_market_analysis": {"seconds": 36.1, "peak_rss_mb": 1111},
                    "02_ab_testing": {"seconds": 83.6, "peak_rss_mb": 5201},
                    "03_scoring_model": {"seconds": 80.7, "peak_rss_mb": 2956},
                    "04_survival_churn_delinquency": {"seconds": 303.6, "peak_rss_mb": 10580},
                    "05_cost_optimization": {"seconds": 291.4, "peak_rss_mb": 10026},
                    "06_campaign_monitoring": {"seconds": 51.5, "peak_rss_mb": 7074},
                },
                "note": "session 11, by hand (cmlib run at 10M, cold, the machine shared with a probing helper) after "
                "04's early-warning change and before the time-varying Cox's one-copy fit; until then the size "
                "guard refused 10M (2,400 bytes a customer: at most 8,425,500)",
            },
        },
        "runs": out,
        "lake": lake,
    }
    name = "run_quick" if args.quick else "run"
    path = write(name, payload)
    print(path)
    return path


if __name__ == "__main__":
    main(sys.argv[1:])
