"""Headline metrics and run context.

Inside a run started by ``cmlib run`` the runner sets ``CMLIB_RUN_DIR`` and ``CMLIB_NOTEBOOK`` in the
kernel's environment; :func:`record` then appends to ``<run>/metrics/<notebook>.jsonl`` and artefacts
go to ``<run>/artefacts/``. Interactively (JupyterLab) metrics are kept in memory and artefacts go to
``data/artefacts/`` of the project, so the notebooks behave the same in both places.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cmlib.errors import ParameterError
from cmlib.paths import project_root  # noqa: F401  (re-exported: cmlib.report.metrics.project_root)

ENV_RUN_DIR = "CMLIB_RUN_DIR"
ENV_NOTEBOOK = "CMLIB_NOTEBOOK"
#: the notebooks this one reads artefacts from that had not finished when the runner started it, with the
#: artefacts each makes: ``notebook:stem,stem;notebook:stem``
ENV_WAIT_FOR = "CMLIB_WAIT_FOR"
#: <run>/.done/<notebook>: written by the runner when a notebook finishes, holding its status
DONE = ".done"


@dataclass(frozen=True)
class Metric:
    """A recorded headline number. ``unit`` is one of fraction, money, count, months, score, ratio, other."""

    notebook: str
    name: str
    value: float
    unit: str = "other"
    higher_is_better: bool | None = None
    description: str = ""
    #: money only: the report's currency (:func:`cmlib.report.format.set_currency`) when the metric was recorded
    currency: str = ""


UNITS = {"fraction", "money", "count", "months", "score", "ratio", "days", "other"}
_session: list[Metric] = []


def run_dir() -> Path | None:
    """The run's folder when executed by ``cmlib run``, else None."""
    v = os.environ.get(ENV_RUN_DIR)
    return Path(v) if v else None


def current_notebook() -> str:
    return os.environ.get(ENV_NOTEBOOK, "interactive")


