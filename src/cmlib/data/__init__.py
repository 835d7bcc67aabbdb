"""Data: the simulated bank (:mod:`.synthetic`), real public sets (:mod:`.public`), schemas and loading."""

from cmlib.data.cache import bank, cached_bank, read_bank
from cmlib.data.io import load, open_table
from cmlib.data.public import PUBLIC_SETS, load_public
from cmlib.data.schemas import check_binary, require_columns, validate
from cmlib.data.synthetic import BankWorld, simulate_bank, write_bank

__all__ = [
    "PUBLIC_SETS",
    "BankWorld",
    "bank",
    "cached_bank",
    "check_binary",
    "load",
    "load_public",
    "open_table",
    "read_bank",
    "require_columns",
    "simulate_bank",
    "validate",
    "write_bank",
]
