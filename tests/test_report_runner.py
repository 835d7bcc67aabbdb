"""The papermill runner end to end on fixture notebooks (cmlib/report/runner.py, html.py, index.py).

Runs go through the real CLI in a subprocess, so exit codes and messages are what a scheduler sees.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cmlib.errors import ParameterError

from .conftest import FIXTURE_NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def cmlib(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cmlib", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    r = cmlib(
        "run",
        "ok",
        "--notebooks-dir",
        str(FIXTURE_NOTEBOOKS),
        "--out",
        str(out),
        "-p",
        "n",
        "5",
        "-p",
        "flag",
        "true",
        "-p",
        "label",
        "007",
        "-p",
        "segments",
        "[x, y]",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (run_dir,) = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    return out, run_dir, r


def test_success_publishes_run_folder_metrics_manifest_index(good_run):
    out, run_dir, r = good_run
    assert "[start] ok" in r.stdout and "1 of 1 notebooks ok" in r.stdout
    assert (out / "latest").resolve() == run_dir.resolve()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["ok"]["total"]["value"] == pytest.approx(0.5)  # n=5 × rate=0.1, computed in the kernel
    man = json.loads((run_dir / "manifest.json").read_text())
    assert man["status"] == "ok"
    assert man["parameters"]["ok"] == {"n": 5, "flag": True, "label": "007", "segments": ["x", "y"]}
    assert {"pandas", "papermill", "python"} <= set(man["packages"])
    assert man["notebooks"][0]["status"] == "ok" and man["notebooks"][0]["seconds"] > 0
    assert "commit" in man["git"] and "dirty" in man["git"]
    assert any("Total is 0.5" in line for line in man["summaries"]["ok"])  # the summary as published
    index = (out / "index.html").read_text()
    assert run_dir.name in index and '<td>total</td><td class="n">0.500</td>' in index
    assert f'href="{run_dir.name}/index.html"' in index  # the run's own page, not raw JSON
    # the run has its own page, and reports/latest/ opens it
    page = (out / "latest" / "index.html").read_text()
    assert f"Run {run_dir.name}" in page and 'href="ok.html"' in page and 'href="../index.html"' in page
    assert not list(out.glob(".staging-*"))


def test_html_is_summary_first_codeless_escaped_and_offline(good_run):
    _, run_dir, _ = good_run
    html = (run_dir / "ok.html").read_text()
    assert html.index("Total is 0.5") < html.index(">Details<")  # summary moved above the body
    assert "time.sleep(sleep_s)" not in html  # no code by default
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)" in html
    import re

    for tag in re.findall(r"<(?:script|link)\b[^>]*>", html):
        assert "http://" not in tag and "https://" not in tag, tag


def test_with_code_keeps_code(tmp_path):
    r = cmlib("run", "ok", "--notebooks-dir", str(FIXTURE_NOTEBOOKS), "--out", str(tmp_path), "--with-code")
    assert r.returncode == 0, r.stderr
    html = next(tmp_path.glob("*/ok.html")).read_text()
    assert "time.sleep(sleep_s)" in html or "time</span><span" in html


def test_failing_cell_exits_nonzero_and_leaves_earlier_report_intact(good_run):
    out, run_dir, _ = good_run
    before = tree_digest(run_dir)
    index_before_latest = (out / "latest").resolve()
    r = cmlib("run", "fail", "--notebooks-dir", str(FIXTURE_NOTEBOOKS), "--out", str(out))
    assert r.returncode == 1
    assert "failed" in r.stdout and "deliberate failure" in r.stdout
    assert tree_digest(run_dir) == before  # byte-identical
    assert (out / "latest").resolve() == index_before_latest  # latest still points at the good run
    failed = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink() and p != run_dir]
    assert len(failed) == 1
    man = json.loads((failed[0] / "manifest.json").read_text())
    assert man["status"] == "failed" and man["notebooks"][0]["status"] == "failed"
    html = (failed[0] / "fail.html").read_text()
    assert "deliberate failure for the runner test" in html  # the traceback
    assert "raise" in html and "RuntimeError" in html  # the failing cell's code is shown
    index = (out / "index.html").read_text()
    assert 'class="failed"' in index and failed[0].name in index


def test_unknown_parameter_exits_2_before_any_kernel(tmp_path):
    r = cmlib(
        "run",
        str(FIXTURE_NOTEBOOKS / "ok.ipynb"),
        "-p",
        "unknown",
        "1",
        "--out",
        str(tmp_path),
        "--notebooks-dir",
        str(FIXTURE_NOTEBOOKS),
    )
    assert r.returncode == 2
    assert "unknown" in r.stderr and "ok" in r.stderr and "Traceback" not in r.stderr
    assert not any(tmp_path.iterdir())  # nothing was started or written


def test_wrong_type_exits_2_naming_notebook_parameter_type_and_value(tmp_path):
    r = cmlib(
        "run", "ok", "-p", "n", "ten", "--out", str(tmp_path), "--notebooks-dir", str(FIXTURE_NOTEBOOKS)
    )
    assert r.returncode == 2
    assert "ok: parameter 'n': expected int (default 10), got 'ten'" in r.stderr


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "holdout_share",
            "1.5",
            "03_scoring_model: parameter 'holdout_share': expected a number in (0, 1), got 1.5",
        ),
        ("n_customers", "-5", "parameter 'n_customers': expected a number in [50_000, 50_000_000], got -5"),
        ("n_customers", "1000000000000", "expected a number in [50_000, 50_000_000], got 1000000000000"),
        ("alpha", "0", "parameter 'alpha': expected a number in (0, 1), got 0.0"),
    ],
)
def test_out_of_range_values_exit_2_before_any_kernel(tmp_path, name, value, expected):
    """A range declared in a parameter's comment (``in (0, 1)``) is checked with the types, before any
    kernel starts: a one-line error and exit 2, nothing written (was exit 1 from inside a kernel)."""
    r = cmlib(
        "run",
        "03_scoring_model",
        "-p",
        name,
        value,
        "--out",
        str(tmp_path / "out"),
        "--notebooks-dir",
        str(ROOT / "notebooks"),
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert expected in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_every_notebook_default_lies_in_its_declared_range():
    from cmlib.report.params import read_spec

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        spec = read_spec(path)
        declared = [p for p in spec.parameters.values() if p.bounds is not None]
        assert declared, f"{spec.name} declares no range"
        for p in declared:
            p.check_range(p.default, spec.name)
        # every notebook's backend is one of a declared set, checked before any kernel (a #16 probe found
        # 'polars' only inside a kernel), and every default is in its set
        assert spec.parameters["backend"].choices == ["duckdb", "spark"], spec.name
        for p in spec.parameters.values():
            if p.choices is not None:
                assert p.default in p.choices, (spec.name, p.name)
                with pytest.raises(ParameterError, match=f"parameter '{p.name}': expected one of"):
                    p.check_range("no such value", spec.name)


def test_cli_rejects_bad_arguments_readably(tmp_path):
    r = cmlib("run", "no_such_notebook", "--notebooks-dir", str(FIXTURE_NOTEBOOKS), "--out", str(tmp_path))
    assert r.returncode == 2 and "no_such_notebook" in r.stderr and "available" in r.stderr
    r = cmlib("run", "ok", "--jobs", "0", "--notebooks-dir", str(FIXTURE_NOTEBOOKS), "--out", str(tmp_path))
    assert r.returncode == 2 and "--jobs" in r.stderr
    r = cmlib("run", "ok", "-f", str(tmp_path / "missing.yaml"), "--notebooks-dir", str(FIXTURE_NOTEBOOKS))
    assert r.returncode == 2 and "missing.yaml" in r.stderr
    r = cmlib("frobnicate")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_parallel_jobs_and_dependency_order(tmp_path):
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    for name in ("producer", "consumer"):
        shutil.copy(FIXTURE_NOTEBOOKS / f"{name}.ipynb", nbdir)
    for name in ("a", "b"):
        shutil.copy(FIXTURE_NOTEBOOKS / "ok.ipynb", nbdir / f"ok_{name}.ipynb")
    params = tmp_path / "p.yaml"
    params.write_text(
        "parameters:\n  sleep_s: 4\nnotebooks:\n  producer: {value: 21}\n"
        "alerts:\n  - {metric: consumer.doubled, above: 10}\n"
    )
    out = tmp_path / "reports"
    # consumer is named first: the runner must still wait for producer
    r = cmlib(
        "run",
        "consumer",
        "ok_a",
        "ok_b",
        "producer",
        "--jobs",
        "2",
        "-f",
        str(params),
        "--notebooks-dir",
        str(nbdir),
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    run_dir = (out / "latest").resolve()
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["consumer"]["doubled"]["value"] == 42  # read the producer's artefact of this run
    man = json.loads((run_dir / "manifest.json").read_text())
    assert man["order"]["consumer"] == ["producer"]
    lines = r.stdout.splitlines()
    # the consumer starts after the producer finished, or early (a core was free) and waits at its first
    # artefact: either way it read this run's artefact (42 above), not an older one
    start = next(i for i, s in enumerate(lines) if s.startswith("[start] consumer"))
    produced = next(i for i, s in enumerate(lines) if "producer in" in s)
    assert start > produced or "(early: " in lines[start]
    # two jobs: two notebooks start before the first one finishes, and the producer (the head of the longest
    # chain, producer -> consumer) is one of them although it was named last
    starts = [i for i, s in enumerate(lines) if s.startswith("[start]")]
    first_done = next(i for i, s in enumerate(lines) if s.startswith("[1/"))
    assert starts[1] < first_done and "[start] producer" in [lines[i] for i in starts[:2]]
    a, b = m["ok_a"], m["ok_b"]  # each slept 4 s: the same notebook ran twice with its own parameters
    assert (
        a["t_end"]["value"] - a["t_start"]["value"] >= 4 and b["t_end"]["value"] - b["t_start"]["value"] >= 4
    )
    assert "consumer.doubled = 42.000, above 10.000" in (out / "index.html").read_text()


def test_the_longest_chain_starts_first():
    from cmlib.report.runner import critical_path

    deps = {"a": set(), "b": set(), "c": set(), "slow": set(), "last": {"c", "slow"}}
    seconds = {"a": 38, "b": 30, "c": 28, "slow": 76, "last": 26}
    p = critical_path(deps, seconds)
    assert p["slow"] == 76 + 26 and p["c"] == 28 + 26 and p["a"] == 38
    assert sorted(deps, key=lambda n: (-p[n], n))[:2] == ["slow", "c"]  # both producers before the rest
    # no history: the producers of a dependent still go first (chain length in notebooks)
    q = critical_path(deps, {})
    assert sorted(deps, key=lambda n: (-q[n], n))[:2] == ["c", "slow"]


def test_kernels_share_the_cores(monkeypatch):
    """Two notebooks at once on two cores: each kernel's BLAS and OpenMP pools get one thread (else both
    start two and fight); a cap the user set is kept."""
    from cmlib.report import runner

    monkeypatch.setattr(runner.os, "cpu_count", lambda: 2)
    for v in runner.THREAD_VARS:
        monkeypatch.delenv(v, raising=False)
    assert runner.kernel_threads(2) == dict.fromkeys(runner.THREAD_VARS, "1")
    assert runner.kernel_threads(1) == dict.fromkeys(runner.THREAD_VARS, "2")
    assert runner.kernel_threads(8) == dict.fromkeys(runner.THREAD_VARS, "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert "OMP_NUM_THREADS" not in runner.kernel_threads(2)


# --- runs that can be killed, run ids that cannot collide, bad input inside a kernel (#16) ---------------------


def _notebook(path: Path, params: str, code: str) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# Fixture: {path.stem}"),
        nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(code),
        nbformat.v4.new_markdown_cell("## Summary", metadata={"tags": ["summary"]}),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _processes_of(out: Path) -> list[int]:
    """Processes (executor, kernel) whose environment points into a staging folder of ``out``."""
    key = f"CMLIB_RUN_DIR={out}/.staging-".encode()
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if key in (d / "environ").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                continue
    return pids


def _kernel_key_folders(pids: list[int]) -> list[Path]:
    """The folders in which these executors keep their kernels' connection files."""
    import tempfile

    return [p for pid in pids for p in Path(tempfile.gettempdir()).glob(f"cmlib-kernel-{pid}-*")]