def record(
    name: str, value: Any, unit: str = "other", higher_is_better: bool | None = None, description: str = ""
) -> None:
    """Record a headline metric for the run index and alerts (returns nothing, so a notebook cell
    ending in ``record(...)`` prints nothing).

    ``value`` must be a finite real number (rates as fractions, money in the portfolio currency).
    Recording the same name twice in a notebook keeps the last value.
    """
    if unit not in UNITS:
        raise ParameterError("unit", f"one of {sorted(UNITS)}", unit)
    if isinstance(value, bool | np.bool_):
        value = float(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(name, "a real number", value) from None
    if not math.isfinite(v):
        raise ParameterError(name, "a finite number", value)
    from cmlib.report.format import _currency

    m = Metric(
        current_notebook(),
        name,
        v,
        unit,
        higher_is_better,
        description,
        _currency["code"] if unit == "money" else "",
    )
    rd = run_dir()
    if rd is not None:
        f = rd / "metrics" / f"{m.notebook}.jsonl"
        f.parent.mkdir(parents=True, exist_ok=True)
        with f.open("a") as fh:
            fh.write(json.dumps(asdict(m)) + "\n")
    else:
        _session.append(m)


def recorded(notebook: str | None = None) -> list[Metric]:
    """Metrics recorded in this (interactive) session."""
    return [m for m in _session if notebook is None or m.notebook == notebook]


def read_metrics(folder: Path) -> dict[str, dict[str, dict]]:
    """{notebook: {name: metric dict}} from a run's metrics/*.jsonl (last value per name wins)."""
    out: dict[str, dict[str, dict]] = {}
    for f in sorted((folder / "metrics").glob("*.jsonl")):
        for line in f.read_text().splitlines():
            if line.strip():
                d = json.loads(line)
                out.setdefault(d["notebook"], {})[d["name"]] = d
    return out


def _as_frame_or_table(df: Any) -> Any:
    """A pandas frame, or an engine (Ibis) table left where it is; per-arm sums give their frame."""
    frame = getattr(df, "frame", None)
    return frame if isinstance(frame, pd.DataFrame) else df


def _is_engine_table(df: Any) -> bool:
    return type(df).__module__.startswith("ibis.")


def _rows(df: Any) -> int:
    """Rows of a frame, or of an engine table (counted there: one query)."""
    return int(df.count().execute()) if _is_engine_table(df) else len(df)


def fingerprint(df: Any, rows: int | None = None) -> str:
    """A short content hash of a frame (values, index and column names): the data's identity in a manifest.
    A table in an engine (Spark, DuckDB) is not read out: its identity is its schema and row count (``rows``
    when the caller has counted it already)."""
    df = _as_frame_or_table(df)
    h = hashlib.sha256()
    h.update("|".join(map(str, df.columns)).encode())
    if _is_engine_table(df):
        h.update(str(df.schema()).encode())
        h.update(str(_rows(df) if rows is None else rows).encode())
    else:
        h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()[:16]


def record_input(name: str, df: Any, as_of: Any = None) -> str:
    """Note an input table's fingerprint and shape in the run manifest; returns the fingerprint. ``df``: a
    pandas frame, a table in an engine (counted there) or per-arm sums (their frame).

    ``as_of``: the last date the table holds data for (a date, timestamp or ``YYYY-MM-DD`` text); the run's
    page and the dashboard show the latest of them as the data's as-of date."""
    df = _as_frame_or_table(df)
    rows = _rows(df)  # counted once: on Spark each count is a job
    fp = fingerprint(df, rows)
    row = {"table": name, "rows": rows, "columns": len(df.columns), "fingerprint": fp}
    if as_of is not None and not pd.isna(as_of):
        row["as_of"] = pd.Timestamp(as_of).date().isoformat()
    rd = run_dir()
    if rd is not None:
        f = rd / "inputs" / f"{current_notebook()}.jsonl"
        f.parent.mkdir(parents=True, exist_ok=True)
        with f.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
    return fp


def artefact_dir() -> Path:
    """Where this notebook writes artefacts for others: ``<run>/artefacts`` or ``data/artefacts``. Read
    another notebook's artefact with :func:`find_artefact` (or :func:`locate_artefacts`), never from here: in a
    run it waits for the artefact when this notebook was started before its producer finished."""
    rd = run_dir()
    d = rd / "artefacts" if rd is not None else project_root() / "data" / "artefacts"
    d.mkdir(parents=True, exist_ok=True)
    return d


def private_dir() -> Path:
    """Where this notebook writes customer-level lists (account or customer ids): ``data/private/<run-id>/`` in a
    run, ``data/private/interactive/`` otherwise — never beside the published reports, which are meant to be
    forwarded."""
    rd = run_dir()
    name = rd.name.removeprefix(".staging-") if rd is not None else "interactive"
    d = project_root() / "data" / "private" / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def _from_good_runs(reports: Path, filename: str) -> Path | None:
    """The artefact of the newest good run that has it: a run of one notebook becomes ``latest`` without the
    other notebooks' artefacts, which the runs before it still hold."""
    latest = reports / "latest" / "artefacts" / filename
    if latest.exists():
        return latest
    if not reports.is_dir():
        return None
    for run in sorted((d for d in reports.iterdir() if d.is_dir() and d.name != "latest"), reverse=True):
        f = run / "artefacts" / filename
        if f.exists():
            try:
                if json.loads((run / "manifest.json").read_text()).get("status") == "ok":
                    return f
            except (OSError, ValueError):
                continue
    return None


def _waits() -> dict[str, str]:
    """{artefact stem: the notebook making it} for the producers this notebook was started before (the runner
    passes ``notebook:stem,stem;notebook:stem`` in ``CMLIB_WAIT_FOR``)."""
    out = {}
    for part in filter(None, os.environ.get(ENV_WAIT_FOR, "").split(";")):
        name, _, stems = part.partition(":")
        out.update(dict.fromkeys(filter(None, stems.split(",")), name))
    return out


def wait_for_artefact(filename: str, poll_seconds: float = 0.1) -> float:
    """In a run, wait until this run's ``filename`` exists or the notebook making it has finished; returns
    the seconds waited (0 when there is nothing to wait for).

    The runner may start a notebook before the notebooks it reads from have finished, so that its kernel
    starts, imports and loads its data on a core that would otherwise sit idle, and so that it goes on as soon
    as the artefact it needs is written (a producer writes its artefacts atomically, often well before its
    report is done). When the producer failed without writing it, raises :class:`~cmlib.errors.CmlibError`
    (the runner reports this notebook as skipped, as if it had never started). The time waited is added to
    ``<run>/.done/<notebook>.waited`` so the runner can tell a notebook's own time from its waits."""
    import time

    from cmlib.errors import CmlibError

    rd = run_dir()
    producer = _waits().get(Path(filename).stem) if rd is not None else None
    if producer is None:
        return 0.0
    target, finished = rd / "artefacts" / filename, rd / DONE / producer
    if target.exists():
        return 0.0
    t0 = time.monotonic()
    waiting = (
        rd / DONE / f"{current_notebook()}.waiting"
    )  # while it exists, the runner counts this core as free
    waiting.touch()
    try:
        while not (target.exists() or finished.exists()):
            time.sleep(poll_seconds)
    finally:
        waiting.unlink(missing_ok=True)
    waited = time.monotonic() - t0
    log = rd / DONE / f"{current_notebook()}.waited"
    before = float(log.read_text()) if log.exists() else 0.0
    log.write_text(f"{before + waited:.3f}\n")
    if not target.exists() and finished.read_text().strip() != "ok":
        raise CmlibError(f"needs {producer}, which failed")
    return waited


def find_artefact(filename: str) -> Path | None:
    """Locate an artefact, or None.

    In a run (``cmlib run``): this run's, else the newest good published run's that has it
    (``reports/latest`` first). Run interactively (JupyterLab): the newer of that and ``data/artefacts``
    (where an interactive run of the producing notebook writes), so re-running the scorecard notebook by hand
    is picked up next."""
    rd = run_dir()
    root = project_root()
    if rd is not None:
        wait_for_artefact(filename)
        own = rd / "artefacts" / filename
        if own.exists():
            return own
        return _from_good_runs(rd.parent, filename) or _from_good_runs(root / "reports", filename)
    found = [
        c
        for c in (_from_good_runs(root / "reports", filename), root / "data" / "artefacts" / filename)
        if c is not None and c.exists()
    ]
    return max(found, key=lambda c: c.stat().st_mtime) if found else None


def producer_of(filename: str, notebooks_dir: Path | None = None) -> str | None:
    """The notebook that declares it produces ``filename`` (metadata ``cmlib.produces``: ``scorecard`` makes
    ``scorecard.json``), or None."""
    # the runner's reading of the same metadata; imported here: kernels load this module to record metrics
    # and need not pay for nbformat
    from cmlib.report.params import read_spec

    folder = notebooks_dir or project_root() / "notebooks"
    stem = Path(filename).stem
    return next((s.name for s in map(read_spec, sorted(folder.glob("*.ipynb"))) if stem in s.produces), None)


FALLBACKS = "fallbacks"  # <run>/fallbacks/<notebook>.txt: what each notebook fell back on, one line each


def note_fallback(message: str) -> None:
    """Record that this notebook fell back on something (an artefact missing or unreadable, an assumption in
    its place): the runner prints the line on the console after the notebook and the run index shows it, so a
    fallback is seen without opening the report. Interactively it is only printed."""
    rd = run_dir()
    if rd is None:
        print(f"Fallback: {message}")
        return
    d = rd / FALLBACKS
    d.mkdir(exist_ok=True)
    with open(d / f"{current_notebook()}.txt", "a") as f:
        f.write(" ".join(str(message).split()) + "\n")


def read_fallbacks(folder: Path) -> dict[str, list[str]]:
    """{notebook: [fallback lines]} of a run folder."""
    d = Path(folder) / FALLBACKS
    return {f.stem: f.read_text().splitlines() for f in sorted(d.glob("*.txt"))} if d.is_dir() else {}


def locate_artefacts(*filenames: str) -> dict[str, Path | None]:
    """Find each artefact (:func:`find_artefact`) and print one line per file that does not come from this
    run: where it came from (an earlier run, ``data/artefacts``), or, when it is missing, which notebook to run
    first and how. An artefact of this run is the normal case of a scheduled run and says nothing to a reader."""
    out = {}
    root = project_root()
    for name in filenames:
        path = out[name] = find_artefact(name)
        if path is not None:
            rd, run = run_dir(), path.resolve().parent.parent  # <run>/artefacts/<name>
            if rd is not None and run == rd.resolve():
                continue
            if path.parent.parent.name == "latest":
                label = f"the last good run ({run.name})"
            else:
                label = str(path.parent.relative_to(root)) if path.is_relative_to(root) else str(path.parent)
            print(f"{name}: from {label}")
        else:
            nb = producer_of(name)
            how = (
                f"run {nb} first: `make reports`, or open notebooks/{nb}.ipynb and Run All"
                if nb
                else "no notebook in notebooks/ declares it"
            )
            print(f"{name} not found (no good run under reports/, nothing in data/artefacts): {how}")
            if run_dir() is not None:
                note_fallback(f"{name} not found: {how}")
    return out
