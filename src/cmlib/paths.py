"""Where the project's folders are: the project root (the folder holding pyproject.toml and src/cmlib above
the current directory), its ``data/`` and the simulated bank's cache."""

from __future__ import annotations

import os
from pathlib import Path

#: overrides the folder the simulated bank is cached in (default ``<project>/data/cache``)
ENV_CACHE_DIR = "CMLIB_CACHE_DIR"


def project_root(start: str | Path | None = None) -> Path:
    """The folder holding pyproject.toml above ``start`` (default: the current directory), or ``start``."""
    here = Path(start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "pyproject.toml").exists() and (p / "src" / "cmlib").exists():
            return p
    return here


def cache_root() -> Path:
    """The folder for cached simulated banks: ``$CMLIB_CACHE_DIR`` or ``<project>/data/cache``."""
    v = os.environ.get(ENV_CACHE_DIR)
    return Path(v) if v else project_root() / "data" / "cache"
