"""The runner's check of a user's data before any kernel starts: each notebook's own loader, run on the
user's file with the run's parameters, in a process of its own.

A notebook declares its loader in its metadata (``cmlib.source_check``: ``function`` as
``module:name`` and ``arguments``, the loader's keyword → the notebook parameter that feeds it; parameters
listed in ``none_if_empty`` are passed as None when empty, as the notebook does). The loaders validate
everything they read (types, ranges, roles, both classes of a target), so a bad file is refused in a few
seconds with the library's own one-line error instead of inside a kernel. The check reads the data once
more; a source larger than :data:`MAX_BYTES` is left to the kernel, where the same loader refuses it.

Run as ``python -m cmlib.report.source_check`` with a JSON list of jobs on stdin; prints a JSON list of
``{"notebook", "error"}`` for the loaders that raised a cmlib error (any other exception is left for the
kernel to show, with its traceback, as the bug it is).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

#: sources larger than this (bytes on disk) are not read twice: the kernel's loader checks them (a folder of a
#: 1M-customer bank, 108 MB, would be read once more per notebook before the run starts)
MAX_BYTES = 64_000_000


def source_bytes(path: str | Path) -> int:
    """Size on disk of a file or of every file under a folder."""
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def check(jobs: list[dict]) -> list[dict]:
    """Run each job's loader; the cmlib errors they raise, one per notebook."""
    from cmlib.errors import CmlibError

    problems = []
    for job in jobs:
        module, name = job["function"].split(":")
        fn = getattr(importlib.import_module(module), name)
        try:
            fn(**job["arguments"])
        except CmlibError as exc:
            problems.append({"notebook": job["notebook"], "error": str(exc)})
        except Exception:  # noqa: BLE001 — not a bad-input error: the kernel reports it as the bug it is
            continue
    return problems


if __name__ == "__main__":  # pragma: no cover - run by the runner in a subprocess
    from cmlib.report._execute import skip_slow_optional_imports

    skip_slow_optional_imports()
    print(json.dumps(check(json.load(sys.stdin))))
