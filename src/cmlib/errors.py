"""The one error hierarchy of cmlib.

The CLI maps every :class:`CmlibError` to exit code 2 and one readable line; any other exception is a
bug and exits 1 with a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _short(value, width: int = 40) -> str:
    """An example value for a message: its repr, cut to ``width`` characters (a 100,000-character cell must
    not become a 100,000-character error line)."""
    r = repr(value)
    return r if len(r) <= width else f"{r[: width - 11]}… ({len(str(value)):,} chars)"


class CmlibError(Exception):
    """Base class of every error cmlib raises on purpose (bad input, bad parameter, bad artefact)."""


class ParameterError(CmlibError, ValueError):
    """A parameter is unknown, of the wrong type or out of range.

    The message names the parameter, what was expected and what was given.
    """

    def __init__(self, name: str, expected: str, got: Any, where: str | None = None):
        self.name, self.expected, self.got, self.where = name, expected, got, where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}parameter '{name}': expected {expected}, got {got!r}")


class DataError(CmlibError, ValueError):
    """Input data break a rule.

    ``failures`` is a list of dicts with keys ``column``, ``rule``, ``n_rows`` and optional
    ``examples``; the message names the table and every failure.
    """

    def __init__(self, table: str, failures: Iterable[dict] | None = None, message: str | None = None):
        self.table = table
        unique: list[dict] = []
        for f in failures or []:  # a rule checked twice (a key, once per column of it) is said once
            if f not in unique:
                unique.append(f)
        self.failures = unique
        if message is None:
            parts = []
            for f in self.failures:
                ex = f.get("examples")
                ex_txt = f"; e.g. {', '.join(_short(e) for e in ex)}" if ex else ""
                n = f.get("n_rows")
                # a count the caller could not know (a table it never materialised) is left out, never negative
                where = f" in {n} row(s)" if n is not None and n >= 0 else ""
                if where and str(f["rule"]).startswith("required column is missing"):
                    where = f" (the table has {n:,} rows)"  # every row lacks it: say what the count is
                parts.append(f"column '{f['column']}' breaks rule '{f['rule']}'{where}{ex_txt}")
            message = "; ".join(parts) or "invalid"
        super().__init__(f"table '{table}': {message}")

    @classmethod
    def single(cls, table: str, column: str, rule: str, n_rows: int | None, examples: Iterable | None = None):
        """One failing rule: the common case (``n_rows=None`` when the count is unknown)."""
        return cls(
            table,
            [
                {
                    "column": column,
                    "rule": rule,
                    "n_rows": None if n_rows is None else int(n_rows),
                    "examples": list(examples or [])[:5],
                }
            ],
        )


class ArtefactError(CmlibError):
    """An artefact another notebook wrote is missing, of another schema version, or malformed."""


class ArtefactMissing(ArtefactError):
    """An artefact (or what using it needs, such as product terms) is not there: a notebook may fall back on
    stated assumptions. A damaged artefact is a plain :class:`ArtefactError`, which stops the run (exit 2)."""


class NotFittedError(CmlibError, ValueError, AttributeError):
    """An estimator was used before ``fit`` (the same bases as scikit-learn's ``NotFittedError``)."""


class SourceError(CmlibError):
    """The run's pre-flight found bad input in one or more notebooks' data: one line per notebook, each the
    loader's own :class:`DataError` or :class:`ParameterError` message prefixed by the notebook's name."""

    def __init__(self, lines: list[str]):
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))
