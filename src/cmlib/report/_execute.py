"""Execute one notebook in its own process (called by the runner; not a public entry point).

Usage: python -m cmlib.report._execute JOB.json — JOB holds input, output, html, parameters, timeouts.
Writes JOB's ``result`` path: {"status": "ok"|"failed", "error": str|None, "seconds": float, "attempts": n,
"peak_rss_mb": float} — the peak resident memory of this notebook's own processes (this executor and its
kernel, the larger of the two), not of the whole run.
A kernel that fails to start (port race between parallel kernels) is retried; a failing cell is not.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path


def _cells_started(path: str) -> bool:
    """True when any cell began executing (then a retry could repeat side effects)."""
    import nbformat

    if not Path(path).exists():
        return False
    nb = nbformat.read(path, as_version=4)
    return any(
        c.get("metadata", {}).get("papermill", {}).get("status", "pending") != "pending"
        for c in nb.cells
        if c.cell_type == "code"
    )


#: the library's own bad-input errors: a notebook failing on one is bad input (the runner exits 2)
BAD_INPUT = {"DataError", "ParameterError", "ArtefactError"}


def _die_with_runner() -> None:
    """Stop when the runner dies, even by SIGKILL: Linux sends SIGTERM on the parent's death (prctl
    PR_SET_PDEATHSIG); the kernel follows this process (ipykernel polls its parent). Exits now when the runner
    is already gone."""
    import os

    from cmlib.process import die_with_parent

    runner = os.environ.get("CMLIB_RUNNER_PID")
    die_with_parent()
    if runner and os.getppid() != int(runner):
        sys.exit(1)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs; a zombie (killed, not yet reaped by an init that reaps slowly) does not."""
    import os

    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process of that number
        return True
    return True


def skip_slow_optional_imports() -> None:
    """jsonschema (imported by nbformat) loads the optional IRI checker ``rfc3987_syntax`` when it is installed,
    and that module builds a grammar on import: ~1 s of the runner's start and of every notebook's. Notebook
    schemas use no IRI format, so the command-line processes go without it."""
    sys.modules.setdefault("rfc3987_syntax", None)


def main(job_file: str) -> int:
    """Execute one notebook job; the kernel's connection file (it holds the kernel's key) lives in a folder of
    this process's own, removed when the job ends or is stopped (SIGTERM from the runner, or from Linux when
    the runner is killed): a killed run leaves no key files in /tmp."""
    import os
    import shutil
    import signal
    import tempfile

    _die_with_runner()
    # nbclient takes SIGTERM over while a notebook runs (it shuts the kernel down), so a killed executor can
    # leave its folder: the next executor removes those whose process is gone, as runs remove stale staging
    for d in Path(tempfile.gettempdir()).glob("cmlib-kernel-*-*"):
        pid = d.name.split("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)
    own_tmp = tempfile.mkdtemp(prefix=f"cmlib-kernel-{os.getpid()}-")
    tempfile.tempdir = own_tmp  # jupyter_client writes the connection file with tempfile.mkstemp

    def stop(signum, frame):
        shutil.rmtree(own_tmp, ignore_errors=True)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        return _main(job_file)
    finally:
        shutil.rmtree(own_tmp, ignore_errors=True)


def _main(job_file: str) -> int:
    skip_slow_optional_imports()
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from cmlib.report.html import to_html

    job = json.loads(Path(job_file).read_text())
    t0 = time.perf_counter()
    status, error, attempts, bad_input = "ok", None, 0, False
    for attempts in range(1, job.get("retries", 3) + 1):
        try:
            pm.execute_notebook(
                job["input"],
                job["output"],
                parameters=job["parameters"],
                kernel_name="python3",
                execution_timeout=job["cell_timeout"],
                start_timeout=job.get("start_timeout", 120),
                progress_bar=False,
                log_output=False,
                cwd=job["cwd"],
            )
            status, error = "ok", None
            break
        except PapermillExecutionError as exc:
            status, error = "failed", f"{exc.ename}: {exc.evalue} (cell {exc.exec_count})"
            bad_input = exc.ename in BAD_INPUT
            break
        except Exception as exc:  # kernel did not start or died: retry
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            if not _cells_started(job["output"]):
                time.sleep(1.0 * attempts)
                continue
            # the notebook started executing: a retry would repeat side effects
            break
    html_error = None
    if Path(job["output"]).exists():
        try:
            to_html(job["output"], job["html"], with_code=job.get("with_code", False), title=job["name"])
        except Exception:
            html_error = traceback.format_exc()
    import resource

    # ru_maxrss is in KiB on Linux; the kernel is a waited-for child of this process once papermill returns
    peak = max(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    result = {
        "peak_rss_mb": round(peak / 1024, 1),
        "status": status,
        "error": error,
        "seconds": round(time.perf_counter() - t0, 2),
        "attempts": attempts,
        "bad_input": bad_input,
        "html_error": html_error,
    }
    Path(job["result"]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