def _wait(cond, seconds: float) -> bool:
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def _start_sleepy_run(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    nbdir, out = tmp_path / "nbs", tmp_path / "reports"
    nbdir.mkdir()
    _notebook(
        nbdir / "sleepy.ipynb",
        "seconds = 120  # how long to sleep; in [0, 600]",
        "import time\nfrom cmlib.report import private_dir\n"
        "(private_dir() / 'list.csv').write_text('account_id\\n1\\n')  # a customer list, never published\n"
        "time.sleep(seconds)",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "cmlib", "run", "sleepy", "--notebooks-dir", str(nbdir), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # the executor and its kernel are up
    assert _wait(lambda: len(_processes_of(out)) >= 2, 120), "the notebook never started"
    return proc, out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_stops_every_process_and_removes_the_staging_folder(tmp_path):
    import signal
    import time

    t0 = time.time()
    proc, out = _start_sleepy_run(tmp_path)
    private = tmp_path / "nbs" / "data" / "private"  # the kernels' project: the notebooks' folder here
    lists = lambda: [f for f in private.glob("*/list.csv") if f.stat().st_mtime >= t0]  # noqa: E731
    assert _wait(lambda: bool(lists()), 60), "the notebook never wrote its list"
    keys = _kernel_key_folders(_processes_of(out))
    assert keys, "the executor keeps its kernel's connection file in a folder of its own"
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "stopped by SIGTERM" in stdout
    assert _wait(lambda: not _processes_of(out), 15), f"left running: {_processes_of(out)}"
    assert not list(out.glob(".staging-*")) and not [p for p in out.iterdir() if p.is_dir()]
    run_id = re.search(r"run (\S+): stopped", stdout)[1]
    assert not (private / run_id).exists()  # the run's customer list went with it
    left = [f for k in keys for f in k.glob("*.json")]
    assert _wait(lambda: not [f for f in left if f.exists()], 15), "a stopped run left its kernels' keys"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, prctl")
def test_sigkill_leaves_no_process_and_the_next_run_removes_the_staging_folder(tmp_path):
    import signal

    proc, out = _start_sleepy_run(tmp_path)
    keys = _kernel_key_folders(_processes_of(out))
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert _wait(lambda: not _processes_of(out), 15), f"left running: {_processes_of(out)}"
    assert keys  # a SIGKILLed runner's executors may not clean up (nbclient has taken SIGTERM over)...
    (stale,) = out.glob(".staging-*")
    r = cmlib(
        "run", "sleepy", "-p", "seconds", "0", "--notebooks-dir", str(tmp_path / "nbs"), "--out", str(out)
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"removed {stale.name}" in r.stdout and not stale.exists()
    assert not [k for k in keys if k.exists()], "...the next run removes their kernels' connection files"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, prctl")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_a_run_killed_while_it_builds_the_bank_leaves_no_builder(tmp_path, sig):
    """#16 probe: killing `cmlib run` while it simulated the bank left the builder running for 40 s, growing
    to 1.75 GB, and SIGTERM exited without a word. The builder now goes with the runner."""
    import signal
    import subprocess as sp

    env = dict(os.environ, CMLIB_CACHE_DIR=str(tmp_path / "cache"))
    args = ["run", "01_market_analysis", "-p", "n_customers", "1500000", "--out", str(tmp_path / "out")]
    proc = sp.Popen(
        [sys.executable, "-m", "cmlib", *args], env=env, stdout=sp.PIPE, stderr=sp.STDOUT, text=True
    )

    def builders(workers: bool = False) -> list[str]:
        """The builder (or, with ``workers``, every process of this run: the builder's block workers too)."""
        found = []
        for d in Path("/proc").iterdir():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                env_of = (d / "environ").read_bytes()
            except OSError:
                continue
            if (workers or "cached_bank" in cmd) and str(tmp_path).encode() in env_of:
                found.append(f"{d.name}: {cmd[:80]}")
        return found

    assert _wait(lambda: bool(builders()), 60), "the bank was never built"
    assert _wait(lambda: len(builders(workers=True)) > 2, 30), "no block workers"  # 1.5M: drawn in parallel
    proc.send_signal(getattr(signal, sig))
    out, _ = proc.communicate(timeout=60)
    # killed by the signal itself (Popen: -9), or exiting 128 + SIGTERM after stopping the builder
    assert proc.returncode in (-getattr(signal, sig), 128 + getattr(signal, sig))
    if sig == "SIGTERM":
        assert "stopped by SIGTERM while building the simulated bank of 1,500,000 customers" in out
    assert _wait(lambda: not builders(), 15), "the builder outlived the runner"
    assert _wait(lambda: not builders(workers=True), 15), builders(workers=True)  # and its block workers


def test_a_library_bad_input_error_in_a_kernel_exits_2_with_its_line(tmp_path):
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    _notebook(
        nbdir / "bad.ipynb",
        "rows = 3  # offending rows; in [0, 100]",
        'from cmlib.errors import DataError\nraise DataError.single("contacts", "week", "a date", rows)',
    )
    r = cmlib("run", "bad", "--notebooks-dir", str(nbdir), "--out", str(tmp_path / "reports"))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "DataError" in r.stdout and "contacts" in r.stdout and "week" in r.stdout


def test_run_ids_claimed_in_the_same_second_differ(tmp_path):
    from cmlib.errors import ParameterError
    from cmlib.report.runner import claim_run

    ids = [claim_run(tmp_path)[0] for _ in range(3)]
    assert len(set(ids)) == 3
    with pytest.raises(ParameterError, match="run_id"):
        claim_run(tmp_path, ids[0])


def test_a_fallback_is_on_the_console_in_the_manifest_and_in_the_index(tmp_path):
    nbdir, out = tmp_path / "nbs", tmp_path / "reports"
    nbdir.mkdir()
    _notebook(
        nbdir / "falls.ipynb",
        "n = 1  # how many; in [0, 5]",
        'from cmlib.report import note_fallback, record\nnote_fallback("thing.json unreadable: a flat assumption used")\nrecord("x", 1.0)',
    )
    r = cmlib("run", "falls", "--notebooks-dir", str(nbdir), "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[fallback] falls: thing.json unreadable: a flat assumption used" in r.stdout
    man = json.loads(((out / "latest").resolve() / "manifest.json").read_text())
    assert man["fallbacks"] == {"falls": ["thing.json unreadable: a flat assumption used"]}
    assert "fallback in falls: thing.json unreadable" in (out / "index.html").read_text()


def test_a_notebook_started_early_waits_for_its_producer_and_is_skipped_when_it_fails(tmp_path):
    """With a core free and nothing else ready, the consumer starts while the producer runs: it reads the
    artefact this run's producer writes (it waits for it), and when the producer fails it is reported skipped,
    as a consumer that never started would be."""
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    for name in ("producer", "consumer"):
        shutil.copy(FIXTURE_NOTEBOOKS / f"{name}.ipynb", nbdir)
    out = tmp_path / "reports"
    args = ["run", "producer", "consumer", "--jobs", "2", "--notebooks-dir", str(nbdir), "--out", str(out)]
    r = cmlib(*args, "-p", "sleep_s", "6", "-p", "value", "5")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[start] consumer (early: starts and reads its data while waiting for producer)" in r.stdout
    run = (out / "latest").resolve()
    assert json.loads((run / "metrics.json").read_text())["consumer"]["doubled"]["value"] == 10
    nbs = {nb["name"]: nb for nb in json.loads((run / "manifest.json").read_text())["notebooks"]}
    assert nbs["consumer"]["waited_seconds"] > 2  # it waited for the producer's sleep
    assert not (run / ".done").exists()  # the runner's signals are not published

    r = cmlib(*args, "-p", "sleep_s", "-1")  # time.sleep(-1) raises: the producer fails
    assert r.returncode == 1
    assert "[start] consumer (early: " in r.stdout
    assert re.search(r"\[\d/2\] skipped consumer in [\d.]+ s .*needs producer", r.stdout), r.stdout


def test_expected_peaks_grow_with_the_bank(tmp_path):
    """Starting a notebook early is limited by memory: the last good run's peaks, scaled to this run's size."""
    from cmlib.report.runner import previous_peaks

    (tmp_path / "latest").mkdir()
    man = {
        "parameters": {"a": {"n_customers": 1_000_000}, "b": {}},
        "notebooks": [{"name": "a", "peak_rss_mb": 2_000}, {"name": "b", "peak_rss_mb": 500}],
    }
    (tmp_path / "latest" / "manifest.json").write_text(json.dumps(man))
    assert previous_peaks(tmp_path) == {"a": 2_000 * 2**20, "b": 500 * 2**20}
    bigger = previous_peaks(tmp_path, {"a": {"n_customers": 5_000_000}, "b": {"n_customers": 5_000_000}})
    assert bigger == {"a": 10_000 * 2**20, "b": 500 * 2**20}  # b's size then is unknown: kept as it was
    assert previous_peaks(tmp_path / "none") == {}


def test_columns_a_notebook_names_are_checked_before_any_kernel(tmp_path):
    """A role mapped to a column the table does not have, a target or a value column it lacks: exit 2 with
    the notebook, parameter and the missing columns, read from the file's header, before any kernel."""
    import pandas as pd

    from cmlib.data.io import header_columns as table_columns

    df = pd.DataFrame({"tenure": [3, 5], "churned": ["yes", "no"], "plan": ["a", "b"]})
    df.to_csv(tmp_path / "churn.csv", index=False)
    (tmp_path / "lake").mkdir()
    df.to_parquet(tmp_path / "lake" / "part-0.parquet")
    assert table_columns(tmp_path / "churn.csv") == table_columns(tmp_path / "lake") == list(df.columns)
    root = Path(__file__).resolve().parents[1]
    r = cmlib(
        "run",
        "04_survival_churn_delinquency",
        "-p",
        "data_source",
        str(tmp_path / "churn.csv"),
        "-p",
        "columns",
        "{duration: tenur, event: churned, covariates: [plan, age]}",
        "--out",
        str(tmp_path / "reports"),
        "--notebooks-dir",
        str(root / "notebooks"),
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "04_survival_churn_delinquency" in r.stderr and "columns" in r.stderr
    assert "tenur" in r.stderr and "age" in r.stderr and "it has tenure, churned, plan" in r.stderr
    assert not (tmp_path / "reports").exists() or not list((tmp_path / "reports").glob("2*"))
    r = cmlib(
        "run",
        "03_scoring_model",
        "-p",
        "data_source",
        str(tmp_path / "lake"),
        "--out",
        str(tmp_path / "reports"),
        "--notebooks-dir",
        str(root / "notebooks"),
    )
    assert r.returncode == 2 and "'target'" in r.stderr and "bad" in r.stderr, r.stderr
    # 06 reads a folder of tables: its columns mapping is checked against the contacts table's header
    (tmp_path / "feed" / "monitoring_contacts").mkdir(parents=True)
    df.rename(columns={"tenure": "send_week"}).to_parquet(
        tmp_path / "feed" / "monitoring_contacts" / "p.parquet"
    )
    r = cmlib(
        "run", "06_campaign_monitoring", "-p", "data_source", str(tmp_path / "feed"),
        "-p", "columns", "{week: sendweek}", "--out", str(tmp_path / "reports"),
        "--notebooks-dir", str(root / "notebooks"),
    )  # fmt: skip
    assert r.returncode == 2 and "06_campaign_monitoring" in r.stderr, r.stdout + r.stderr
    assert (
        "columns of monitoring_contacts (it has send_week, churned, plan)" in r.stderr
        and "sendweek" in r.stderr
    )


def test_a_bad_user_file_is_refused_by_its_notebooks_loader_before_any_kernel(tmp_path):
    """#16: values a header cannot show (text in a number column, a month that is no date) are found by each
    notebook's own loader, run by the runner before any kernel: exit 2, one line per notebook naming table,
    column, rule and count, nothing published, in seconds."""
    import time

    import pandas as pd

    pd.DataFrame({"month": ["2020-01-01", "banana", "2020-03-01"], "sales": [1.0, 2.0, 3.0]}).to_csv(
        tmp_path / "market.csv", index=False
    )
    pd.DataFrame({"tenure": [3, "three", 7, 9], "churned": [1, 0, 1, 0]}).to_csv(
        tmp_path / "churn.csv", index=False
    )
    root = Path(__file__).resolve().parents[1]
    t0 = time.perf_counter()
    r = cmlib(
        "run", "01_market_analysis", "04_survival_churn_delinquency",
        "-p", "01_market_analysis.data_source", str(tmp_path / "market.csv"),
        "-p", "01_market_analysis.value_column", "sales",
        "-p", "04_survival_churn_delinquency.data_source", str(tmp_path / "churn.csv"),
        "-p", "04_survival_churn_delinquency.columns", "{duration: tenure, event: churned}",
        "--out", str(tmp_path / "reports"), "--notebooks-dir", str(root / "notebooks"),
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith("cmlib: error: 01_market_analysis: table 'market': column 'month'")
    assert "'a date such as 2024-01-31' in 1 row(s); e.g. 'banana'" in lines[0]
    assert lines[1].startswith("04_survival_churn_delinquency: table '") and "churn.csv" in lines[1]
    assert (
        "column 'tenure' breaks rule 'a number of months in [0, 1,200]' in 1 row(s); e.g. 'three'" in lines[1]
    )
    assert "[start]" not in r.stdout and not (tmp_path / "reports").exists()
    assert seconds < 30  # two loaders in one process: a few seconds on an idle machine


def test_cost_optimisation_runs_on_a_weekly_spend_table_alone(tmp_path):
    """#16: 05's curves and allocation on one user table (the insurer's real TV spend and quotes, with the
    user's column names mapped by ``columns``); the sections that need the bank's tables say so; a role
    mapped to a column the file lacks is refused before any kernel."""
    from .test_optimize import _insurance_as_spend

    _, roles = _insurance_as_spend(tmp_path)
    mapping = "{" + ", ".join(f"{k}: {v}" for k, v in roles.items()) + "}"
    args = ["run", "05_cost_optimization", "--out", str(tmp_path / "reports"), "-p", "data_source"]
    r = cmlib(*args, str(tmp_path / "spend.csv"), "-p", "columns", mapping)
    assert r.returncode == 0, r.stdout + r.stderr
    html = next((tmp_path / "reports").glob("*/05_cost_optimization.html")).read_text()
    assert "Only a weekly spend table (40 weeks, 1 channel)" in html
    assert "Decision — budget" in html and "Skipped: a weekly spend table alone has no" in html
    assert "Traceback" not in html
    bad = mapping.replace("cost", "costs")
    r = cmlib(*args, str(tmp_path / "spend.csv"), "-p", "columns", bad)
    assert r.returncode == 2 and "costs" in r.stderr and "columns" in r.stderr, r.stdout + r.stderr


@pytest.mark.spark
def test_every_report_on_spark_equals_the_duckdb_run(tmp_path):
    """#16: all six notebooks end to end with ``backend spark`` (local Spark: 01's segment joins, 02's per-arm
    sums, 03's binning counts, 04's panel counts, 05's channel funnel and 06's weekly funnel run there) publish
    the same headline numbers as the DuckDB run, to 1e-9."""

    def metrics(backend: str) -> dict:
        out = tmp_path / backend
        r = cmlib(
            "run", "--out", str(out), "-p", "n_customers", "50000", "-p", "backend", backend,
        )  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
        (run,) = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
        m = json.loads((run / "metrics.json").read_text())
        return {f"{nb}.{k}": v["value"] for nb, d in m.items() for k, v in d.items()}

    duck, spark = metrics("duckdb"), metrics("spark")
    assert set(duck) == set(spark) and len(duck) > 60
    assert {k.split(".")[0] for k in duck} == {p.stem for p in (ROOT / "notebooks").glob("0*.ipynb")}
    for k, v in duck.items():
        assert spark[k] == pytest.approx(v, rel=1e-9, abs=1e-12, nan_ok=True), k
