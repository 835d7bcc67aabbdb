"""``cmlib run``: execute notebooks with papermill and publish ``reports/<run-id>/`` atomically.

What a run does, in order:

1. read every selected notebook's ``parameters`` cell and validate the given values against it —
   before any kernel starts (an unknown name or a wrong type is a :class:`ParameterError`, exit 2);
2. build each simulated bank the notebooks will ask for once, as Parquet under ``data/cache`` (reused by
   later runs with the same size, random state and generator; :mod:`cmlib.data.cache`);
3. order notebooks by the artefacts they declare (``metadata.cmlib.produces/consumes``) and run
   independent ones in parallel, each in its own process and kernel, with a per-cell timeout;
4. build everything in ``reports/.staging-<run-id>/``: executed notebooks, HTML (summary first, no
   code by default), ``metrics.json`` and ``manifest.json``;
5. publish by one atomic rename to ``reports/<run-id>/``; a fully successful run also moves the
   ``reports/latest`` link. Earlier runs are never touched, so a failed run cannot spoil a good report;
6. rebuild ``reports/index.html``, the dashboard (written to a temporary file, then renamed); each run
   folder has its own page, ``index.html``, written before the folder is published.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from cmlib.errors import ParameterError, SourceError
from cmlib.paths import ENV_CACHE_DIR, cache_root, project_root
from cmlib.report.index import write_index, write_run_page
from cmlib.report.metrics import DONE, ENV_NOTEBOOK, ENV_RUN_DIR, ENV_WAIT_FOR, read_fallbacks, read_metrics
from cmlib.report.params import NotebookSpec, RunParameters, read_spec, validate_parameters

#: the runner's pid, for its executors: they stop when it dies (even by SIGKILL)
ENV_RUNNER_PID = "CMLIB_RUNNER_PID"

KEY_PACKAGES = [
    "cmlib",
    "pandas",
    "numpy",
    "scipy",
    "scikit-learn",
    "statsmodels",
    "lifelines",
    "duckdb",
    "ibis-framework",
    "pandera",
    "papermill",
    "nbconvert",
    "seaborn",
    "matplotlib",
]


@dataclass
class NotebookResult:
    name: str
    status: str  # ok | failed | skipped
    seconds: float = 0.0
    error: str | None = None
    attempts: int = 0
    peak_rss_mb: float | None = None  # this notebook's own processes (executor and kernel)
    bad_input: bool = False  # failed on the library's own bad-input error (data, parameter, artefact)
    waited_seconds: float = 0.0  # started early: time its kernel waited for the notebooks it reads from

    @property
    def own_seconds(self) -> float:
        """Its run time less the time it waited for other notebooks."""
        return max(self.seconds - self.waited_seconds, 0.0)


@dataclass
class RunResult:
    run_id: str
    folder: Path
    status: str
    notebooks: list[NotebookResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def resolve_notebooks(names: list[str] | None, notebooks_dir: Path) -> list[Path]:
    """Paths of the named notebooks (a path, a file name or a stem), or all of ``notebooks_dir``."""
    if not names:
        found = sorted(notebooks_dir.glob("*.ipynb"))
        if not found:
            raise ParameterError("NOTEBOOK", f"notebooks in {notebooks_dir}", "none found")
        return found
    out = []
    for n in names:
        p = Path(n)
        cands = [
            p,
            p.with_suffix(".ipynb"),
            notebooks_dir / p.name,
            (notebooks_dir / p.name).with_suffix(".ipynb"),
        ]
        hit = next((c for c in cands if c.suffix == ".ipynb" and c.is_file()), None)
        if hit is None:
            avail = ", ".join(q.stem for q in sorted(notebooks_dir.glob("*.ipynb"))) or "none"
            raise ParameterError("NOTEBOOK", f"an existing notebook (available: {avail})", n)
        out.append(hit.resolve())
    return out


def dependency_order(specs: list[NotebookSpec]) -> dict[str, set[str]]:
    """{notebook: notebooks it must wait for}, from the artefacts each declares. Raises on a cycle."""
    producers: dict[str, str] = {}
    for s in specs:
        for a in s.produces:
            producers[a] = s.name
    deps = {
        s.name: {producers[a] for a in s.consumes if a in producers and producers[a] != s.name} for s in specs
    }
    seen: set[str] = set()
    stack: set[str] = set()

    def visit(n: str) -> None:
        if n in stack:
            raise ParameterError("NOTEBOOK", "notebooks whose artefacts form no cycle", n)
        if n in seen:
            return
        stack.add(n)
        for d in deps[n]:
            visit(d)
        stack.discard(n)
        seen.add(n)

    for n in deps:
        visit(n)
    return deps


def _git(cwd: Path, *args: str) -> str | None:
    try:
        return subprocess.run(
            ["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for p in KEY_PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    return out


PID_FILE = (
    ".pid"  # in a staging folder: the runner building it, so a later run can tell a killed run's leftovers
)


def new_run_id(out_dir: Path) -> str:
    """A run id not used in ``out_dir`` at the time of asking (see :func:`claim_run` for one that is kept)."""
    base = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    rid, k = base, 1
    while (out_dir / rid).exists() or (out_dir / f".staging-{rid}").exists():
        k += 1
        rid = f"{base}-{k}"
    return rid


def claim_run(out_dir: Path, run_id: str | None = None) -> tuple[str, Path]:
    """Claim a run id by creating its staging folder (``mkdir`` is atomic: two runs started in the same second
    get different ids, never one folder); the folder records the runner's pid. A given ``run_id`` that is taken
    is a ParameterError."""
    while True:
        rid = run_id or new_run_id(out_dir)
        staging = out_dir / f".staging-{rid}"
        try:
            if (out_dir / rid).exists():
                raise FileExistsError(rid)
            staging.mkdir()
        except FileExistsError:
            if run_id:
                raise ParameterError("run_id", "a run id not used in the output folder", run_id) from None
            continue
        (staging / PID_FILE).write_text(str(os.getpid()))
        return rid, staging


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def private_of(run_id: str, notebooks_dir: Path) -> Path:
    """The run's customer-level lists (``report.private_dir`` of kernels started in ``notebooks_dir``): removed
    with a run that publishes nothing."""
    return project_root(notebooks_dir) / "data" / "private" / run_id.removeprefix(".staging-")


def remove_stale_staging(out_dir: Path, log=None, notebooks_dir: Path | None = None) -> list[str]:
    """Remove the staging folders of runs that were killed (their runner is gone; a folder without a pid file
    is from an older layout and counts as stale); returns their names and logs each one."""
    import shutil

    gone = []
    for d in sorted(out_dir.glob(".staging-*")) if out_dir.is_dir() else []:
        pid_file = d / PID_FILE
        try:
            pid = int(pid_file.read_text().strip()) if pid_file.is_file() else None
        except ValueError:
            pid = None
        if pid is not None and pid != os.getpid() and _alive(pid):
            continue
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(
            private_of(d.name, notebooks_dir or Path.cwd()), ignore_errors=True
        )  # published nothing
        gone.append(d.name)
        if log:
            log(f"[cleanup] removed {d.name}: left by a run that was killed")
    return gone


def _log(msg: str) -> None:
    print(msg, flush=True)


def previous_seconds(out_dir: Path) -> dict[str, float]:
    """Each notebook's run time in the last good run (``<out>/latest/manifest.json``), or {} when none."""
    try:
        man = json.loads((Path(out_dir) / "latest" / "manifest.json").read_text())
        return {
            nb["name"]: float(nb["seconds"]) - float(nb.get("waited_seconds") or 0.0)
            for nb in man.get("notebooks", [])
            if nb.get("seconds")
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def previous_peaks(out_dir: Path, resolved: dict[str, dict] | None = None) -> dict[str, float]:
    """Each notebook's expected peak memory in bytes: its peak in the last good run, scaled by the ratio of
    simulated customers (this run's ``n_customers`` over that run's: a notebook's tables grow with the bank);
    {} when there is no good run."""
    try:
        man = json.loads((Path(out_dir) / "latest" / "manifest.json").read_text())
        before = man.get("parameters", {})
        out = {}
        for nb in man["notebooks"]:
            if not nb.get("peak_rss_mb"):
                continue
            n_then = before.get(nb["name"], {}).get("n_customers")
            n_now = (resolved or {}).get(nb["name"], {}).get("n_customers")
            scale = n_now / n_then if n_then and n_now else 1.0
            out[nb["name"]] = float(nb["peak_rss_mb"]) * 2**20 * max(scale, 1.0)
        return out
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


#: the thread pools of numerical libraries a kernel may start (BLAS, OpenMP for scikit-learn, numexpr)
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def kernel_threads(jobs: int) -> dict[str, str]:
    """Thread caps for each notebook's kernel when ``jobs`` run at once: the machine's cores shared out
    (at least one each), so two kernels on two cores do not each start two BLAS and OpenMP threads and
    fight over them. A variable the user has set is left as it is."""
    per = str(max(1, (os.cpu_count() or 1) // max(jobs, 1)))
    return {v: per for v in THREAD_VARS if v not in os.environ}


def critical_path(deps: dict[str, set[str]], seconds: dict[str, float]) -> dict[str, float]:
    """For each notebook, the expected time from its start to the end of the longest chain of notebooks that
    wait for it (its own time plus its slowest dependent's chain). Starting the largest first keeps a
    two-core run from leaving the longest chain for last; unknown durations count as 1 s, so the first run
    falls back to the order of the chains' lengths."""
    dependents: dict[str, list[str]] = {n: [] for n in deps}
    for n, ds in deps.items():
        for d in ds:
            dependents.setdefault(d, []).append(n)
    memo: dict[str, float] = {}

    def chain(n: str) -> float:
        if n not in memo:
            memo[n] = seconds.get(n, 1.0) + max((chain(m) for m in dependents.get(n, [])), default=0.0)
        return memo[n]

    return {n: chain(n) for n in deps}


def simulated_banks(specs: list[NotebookSpec], resolved: dict[str, dict]) -> list[tuple[int, int]]:
    """The (n_customers, random_state) of every simulated bank the selected notebooks will ask for: those
    whose ``data_source`` is ``"synthetic"`` after the run's parameters are applied."""
    out = set()
    for s in specs:
        eff = {k: p.default for k, p in s.parameters.items()} | resolved.get(s.name, {})
        if eff.get("data_source") == "synthetic" and "n_customers" in eff:
            out.add((int(eff["n_customers"]), int(eff.get("random_state", 1))))
    return sorted(out)


#: peak memory of a notebook per simulated customer (bytes): the largest, 04, peaks at 1.58 GB on 1M customers
#: and 2.52 GB on 2M (05: 1.43 and 2.37 GB; building the bank: 2.3 GB at 2M), so about 1,260 bytes a customer
#: at 2M and less above it (the imports and the fixed-size tables are shared); 10 % above 04's measurement.
#: (It was 2,400 while 04 held its start/stop rows and five copies of its early-warning frame.)
BYTES_PER_CUSTOMER = 1_400
#: share of the machine's memory one notebook may plan to use (two run at once with --jobs 2 only when smaller)
MEMORY_SHARE = 0.8


def machine_memory() -> int:
    """Physical memory of this machine in bytes (0 when unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def check_sizes(banks: list[tuple[int, int]], memory: int | None = None) -> None:
    """Refuse, before anything is built, a simulated bank whose notebooks would not fit in memory: a
    ParameterError with the estimate and the limit."""
    memory = machine_memory() if memory is None else memory
    if not memory:
        return
    limit = int(memory * MEMORY_SHARE / BYTES_PER_CUSTOMER)
    for n, _ in banks:
        if n > limit:
            raise ParameterError(
                "n_customers",
                f"at most {limit:,} customers on this machine: {n:,} need about "
                f"{n * BYTES_PER_CUSTOMER / 1e9:,.1f} GB per notebook, the machine has {memory / 1e9:,.1f} GB",
                n,
            )


def preflight_sources(specs: list[NotebookSpec], resolved: dict[str, dict]) -> None:
    """Check every ``data_source`` before any kernel starts: "synthetic", a public set's name, ``spark:<table>``
    or a path that exists, is readable and not empty — else a ParameterError naming the notebook. A relative
    path is made absolute here, against the folder ``cmlib run`` was started in (kernels run in the notebooks'
    folder, where it would mean something else)."""
    from cmlib.data import PUBLIC_SETS
    from cmlib.data.io import header_columns, unreadable

    for s in specs:
        if "data_source" not in s.parameters:
            continue
        v = resolved.get(s.name, {}).get("data_source", s.parameters["data_source"].default)
        if isinstance(v, str) and not v.strip():
            raise ParameterError(
                "data_source", "'synthetic', a public set's name, spark:<table> or a path", v, where=s.name
            )
        if not isinstance(v, str) or v == "synthetic" or v in PUBLIC_SETS or v.startswith("spark:"):
            continue
        p = Path(v).expanduser().resolve()
        expected = f"'synthetic', a public set ({', '.join(PUBLIC_SETS)}), spark:<table> or an existing path"
        if not p.exists():
            raise ParameterError("data_source", expected, v, where=s.name)
        if not os.access(p, os.R_OK):
            raise ParameterError("data_source", "a path this user can read", v, where=s.name)
        if p.is_file() and p.stat().st_size == 0:
            raise ParameterError("data_source", "a file that is not empty", v, where=s.name)
        if p.is_dir() and not any(p.iterdir()):
            raise ParameterError("data_source", "a folder that is not empty", v, where=s.name)
        problem = unreadable(p)
        if problem:
            raise ParameterError("data_source", "a readable table", problem, where=s.name)
        head = header_columns(p) or []
        twice = sorted({c for c in head if head.count(c) > 1})
        if twice:
            raise ParameterError("data_source", f"one column of each name in {p.name}", twice, where=s.name)
        resolved.setdefault(s.name, {})["data_source"] = str(p)
        _check_named_columns(s, resolved.get(s.name, {}), p)


def _check_named_columns(spec: NotebookSpec, values: dict, path: Path) -> None:
    """The columns a notebook's parameters name (declared in its metadata ``cmlib.columns_from``: parameters
    whose value is a column, a list of columns or a role → column mapping) must be in the user's table: a
    ParameterError naming the notebook, parameter and the missing columns, before any kernel starts."""
    from cmlib.data.io import header_columns

    if spec.columns_table and path.is_dir() and (path / spec.columns_table).is_dir():
        path = path / spec.columns_table  # a folder of tables: the one the mapping is about
    have = header_columns(path)
    if have is None:
        return
    from cmlib.experiments.aggregates import looks_like_sums

    if looks_like_sums(have):  # per-arm sums name their metrics sum_<m>: the notebook checks those
        return
    for name in spec.columns_from:
        if name not in spec.parameters:
            continue
        v = values.get(name, spec.parameters[name].default)
        named: list[str] = []
        for x in v.values() if isinstance(v, dict) else [v]:
            named += (
                [str(c) for c in x]
                if isinstance(x, list | tuple)
                else [str(x)]
                if x not in (None, "")
                else []
            )
        missing = [c for c in named if c not in have]
        if missing:
            shown = ", ".join(have[:12]) + (", …" if len(have) > 12 else "")
            raise ParameterError(name, f"columns of {path.name} (it has {shown})", missing, where=spec.name)


def preflight_data(specs: list[NotebookSpec], resolved: dict[str, dict], log=_log) -> None:
    """Each notebook that reads a user's file or folder runs its own loader on it before any kernel starts
    (:mod:`cmlib.report.source_check`, in a process of its own so the runner stays small): a file that
    breaks a rule exits 2 with the loader's one line per notebook, in seconds rather than inside a kernel."""
    from cmlib.report.source_check import MAX_BYTES, source_bytes

    jobs = []
    for s in specs:
        chk = s.source_check
        v = resolved.get(s.name, {}).get("data_source")
        if not chk or not isinstance(v, str) or not Path(v).is_absolute():
            continue  # synthetic, a public set or a Spark table: nothing of the user's to read here
        if source_bytes(v) > MAX_BYTES:
            log(f"[check] {s.name}: {v} is larger than {MAX_BYTES / 1e6:,.0f} MB; the notebook checks it")
            continue
        values = {n: resolved.get(s.name, {}).get(n, p.default) for n, p in s.parameters.items()}
        empty_none = set(chk.get("none_if_empty", []))
        args = {
            k: (None if n in empty_none and not values[n] else values[n]) for k, n in chk["arguments"].items()
        }
        jobs.append({"notebook": s.name, "function": chk["function"], "arguments": args})
    if not jobs:
        return
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "cmlib.report.source_check"],
        input=json.dumps(jobs, default=str),
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:  # the check itself broke: say so and leave the data to the kernels
        log(f"[check] the data check did not run ({r.stderr.strip().splitlines()[-1:]}); the notebooks check")
        return
    problems = json.loads(r.stdout or "[]")
    if problems:
        raise SourceError([f"{p['notebook']}: {p['error']}" for p in problems])
    log(f"[check] {len(jobs)} data source(s) valid in {time.perf_counter() - t0:.1f} s")


def _run_stoppable(cmd: list[str], what: str, log) -> subprocess.CompletedProcess:
    """Run a helper process before any notebook starts; a SIGTERM or SIGINT to the runner meanwhile stops it too
    and exits 128 + the signal, saying so (nothing was published yet)."""
    import signal
    import threading

    proc = subprocess.Popen(
        cmd, stderr=subprocess.PIPE, text=True, env=dict(os.environ, CMLIB_RUNNER_PID=str(os.getpid()))
    )
    if threading.current_thread() is not threading.main_thread():
        _, err = proc.communicate()
        return subprocess.CompletedProcess(cmd, proc.returncode, None, err)

    def stop(signum, frame):
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log(f"stopped by {signal.Signals(signum).name} while {what}; nothing published")
        os._exit(128 + signum)

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _, err = proc.communicate()
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
    return subprocess.CompletedProcess(cmd, proc.returncode, None, err)


def prepare_banks(specs: list[NotebookSpec], resolved: dict[str, dict], log=_log) -> None:
    """Build (or find) each simulated bank the run needs once, before any kernel starts, so every notebook
    reads the same Parquet copy instead of simulating the bank again (:mod:`cmlib.data.cache`)."""
    from cmlib.data.cache import cache_path, is_complete

    for n, rs in simulated_banks(specs, resolved):
        t0 = time.perf_counter()
        path, hit = cache_path(n, rs), is_complete(cache_path(n, rs))
        if not hit:
            # built in a process of its own: the runner stays small, so the notebooks it starts afterwards do
            # not inherit its peak memory in their own (Linux keeps ru_maxrss across fork and exec)
            # it dies with the runner (even a SIGKILLed one), and a SIGTERM or Ctrl-C stops it with the runner
            # its peak memory is reported on stderr's last line (the run's memory goal counts this step too)
            code = (
                "import resource, sys; from cmlib.report._execute import _die_with_runner; _die_with_runner(); "
                "from cmlib.data.cache import cached_bank; cached_bank(int(sys.argv[1]), int(sys.argv[2])); "
                "sys.stderr.write(f'peak_rss_kb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n')"
            )
            r = _run_stoppable(
                [sys.executable, "-c", code, str(n), str(rs)],
                f"building the simulated bank of {n:,} customers",
                log,
            )
            if r.returncode != 0:
                raise RuntimeError(
                    f"building the simulated bank of {n:,} customers failed:\n{r.stderr[-3000:]}"
                )
        how = "cached" if hit else "built"
        peak = re.search(r"peak_rss_kb (\d+)", "" if hit else r.stderr)
        mem = f", peak {int(peak.group(1)) / 1024:,.0f} MB" if peak else ""
        log(
            f"[data] simulated bank of {n:,} customers (random_state {rs}): {how} in {time.perf_counter() - t0:.1f} s{mem}, {path}"
        )


def run(
    notebooks: list[str] | None = None,
    *,
    params: RunParameters | None = None,
    params_file: str | None = None,
    jobs: int = 1,
    with_code: bool = False,
    out_dir: str | Path = "reports",
    notebooks_dir: str | Path = "notebooks",
    cell_timeout: int = 1800,
    run_id: str | None = None,
    log=_log,
) -> RunResult:
    """Run notebooks and publish their reports; see the module docstring. Returns a :class:`RunResult`."""
    if jobs < 1:
        raise ParameterError("--jobs", "an integer ≥ 1", jobs)
    threads = kernel_threads(jobs)
    if cell_timeout <= 0:
        raise ParameterError("--cell-timeout", "seconds > 0", cell_timeout)
    notebooks_dir = Path(notebooks_dir).resolve()
    out_dir = Path(out_dir).resolve()
    blocker = next((p for p in [out_dir, *out_dir.parents] if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise ParameterError("--out", "a folder for the reports (a file is in the way)", str(blocker))
    paths = resolve_notebooks(notebooks, notebooks_dir)
    specs = [read_spec(p) for p in paths]
    rp = params or RunParameters()
    all_specs = [read_spec(p) for p in sorted(notebooks_dir.glob("*.ipynb")) if p.resolve() not in paths]
    resolved = validate_parameters(specs, rp, specs + all_specs)  # before any kernel starts
    deps = dependency_order(specs)
    preflight_sources(specs, resolved)
    preflight_data(specs, resolved, log)
    check_sizes(simulated_banks(specs, resolved))
    prepare_banks(specs, resolved, log)

    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out_dir, log, notebooks_dir)
    run_id, staging = claim_run(out_dir, run_id)
    (staging / "notebooks").mkdir(parents=True)
    children: dict[int, subprocess.Popen] = {}
    restore = _stop_on_signal(children, staging, run_id, log, notebooks_dir)
    started = dt.datetime.now()
    by_name = {s.name: s for s in specs}
    results: dict[str, NotebookResult] = {}
    total = len(specs)

    done_dir = staging / DONE
    done_dir.mkdir()

    def mark_done(name: str, status: str) -> None:
        tmp = done_dir / f".{name}.tmp"
        tmp.write_text(status + "\n")
        os.rename(tmp, done_dir / name)  # a waiting kernel never reads a half-written status

    def execute(spec: NotebookSpec, wait_for: list[str]) -> NotebookResult:
        job = {
            "name": spec.name,
            "input": str(spec.path),
            "output": str(staging / "notebooks" / spec.path.name),
            "html": str(staging / f"{spec.name}.html"),
            "result": str(staging / "notebooks" / f".{spec.name}.result.json"),
            "parameters": resolved[spec.name],
            "cell_timeout": cell_timeout,
            "cwd": str(spec.path.parent),
            "with_code": with_code,
        }
        job_file = staging / "notebooks" / f".{spec.name}.job.json"
        job_file.write_text(json.dumps(job))
        env = dict(
            os.environ,
            **threads,
            **{
                ENV_RUN_DIR: str(staging),
                ENV_NOTEBOOK: spec.name,
                ENV_WAIT_FOR: ";".join(f"{d}:{','.join(by_name[d].produces)}" for d in wait_for),
                ENV_CACHE_DIR: str(cache_root()),
                "MPLBACKEND": "module://matplotlib_inline.backend_inline",
                "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            },
        )
        # its own session: a terminal's Ctrl-C reaches the runner only, which stops every notebook itself
        proc = subprocess.Popen(
            [sys.executable, "-m", "cmlib.report._execute", str(job_file)],
            env={**env, ENV_RUNNER_PID: str(os.getpid())},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        children[proc.pid] = proc
        try:
            _, stderr = proc.communicate()
        finally:
            children.pop(proc.pid, None)
        proc.stderr_text = stderr
        res_file = Path(job["result"])
        if res_file.exists():
            r = json.loads(res_file.read_text())
            res_file.unlink()
        else:
            r = {
                "status": "failed",
                "error": f"executor crashed: {proc.stderr_text.strip()[-2000:]}",
                "seconds": 0.0,
                "attempts": 0,
            }
        job_file.unlink()
        waited = done_dir / f"{spec.name}.waited"
        return NotebookResult(
            spec.name,
            r["status"],
            r["seconds"],
            r["error"],
            r.get("attempts", 0),
            r.get("peak_rss_mb"),
            r.get("bad_input", False),
            float(waited.read_text()) if waited.exists() else 0.0,
        )

    pending = dict(deps)
    running: dict[Future, str] = {}
    priority = critical_path(deps, previous_seconds(out_dir))

    def start(name: str, wait_for: list[str]) -> None:
        log(
            f"[start] {name}"
            + (
                f" (early: starts and reads its data while waiting for {', '.join(wait_for)})"
                if wait_for
                else ""
            )
        )
        running[pool.submit(execute, by_name[name], wait_for)] = name
        del pending[name]

    memory = machine_memory() * MEMORY_SHARE
    peaks = previous_peaks(out_dir, resolved)

    def busy() -> int:
        """Notebooks using a core: running ones, less those whose kernel waits for another notebook."""
        return sum(1 for n in running.values() if not (done_dir / f"{n}.waiting").exists())

    def fits(name: str) -> bool:
        """Starting ``name`` early keeps the running notebooks' last known peaks within memory (a waiting kernel
        holds its data); unknown peaks count as 1 GB."""
        planned = sum(peaks.get(n, 1e9) for n in [*running.values(), name])
        return not memory or planned <= memory

    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        while pending or running:
            # the longest remaining chain first (its own time and its dependents'), then by name. A notebook whose
            # inputs are all being made may start early: its kernel starts, imports and reads its data while a
            # core is free, and waits at its first artefact; while it waits, its core counts as free again
            for name in sorted(pending, key=lambda n: (-priority[n], n)):
                if busy() >= jobs:
                    break
                ds, now = pending[name], set(running.values())
                if any(d in results and results[d].status != "ok" for d in ds):
                    failed_dep = sorted(d for d in ds if results[d].status != "ok")
                    results[name] = NotebookResult(name, "skipped", error=f"needs {', '.join(failed_dep)}")
                    mark_done(name, "skipped")
                    log(
                        f"[{len(results)}/{total}] skipped {name}: needs {', '.join(failed_dep)}, which failed"
                    )
                    del pending[name]
                elif all(d in results for d in ds):
                    start(name, [])
                elif all(d in now or d in results for d in ds) and fits(name):
                    start(name, sorted(d for d in ds if d in now))
            if not running:
                continue
            # woken by a notebook finishing, or every half second to see whether a kernel began waiting
            done, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                name = running.pop(fut)
                res = fut.result()
                failed_dep = sorted(d for d in deps[name] if d in results and results[d].status != "ok")
                if failed_dep and res.status != "ok":  # started early; what it waited for failed
                    res = replace(
                        res, status="skipped", error=f"needs {', '.join(failed_dep)}", bad_input=False
                    )
                results[name] = res  # only this (main) thread writes results
                mark_done(name, res.status)
                tail = "" if res.status == "ok" else f" — {res.error}"
                mem = f", peak {res.peak_rss_mb:,.0f} MB" if res.peak_rss_mb else ""
                wait_note = f" (+{res.waited_seconds:.1f} s waiting)" if res.waited_seconds >= 0.05 else ""
                log(
                    f"[{len(results)}/{total}] {res.status:6s} {name} in {res.own_seconds:.1f} s"
                    f"{wait_note}{mem}{tail}"
                )
                for line in read_fallbacks(staging).get(name, []):
                    log(f"[fallback] {name}: {line}")

    restore()
    shutil.rmtree(
        done_dir, ignore_errors=True
    )  # the runner's signals to waiting kernels, not part of the run
    ordered = [results[s.name] for s in specs]
    status = "ok" if all(r.status == "ok" for r in ordered) else "failed"
    metrics = read_metrics(staging)
    (staging / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    inputs = {}
    for f in sorted((staging / "inputs").glob("*.jsonl")) if (staging / "inputs").exists() else []:
        inputs[f.stem] = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    from cmlib.report.html import summary_lines  # nbformat: only once the notebooks have run

    commit = _git(notebooks_dir, "rev-parse", "HEAD")
    dirty = _git(notebooks_dir, "status", "--porcelain", "--untracked-files=no")
    manifest: dict[str, Any] = {
        "run_id": run_id,
        "status": status,
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
        "params_file": params_file,
        "parameters": resolved,
        "alerts": rp.alerts,
        "fallbacks": read_fallbacks(staging),
        # each good report's summary as published: the dashboard repeats it
        "summaries": {
            r.name: summary_lines(staging / "notebooks" / f"{r.name}.ipynb")
            for r in ordered
            if r.status == "ok" and (staging / "notebooks" / f"{r.name}.ipynb").is_file()
        },
        "data_fingerprint": inputs,
        "git": {"commit": commit, "dirty": bool(dirty) if dirty is not None else None},
        "packages": _versions(),
        "jobs": jobs,
        "cell_timeout_s": cell_timeout,
        "with_code": with_code,
        "notebooks": [asdict(r) for r in ordered],
        "order": {n: sorted(d) for n, d in deps.items()},
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    write_run_page(staging, out_dir)  # the run's own page: what reports/latest/ opens
    (staging / PID_FILE).unlink(missing_ok=True)

    final = out_dir / run_id
    os.rename(staging, final)  # atomic publish: readers see the whole run or none of it
    if status == "ok":
        _point_latest(out_dir, run_id)
    write_index(out_dir)
    log(f"run {run_id}: {status} — {final}")
    return RunResult(run_id, final, status, ordered)


def _stop_on_signal(children: dict, staging: Path, run_id: str, log, notebooks_dir: Path):
    """On SIGTERM or SIGINT: stop every running notebook (its executor's session; the kernel follows its
    parent), remove the staging folder and exit 128 + the signal. Returns a function that puts the previous
    handlers back. Only in the main thread (where Python delivers signals)."""
    import shutil
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def stop(signum, frame):
        for pid in list(children):
            try:
                os.killpg(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        for proc in list(children.values()):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(private_of(run_id, notebooks_dir), ignore_errors=True)
        log(f"run {run_id}: stopped by {signal.Signals(signum).name}; nothing published, staging removed")
        os._exit(128 + signum)

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    return lambda: [signal.signal(sig, h) for sig, h in old.items()]


def _point_latest(out_dir: Path, run_id: str) -> None:
    """Move the ``latest`` link to ``run_id`` atomically (a new link renamed over the old one)."""
    tmp = Path(tempfile.mktemp(prefix=".latest-", dir=out_dir))
    os.symlink(run_id, tmp)
    os.replace(tmp, out_dir / "latest")


def main_run(args) -> int:
    """CLI adapter for ``cmlib run`` (argparse namespace → :func:`run`)."""
    from cmlib.report.params import add_cli_params, load_params_file

    rp = load_params_file(args.params_file) if args.params_file else RunParameters()
    add_cli_params(rp, [tuple(p) for p in args.param or []])
    t0 = time.perf_counter()
    res = run(
        args.notebooks,
        params=rp,
        params_file=args.params_file,
        jobs=args.jobs,
        with_code=args.with_code,
        out_dir=args.out,
        notebooks_dir=args.notebooks_dir,
        cell_timeout=args.cell_timeout,
    )
    print(
        f"{sum(r.status == 'ok' for r in res.notebooks)} of {len(res.notebooks)} notebooks ok "
        f"in {time.perf_counter() - t0:.1f} s; index: {Path(args.out) / 'index.html'}"
    )
    if res.ok:
        return 0
    failed = [r for r in res.notebooks if r.status == "failed"]
    for r in failed:  # the reason on stderr too, where a scheduler or a shell script looks for it
        print(f"cmlib: error: {r.name}: {r.error}", file=sys.stderr)
    # bad input found inside a kernel is still bad input: exit 2, as when found before any kernel starts
    return 2 if failed and all(r.bad_input for r in failed) else 1
