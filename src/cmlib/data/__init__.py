"""Data: the simulated bank (:mod:`.synthetic`), real public sets (:mod:`.public`), schemas and loading.

The names below are loaded on first use (PEP 562): the runner imports :mod:`cmlib.data.cache` to find the
cached bank before any notebook starts, without paying for the simulator, pyarrow and the engine (~2.5 s).
"""

from importlib import import_module

_EXPORTS = {
    "bank": "cache",
    "cached_bank": "cache",
    "read_bank": "cache",
    "load": "io",
    "open_table": "io",
    "PUBLIC_SETS": "public",
    "load_public": "public",
    "check_binary": "schemas",
    "require_columns": "schemas",
    "validate": "schemas",
    "BankWorld": "synthetic",
    "simulate_bank": "synthetic",
    "write_bank": "synthetic",
}


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cmlib.data' has no attribute {name!r}")
    value = getattr(import_module(f"cmlib.data.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS])


__all__ = sorted(_EXPORTS)
