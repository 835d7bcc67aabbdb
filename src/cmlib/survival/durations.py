"""cmlib.survival — duration tables (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd

from cmlib import engine
from cmlib.errors import DataError
from cmlib.validation import require_columns

CAUSES = ("default", "closure", "prepayment")


CLV_SCHEMA_VERSION = 1


def duration_table(
    panel: Any,
    account: str = "account_id",
    mob: str = "mob",
    state: str = "state",
    dpd: str = "dpd",
    default_dpd: int = 90,
    closed_states: Sequence[str] = ("closed",),
    prepaid_states: Sequence[str] = ("prepaid",),
    backend: str = "duckdb",
) -> pd.DataFrame:
    """One row per account from a monthly panel: ``entry`` (months already on book when first observed:
    left truncation), ``duration`` (MOB of the first event, else of the last observed month), ``cause``
    (default = first month at ``default_dpd``+ DPD, closure, prepayment, or censored) and 0/1 flags per cause.

    The aggregation runs in the engine (one row per account comes back). Raises DataError for an account
    whose months have gaps, or non-positive MOBs.
    """
    t = engine.table(panel, backend)
    require_columns(t, [account, mob, state, dpd], "performance")
    per = (
        t.group_by(account)
        .aggregate(
            first_mob=t[mob].min(),
            last_mob=t[mob].max(),
            n_rows=t.count(),
            first_default=ibis.ifelse(t[dpd] >= default_dpd, t[mob], None).min(),
            first_closed=ibis.ifelse(t[state].isin(list(closed_states)), t[mob], None).min(),
            first_prepaid=ibis.ifelse(t[state].isin(list(prepaid_states)), t[mob], None).min(),
        )
        .order_by(account)
    )
    d = engine.execute(per, backend)
    if (d["first_mob"] < 1).any():
        raise DataError.single("performance", mob, "months on book ≥ 1", int((d["first_mob"] < 1).sum()))
    gaps = d["n_rows"] != d["last_mob"] - d["first_mob"] + 1
    if gaps.any():
        raise DataError.single(
            "performance",
            mob,
            "no gaps in an account's months",
            int(gaps.sum()),
            d.loc[gaps, account].head(3).tolist(),
        )
    firsts = d[["first_default", "first_closed", "first_prepaid"]].astype(float)
    ev = firsts.min(axis=1)
    # the earliest cause wins; default first on a tie (it cannot tie with an exit in this panel)
    arr = firsts.fillna(np.inf).to_numpy()
    cause = np.where(ev.isna(), "censored", np.array(CAUSES)[np.argmin(arr, axis=1)])
    out = pd.DataFrame(
        {
            account: d[account],
            "entry": d["first_mob"] - 1,
            "duration": np.where(ev.isna(), d["last_mob"], ev).astype(int),
            "cause": cause,
        }
    )
    if (out["duration"] <= out["entry"]).any():
        raise DataError.single(
            "performance", mob, "entry before exit", int((out["duration"] <= out["entry"]).sum())
        )
    for c in CAUSES:
        out[c] = (out["cause"] == c).astype(int)
    return out


def _check_survival(
    df: pd.DataFrame, duration: str, event: str, entry: str | None = None, table: str = "durations"
):
    require_columns(df, [duration, event, entry], table)
    if (df[duration] <= 0).any():
        raise DataError.single(
            table,
            duration,
            "durations > 0",
            int((df[duration] <= 0).sum()),
            df.loc[df[duration] <= 0, duration].head(3).tolist(),
        )
    bad = ~df[event].isin([0, 1, True, False])
    if bad.any():
        raise DataError.single(
            table, event, "events in {0, 1}", int(bad.sum()), df.loc[bad, event].head(3).tolist()
        )
    if entry and (df[entry] >= df[duration]).any():
        raise DataError.single(table, entry, "entry before exit", int((df[entry] >= df[duration]).sum()))
