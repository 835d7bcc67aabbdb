"""Names of a package loaded on first use (PEP 562), so that importing the package costs nothing until one is
used: the runner and its per-notebook executors import ``cmlib.data.cache`` and ``cmlib.report.html`` without
paying for pandas, pyarrow and the simulator (~1–2.5 s per process)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module


def lazy_exports(package: str, exports: dict[str, str], on_first: Callable[[], None] | None = None):
    """``(__getattr__, __dir__)`` for ``package``'s ``__init__``: ``exports`` maps a name to the submodule
    (relative to ``package``) that defines it; ``on_first`` runs once, before the first name is loaded."""
    import sys

    done = []

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if on_first is not None and not done:
            done.append(True)
            on_first()
        value = getattr(import_module(f"{package}.{exports[name]}"), name)
        setattr(sys.modules[package], name, value)  # later lookups find it without this function
        return value

    def __dir__():
        return sorted([*vars(sys.modules[package]), *exports])

    return __getattr__, __dir__
