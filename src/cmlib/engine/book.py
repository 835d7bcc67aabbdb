"""cmlib.engine — vintages and roll rates (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

from cmlib.engine.core import _columns_exist, execute, table
from cmlib.errors import DataError


def vintage_counts(
    panel: Any,
    account: str = "account_id",
    month: str = "month",
    mob: str = "mob",
    dpd: str = "dpd",
    bad_dpd: int = 90,
    backend: str = "duckdb",
) -> pd.DataFrame:
    """Per origination cohort (month of MOB 1) × MOB: accounts in the cohort, accounts first reaching
    ``bad_dpd``+ at that MOB, and accounts still observed at that MOB. Cumulative bad rate =
    cumsum(n_new_bad) / n_accounts, defined while the cohort is observed."""
    t = table(panel, backend)
    _columns_exist(t, [account, month, mob, dpd], "performance")
    per_acc = (
        t.mutate(_bad=t[dpd] >= bad_dpd)
        .group_by(account)
        .aggregate(
            cohort=ibis.ifelse(t[mob] == 1, t[month], None).min(),
            first_mob=t[mob].min(),
            last_mob=t[mob].max(),
            first_bad=ibis.ifelse(t[dpd] >= bad_dpd, t[mob], None).min(),
        )
    )
    size = per_acc.group_by("cohort").aggregate(n_accounts=per_acc.count().cast("int64"))
    newbad = (
        per_acc.filter(per_acc.first_bad.notnull())
        .group_by(["cohort", "first_bad"])
        .aggregate(n_new_bad=ibis._.count().cast("int64"))
    )
    observed = per_acc.group_by(["cohort", "last_mob"]).aggregate(n_last=ibis._.count().cast("int64"))
    s = execute(size.order_by("cohort"), backend)
    nb = execute(newbad.order_by(["cohort", "first_bad"]), backend)
    ob = execute(observed.order_by(["cohort", "last_mob"]), backend)
    if s["cohort"].isna().any():
        n = int(s.loc[s["cohort"].isna(), "n_accounts"].sum())
        raise DataError.single("performance", mob, "every account has a MOB 1 row (origination)", n)
    rows = []
    for _, r in s.iterrows():
        c = r["cohort"]
        o = ob[ob["cohort"] == c]
        max_mob = int(o["last_mob"].max())
        b = nb[nb["cohort"] == c].set_index("first_bad")["n_new_bad"]
        ended = o.set_index("last_mob")["n_last"]
        still = int(r["n_accounts"])
        for m in range(1, max_mob + 1):
            rows.append(
                {
                    "cohort": c,
                    "mob": m,
                    "n_accounts": int(r["n_accounts"]),
                    "n_new_bad": int(b.get(m, 0)),
                    "n_observed": still,
                }
            )
            still -= int(ended.get(m, 0))
    return pd.DataFrame(rows)


def roll_counts(
    panel: Any, account: str = "account_id", mob: str = "mob", state: str = "state", backend: str = "duckdb"
) -> pd.DataFrame:
    """Month-to-month transition counts: ``from_state``, ``to_state``, ``n`` over consecutive MOBs of the
    same account (a gap in an account's months is not a transition)."""
    t = table(panel, backend)
    _columns_exist(t, [account, mob, state], "performance")
    a = t.select(_acc=t[account], _mob=t[mob], from_state=t[state])
    b = t.select(_acc2=t[account], _mob2=t[mob] - 1, to_state=t[state])
    j = a.inner_join(b, [a._acc == b._acc2, a._mob == b._mob2])
    expr = (
        j.group_by(["from_state", "to_state"])
        .aggregate(n=ibis._.count().cast("int64"))
        .order_by(["from_state", "to_state"])
    )
    return execute(expr, backend).reset_index(drop=True)
