"""Validation helpers every module uses, so a bad input reads the same wherever it is found.

Each raises :class:`~cmlib.errors.DataError` naming the table (the caller's name for it), every failing
column, the rule and the number of offending rows (left out, never negative, when the rows were never
counted), or :class:`~cmlib.errors.ParameterError` naming the parameter, what was expected and what came.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from cmlib.errors import DataError


def _n_rows(df) -> int | None:
    return len(df) if isinstance(df, pd.DataFrame) else None


def require_columns(df, columns: Iterable[str | None], table: str) -> None:
    """Raise one DataError listing every column of ``columns`` (None entries skipped) missing from ``df``
    (a DataFrame, or anything with ``.columns`` such as an Ibis table)."""
    have = set(df.columns)
    missing = [c for c in dict.fromkeys(columns) if c is not None and c not in have]
    if missing:
        n = _n_rows(df)
        raise DataError(
            table, [{"column": c, "rule": "required column is missing", "n_rows": n} for c in missing]
        )


#: flags as people write them (case and surrounding spaces ignored)
FLAG_WORDS = {"1": 1, "0": 0, "true": 1, "false": 0, "yes": 1, "no": 0, "y": 1, "n": 0, "t": 1, "f": 0}


def check_binary(df: pd.DataFrame, column: str, table: str, allow_missing: bool = False) -> pd.Series:
    """Return ``df[column]`` as int 0/1 (float with NaN when ``allow_missing``) or raise DataError:
    non-binary values, missing values, one class only. Flags are read as users write them: 0/1, True/False,
    and the words true/false, yes/no, y/n, t/f in any case; anything else is an error naming up to three of
    the values."""
    require_columns(df, [column], table)
    s = df[column]
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        words = s.astype("string").str.strip().str.lower()
        s = words.map(FLAG_WORDS).where(s.notna())
        unread = s.isna() & df[column].notna()
        if unread.any():
            raise DataError.single(
                table,
                column,
                "a flag: 0/1, true/false or yes/no",
                int(unread.sum()),
                df[column][unread].unique()[:3].tolist(),
            )
        s = s.astype("float64")
    if not allow_missing and s.isna().any():
        raise DataError.single(table, column, "binary target has no missing values", s.isna().sum())
    v = s.dropna()
    if v.empty:  # every row without a value: say so, rather than 'both classes present in 0 rows'
        raise DataError.single(table, column, "some rows with a value (all are missing)", len(s))
    bad = ~v.isin([0, 1, True, False])
    if bad.any():
        raise DataError.single(
            table, column, "binary target in {0, 1}", bad.sum(), v[bad].unique()[:3].tolist()
        )
    if v.nunique() < 2:
        raise DataError.single(table, column, "both classes present", len(v), v.unique()[:1].tolist())
    return s.astype("float64") if allow_missing else s.astype("int64")


def numbers(
    df: pd.DataFrame, column: str, table: str, minimum: float | None = None, rule: str | None = None
) -> pd.Series:
    """``df[column]`` as floats, or a DataError naming the rows whose value is text (up to three of them) or,
    with ``minimum``, below it (``rule``: how the message words it). Missing values stay missing."""
    x = pd.to_numeric(df[column], errors="coerce")
    bad = x.isna() & df[column].notna()
    if minimum is not None:
        bad |= x < minimum
    rule = rule or ("a number" if minimum is None else f"a number ≥ {minimum:g}")
    if bad.any():
        raise DataError.single(table, column, rule, int(bad.sum()), df[column][bad].head(3).tolist())
    return x.astype(float)
