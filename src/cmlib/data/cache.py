"""The simulated bank built once and read many times: a Parquet copy keyed by size, random state and the
generator's version.

``cmlib run`` builds the banks its notebooks will ask for before any kernel starts (:func:`cached_bank`);
each notebook's loader then calls :func:`bank`, which reads the cached copy when there is one and simulates in
memory otherwise — the same tables, dtypes and truth either way (tested), so a report's numbers do not depend
on where the world came from. The key holds a hash of the generator's source: a changed generator or other
parameters give a new folder. A folder is written under a temporary name and renamed when complete, with a
``COMPLETE`` marker; a half-written folder is never read. ``CMLIB_CACHE_DIR`` moves the cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cmlib.paths import cache_root

if (
    TYPE_CHECKING
):  # the simulator (numpy, pandas, scipy) is imported when a bank is built or read, not before:
    # the runner imports this module to find the cache and should start its notebooks without that cost
    from cmlib.data.synthetic import BankWorld

MARKER = "COMPLETE"


def generator_version() -> str:
    """A hash of the source that decides the simulated world (the simulator, the curves, the vocabulary)."""
    import cmlib

    pkg = Path(cmlib.__file__).parent
    files = sorted((pkg / "data" / "synthetic").glob("*.py")) + [pkg / "curves.py", pkg / "vocab.py"]
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def cache_path(n_customers: int, random_state: int, root: str | Path | None = None) -> Path:
    """The folder of one cached bank: ``bank-n<customers>-rs<random_state>-<generator version>``."""
    return (
        Path(root or cache_root()) / f"bank-n{int(n_customers)}-rs{int(random_state)}-{generator_version()}"
    )


def is_complete(path: Path) -> bool:
    return (Path(path) / MARKER).is_file()


def cached_bank(n_customers: int, random_state: int = 1, root: str | Path | None = None) -> tuple[Path, bool]:
    """The cached bank's folder, written first when missing; returns (folder, True if it was already there).
    Safe against a concurrent writer: each writes to its own temporary folder and the first rename wins."""
    final = cache_path(n_customers, random_state, root)
    if is_complete(final):
        return final, True
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{os.getpid()}-{time.monotonic_ns()}"
    from cmlib.data.synthetic import write_bank

    try:
        write_bank(tmp, n_customers=n_customers, random_state=random_state)
        (tmp / MARKER).write_text(f"{n_customers} customers, random_state {random_state}\n")
        if final.exists() and not is_complete(final):
            shutil.rmtree(final, ignore_errors=True)  # a folder left half-written by an older layout
        try:
            os.rename(tmp, final)
        except OSError:
            if not is_complete(final):  # not a lost race: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    prune(final)
    return final, False


def prune(current: Path, keep: int = 2) -> list[Path]:
    """Remove cached banks of the same size and random state made by older generators, keeping the newest
    ``keep`` (``current`` among them): each generator change writes a new ~100 MB folder per 1M customers, which
    nothing reads once the code has moved on. Returns the folders removed."""
    current = Path(current)
    stem = current.name.rsplit("-", 1)[0]  # bank-n<customers>-rs<random_state>
    siblings = [
        p
        for p in current.parent.glob(f"{stem}-*")
        if p.is_dir() and p.name.count("-") == current.name.count("-")
    ]
    older = sorted((p for p in siblings if p != current), key=lambda p: p.stat().st_mtime, reverse=True)
    removed = older[max(keep - 1, 0) :]
    for p in removed:
        shutil.rmtree(p, ignore_errors=True)
    return removed


def read_bank(path: str | Path) -> BankWorld:
    """A cached bank's tables and truth, as :func:`cmlib.data.simulate_bank` returns them; each table is read
    when first used."""
    import json

    from cmlib.data.synthetic.truth import CachedBankWorld

    path = Path(path)
    if not is_complete(path):
        raise FileNotFoundError(f"{path} is not a complete cached bank (no {MARKER} marker)")
    return CachedBankWorld(path, json.loads((path / "truth.json").read_text()))


def bank(n_customers: int = 100_000, random_state: int = 1, root: str | Path | None = None) -> BankWorld:
    """The simulated bank: read from the cache when a complete copy exists, else simulated in memory."""
    from cmlib.data.synthetic import simulate_bank

    path = cache_path(n_customers, random_state, root)
    return (
        read_bank(path)
        if is_complete(path)
        else simulate_bank(n_customers=n_customers, random_state=random_state)
    )
