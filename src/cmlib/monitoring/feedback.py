"""cmlib.monitoring — customer feedback: complaint rates and the net promoter score, with intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cmlib.base import Result
from cmlib.errors import ParameterError
from cmlib.validation import require_columns

#: complaints are quoted per this many contacts
PER_CONTACTS = 10_000


def complaint_rates(
    complaints: pd.DataFrame, contacts: pd.Series, by: str | list[str], alpha: float = 0.05
) -> pd.DataFrame:
    """Complaints per 10,000 contacts per ``by`` group with exact (Garwood) Poisson intervals at 1 − ``alpha``
    (statsmodels' ``confint_poisson``, method ``exact-c``). ``contacts``: contacts per group (index = group)."""
    from statsmodels.stats.rates import confint_poisson

    by = [by] if isinstance(by, str) else list(by)
    require_columns(complaints, by, "complaints")
    n = complaints.groupby(by, observed=True).size().reindex(contacts.index, fill_value=0)
    lo, hi = confint_poisson(n.to_numpy(), contacts.to_numpy(float), method="exact-c", alpha=alpha)
    return pd.DataFrame(
        {
            "complaints": n.astype(np.int64),
            "contacts": contacts.astype(np.int64),
            "per_10k": PER_CONTACTS * n / contacts,
            "ci_low": PER_CONTACTS * lo,
            "ci_high": PER_CONTACTS * hi,
        },
        index=contacts.index,
    )


def complaint_outliers(rates: pd.DataFrame, ratio: float = 2.0, alpha: float = 0.01) -> pd.DataFrame:
    """Each group's complaint rate against all the other groups together: the rate ratio with a 1 − ``alpha``
    interval (statsmodels' ``confint_poisson_2indep``, score method); a group is ``flagged`` when even the
    interval's lower end is above ``ratio`` (several times the others, not merely different)."""
    from statsmodels.stats.rates import confint_poisson_2indep

    if ratio <= 0:
        raise ParameterError("ratio", "> 0", ratio)
    out = []
    for g, r in rates.iterrows():
        k_rest = rates["complaints"].sum() - r["complaints"]
        n_rest = rates["contacts"].sum() - r["contacts"]
        est = (r["complaints"] / r["contacts"]) / (k_rest / n_rest) if k_rest > 0 else float("nan")
        if k_rest > 0 and r["complaints"] > 0:
            with np.errstate(invalid="ignore", divide="ignore"):  # statsmodels' score root search probes 0
                lo, hi = confint_poisson_2indep(
                    r["complaints"],
                    r["contacts"],
                    k_rest,
                    n_rest,
                    method="score",
                    compare="ratio",
                    alpha=alpha,
                )
        else:
            lo = hi = float("nan")
        out.append({"group": g, "ratio_to_others": est, "ci_low": float(lo), "ci_high": float(hi)})
    res = pd.DataFrame(out).set_index("group")
    res.index.name = rates.index.name
    res["flagged"] = res["ci_low"] > ratio
    return res


@dataclass
class NPS(Result):
    """Net promoter score per group: promoters (9–10) minus detractors (0–6), in points (−100 to 100), with an
    adjusted-Wald interval from the trinomial variance Var = (p_P + p_D − (p_P − p_D)²) / n (Rocks 2016: the
    shares and n adjusted by 3/4 promoter, 3/4 detractor and 3 answers; coverage checked by simulation)."""

    summary: pd.DataFrame


def net_promoter(survey: pd.DataFrame, by: str, score: str = "score", alpha: float = 0.05) -> NPS:
    """NPS per ``by`` group of a survey with scores 0–10 in ``score`` (out-of-range scores are an error)."""
    from cmlib.errors import DataError

    require_columns(survey, [by, score], "survey")
    s = pd.to_numeric(survey[score], errors="coerce")
    bad = s.isna() | (s < 0) | (s > 10)
    if bad.any():
        raise DataError.single("survey", score, "a score from 0 to 10", int(bad.sum()))
    d = pd.DataFrame({"g": survey[by], "pro": s >= 9, "det": s <= 6})
    g = d.groupby("g", observed=True).agg(
        n=("pro", "size"), promoters=("pro", "mean"), detractors=("det", "mean")
    )
    g["nps"] = 100 * (g["promoters"] - g["detractors"])
    # adjusted Wald (Rocks 2016): 3/4 of a promoter and of a detractor and 3 answers added, so that a small group
    # with no promoter or no detractor still gets an interval of honest width
    n_adj = g["n"] + 3
    p_pro, p_det = (g["promoters"] * g["n"] + 0.75) / n_adj, (g["detractors"] * g["n"] + 0.75) / n_adj
    diff = p_pro - p_det
    se = np.sqrt(np.maximum(p_pro + p_det - diff**2, 0.0) / n_adj)
    zq = stats.norm.ppf(1 - alpha / 2)
    g["ci_low"] = np.maximum(100 * (diff - zq * se), -100.0)
    g["ci_high"] = np.minimum(100 * (diff + zq * se), 100.0)
    g.index.name = by
    return NPS(g)


#: the time a complaint should be resolved in (eight weeks, the usual regulatory deadline)
RESOLVE_WITHIN_DAYS = 56


def resolution_times(complaints: pd.DataFrame, by: str = "reason") -> pd.DataFrame:
    """Per ``by`` group: complaints, still open (``days_to_resolve`` missing), median days to resolve among
    the resolved, and the share resolved within :data:`RESOLVE_WITHIN_DAYS` days."""
    require_columns(complaints, [by, "days_to_resolve"], "complaints")
    d = complaints.assign(_open=complaints["days_to_resolve"].isna())
    g = d.groupby(by, observed=True).agg(
        complaints=("_open", "size"),
        open=("_open", "sum"),
        median_days_to_resolve=("days_to_resolve", "median"),
    )
    within = (d["days_to_resolve"] <= RESOLVE_WITHIN_DAYS).groupby(d[by], observed=True).sum()
    g["resolved_within_8_weeks"] = within / (g["complaints"] - g["open"]).where(lambda s: s > 0)
    return g
