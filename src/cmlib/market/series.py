"""cmlib.market — input (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cmlib.errors import DataError, ParameterError
from cmlib.validation import require_columns


def monthly(
    data: pd.DataFrame | pd.Series,
    date: str = "month",
    value: str | None = None,
    table: str = "market",
    positive: bool = False,
    min_periods: int = 0,
) -> pd.Series:
    """A clean monthly series from a frame (summing rows of the same month, e.g. over segments) or a Series.

    Raises DataError for gaps in the monthly index (naming how many months are missing), missing values,
    non-positive values when ``positive`` (logs are taken), or fewer than ``min_periods`` months.
    """
    if isinstance(data, pd.DataFrame):
        require_columns(data, [date, value], table)
        s = data.groupby(pd.to_datetime(data[date]))[value].sum(min_count=1).sort_index()
        s.name = value
    else:
        s = data.sort_index()
    idx = pd.DatetimeIndex(s.index)
    if len(idx) and (idx != idx.to_period("M").to_timestamp()).any():
        raise DataError.single(
            table, date, "dates are month starts", int((idx != idx.to_period("M").to_timestamp()).sum())
        )
    if idx.has_duplicates:
        raise DataError.single(table, date, "one value per month", int(idx.duplicated().sum()))
    if len(idx):
        full = pd.date_range(idx.min(), idx.max(), freq="MS")
        missing = full.difference(idx)
        steps = set(np.diff(idx.year * 12 + idx.month)) if len(idx) > 1 else set()
        if len(missing) and steps and min(steps) >= 3 and steps <= {3, 6, 12}:
            # quarterly (or coarser) data: refused with what to do, not as a series with holes
            raise DataError.single(
                table,
                date,
                f"monthly dates (these are {min(steps)} months apart: aggregate or interpolate to months first)",
                len(idx),
            )
        if len(missing):
            raise DataError.single(
                table,
                date,
                "no gaps in the monthly index",
                len(missing),
                [str(d.date()) for d in missing[:3]],
            )
    s = pd.Series(s.to_numpy(dtype=float), index=pd.DatetimeIndex(idx, freq="MS"), name=s.name)
    if s.isna().any():
        raise DataError.single(table, str(s.name), "not null", int(s.isna().sum()))
    if positive and (s <= 0).any():
        raise DataError.single(
            table, str(s.name), "> 0 (logs are taken)", int((s <= 0).sum()), s[s <= 0].head(3).tolist()
        )
    if len(s) < min_periods:
        raise DataError.single(table, str(s.name), f"at least {min_periods} months", len(s))
    return s


def select_segments(panel: pd.DataFrame, segments: Sequence[str], column: str = "segment") -> pd.DataFrame:
    """Rows of the chosen segments (all rows when ``segments`` is empty); an unknown segment is an error."""
    if not segments:
        return panel
    if column not in panel.columns:
        raise DataError.single(
            "market", column, "required column is missing (segments were requested)", len(panel)
        )
    known = set(panel[column].dropna().astype(str))
    unknown = [s for s in segments if str(s) not in known]
    if unknown:
        raise ParameterError("segments", f"segments of the data ({', '.join(sorted(known))})", unknown)
    return panel[panel[column].astype(str).isin([str(s) for s in segments])]
