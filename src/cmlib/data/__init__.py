"""Data: the simulated bank (:mod:`.synthetic`), real public sets (:mod:`.public`), schemas and loading.

The names below are loaded on first use (PEP 562): the runner imports :mod:`cmlib.data.cache` to find the
cached bank before any notebook starts, without paying for the simulator, pyarrow and the engine (~2.5 s).
"""

from cmlib.lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
