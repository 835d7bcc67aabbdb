"""cmlib.monitoring — compliance monitors: contact permissions, the APR charged, approval rates by group."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cmlib.validation import require_columns
from cmlib.vocab import CHANNEL_PERMISSION

#: the four-fifths rule: an approval-rate ratio between groups below this is adverse impact
ADVERSE_IMPACT_RATIO = 0.8


def contact_breaches(
    contacts: pd.DataFrame, customers: pd.DataFrame, permission: dict[str, str | None] | None = None
) -> pd.DataFrame:
    """Every contact sent without the channel's permission or to a do-not-contact customer: one row per
    contact and rule broken (``rule``: "no permission for <channel>" or "do-not-contact customer").

    ``permission``: the customer column each channel needs (default :data:`cmlib.vocab.CHANNEL_PERMISSION`;
    None: the customer comes to us). A customer missing from ``customers`` counts as without permission."""
    permission = CHANNEL_PERMISSION if permission is None else permission
    require_columns(contacts, ["contact_id", "customer_id", "channel"], "contacts")
    perm_cols = sorted({p for p in permission.values() if p})
    require_columns(customers, ["customer_id", "do_not_contact", *perm_cols], "customers")
    cust = customers.set_index("customer_id")
    idx = pd.Index(contacts["customer_id"])
    out = []
    dnc = cust["do_not_contact"].reindex(idx).fillna(False).astype(bool).to_numpy()
    ch = contacts["channel"].astype(str).to_numpy()
    for channel, col in permission.items():
        if not col:
            continue
        on = ch == channel
        ok = cust[col].reindex(idx).fillna(False).astype(bool).to_numpy()
        hit = on & ~ok
        if hit.any():
            out.append(contacts.loc[hit, ["contact_id", "customer_id", "campaign", "channel", "week"]].assign(
                rule=f"no permission for {channel}"
            ))  # fmt: skip
    if dnc.any():
        out.append(contacts.loc[dnc, ["contact_id", "customer_id", "campaign", "channel", "week"]].assign(
            rule="do-not-contact customer"
        ))  # fmt: skip
    cols = ["contact_id", "customer_id", "campaign", "channel", "week", "rule"]
    return pd.concat(out, ignore_index=True).sort_values("contact_id") if out else pd.DataFrame(columns=cols)


def apr_check(bookings: pd.DataFrame, cells: pd.DataFrame, apr_cap: float) -> pd.DataFrame:
    """Per campaign: the advertised APR and the highest the disclosure allows (% a year), the APR charged on its
    bookings (lowest, mean, highest), how many were charged above the disclosed maximum and above the legal
    ``apr_cap`` (% a year)."""
    require_columns(bookings, ["campaign", "apr_charged"], "contacts")
    require_columns(cells, ["campaign", "apr_advertised", "apr_max_disclosed"], "campaigns")
    terms = cells.drop_duplicates("campaign").set_index("campaign")[["apr_advertised", "apr_max_disclosed"]]
    b = bookings.dropna(subset=["apr_charged"])
    g = b.groupby("campaign")["apr_charged"].agg(
        bookings="size", apr_min="min", apr_mean="mean", apr_max="max"
    )
    out = terms.join(g, how="left")
    lim = b["campaign"].map(terms["apr_max_disclosed"])
    out["above_disclosed"] = (
        (b["apr_charged"] > lim + 1e-9).groupby(b["campaign"]).sum().reindex(out.index).fillna(0)
    )
    out["above_cap"] = (b["apr_charged"] > apr_cap).groupby(b["campaign"]).sum().reindex(out.index).fillna(0)
    return out.astype({"above_disclosed": np.int64, "above_cap": np.int64})


def approval_ratio(
    applications: pd.DataFrame,
    group: str,
    reference: str,
    by: str,
    approved: str = "approved",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per ``by`` value: each group's approval rate and the ratio of the lowest other group to ``reference``
    with a log-ratio (Katz) interval; ``flagged`` when the whole interval is below the four-fifths rule
    (:data:`ADVERSE_IMPACT_RATIO`), ``watch`` when only the estimate is."""
    require_columns(applications, [group, by, approved], "applications")
    a = applications.assign(_ok=applications[approved].astype(bool))
    g = a.groupby([by, group], observed=True)["_ok"].agg(["sum", "size"])
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for b, s in g.groupby(level=0, observed=True):
        s = s.droplevel(0)
        if reference not in s.index or len(s) < 2:
            continue
        x0, n0 = s.loc[reference]
        p0 = x0 / n0
        others = s.drop(reference)
        rates = others["sum"] / others["size"]
        grp = rates.idxmin()
        x1, n1 = others.loc[grp]
        p1 = x1 / n1
        r = p1 / p0 if p0 > 0 else float("nan")
        se = np.sqrt((1 - p1) / x1 + (1 - p0) / x0) if x1 > 0 and x0 > 0 else float("nan")
        rows.append(
            {
                by: b,
                "group": grp,
                "applications_group": int(n1),
                "approval_group": p1,
                "applications_reference": int(n0),
                "approval_reference": p0,
                "ratio": r,
                "ci_low": r * np.exp(-z * se),
                "ci_high": r * np.exp(z * se),
            }
        )
    out = pd.DataFrame(rows).set_index(by) if rows else pd.DataFrame()
    if len(out):
        out["flagged"] = out["ci_high"] < ADVERSE_IMPACT_RATIO
        out["watch"] = (out["ratio"] < ADVERSE_IMPACT_RATIO) & ~out["flagged"]
    return out


def offers_against_decision(cells: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """Each running campaign whose offer the A/B test assessed (``arm`` in ``cells``) with the test's decision
    (``decisions``: arm, decision); ``flagged`` when the test rejected it ("do not ship"). An offer the test
    has not decided yet ("keep running") is not flagged: the test has not found it worse."""
    require_columns(cells, ["campaign", "arm"], "campaigns")
    c = cells.dropna(subset=["arm"]).drop_duplicates("campaign")[["campaign", "arm"]]
    d = dict(zip(decisions["arm"].astype(str), decisions["decision"].astype(str), strict=True))
    missing = "not in the test's decision" if d else "no decision from the A/B test"
    c = c.assign(decision=[d.get(str(a), missing) for a in c["arm"]])
    c["flagged"] = c["decision"] == "do not ship"
    return c.set_index("campaign")
