"""cmlib.experiments — the value of each arm per contact, and the decision artefact the next notebooks read
(one section of the package; the package re-exports every name).

An arm's value per contact = its booked rate × the lifetime value of an account booked on the arm's terms
(:class:`cmlib.finance.AccountValueModel`, with the arm's measured effect on early delinquency, activation
and spend) − its cost per contact. The interval comes from drawing every measured rate from its sampling
distribution (normal approximation, the same draws for control in every comparison) and pricing each draw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cmlib.artefacts import artefact_document, read_artefact, write_artefact
from cmlib.base import Result, TableResult
from cmlib.errors import ParameterError
from cmlib.finance import TERMS, AccountValueModel
from cmlib.validation import require_columns

DECISION_SCHEMA_VERSION = 1


@dataclass(repr=False)
class ArmValueResult(Result):
    """Per arm: the measured rates, the multipliers applied to the value model, the lifetime value of a
    booked account on the arm's terms, the value per contact (net of its cost) with an interval, and, for
    each treatment, the difference from control (``value_lift``) with its interval and the chance it is
    positive. Money in the value model's currency; the horizon is the model's."""

    summary: pd.DataFrame
    alpha: float
    horizon: int
    risk_adjusted: bool = False

    def to_dict(self) -> dict:
        s = self.summary.set_index("arm")
        return {f"{a}.value_lift": float(v) for a, v in s["value_lift"].dropna().items()}


#: the rates an arm's value is priced with, each over its own rows: booked per contact, early delinquency
#: per booked account, activation per booked account, spend per activated account
_RATES = ("booked_rate", "risk_rate", "activation_rate", "spend_per_active")


def _rate_draws(mean: float, m2: float, k: float, n: int, rng) -> np.ndarray:
    """``n`` normal draws of a mean of ``k`` rows (sample variance m2 / (k − 1)), floored at 0."""
    m = float(mean) if k else 0.0
    se = float(np.sqrt(m2 / (k - 1)) / np.sqrt(k)) if k > 1 else 0.0
    return np.maximum(m + se * rng.standard_normal(n), 0.0)


def _value_stats(data, arm, booked, activated, spend, risk, backend) -> pd.DataFrame:
    """Per arm: ``n`` contacts and (n, mean, M2) of each rate of :data:`_RATES` over its own rows, counted
    in the engine from rows, or from :class:`ArmSums` — where early delinquency is missing unless booked,
    activation needs a booking and spend needs activation (so the rates' sums are the flags' sums)."""
    from cmlib import engine
    from cmlib.experiments.aggregates import check_arm, is_sums

    names = dict(zip(_RATES, (booked, risk, activated, spend), strict=True))
    if is_sums(data):
        check_arm(data, arm)
        m = data.moments([booked, risk, activated, spend]).set_index(arm)
        out = pd.DataFrame({"n": m[f"n_{booked}"]})
        for k in ("booked_rate", "risk_rate"):
            for p in ("n", "mean", "m2"):
                out[f"{p}_{k}"] = m[f"{p}_{names[k]}"]
        # activation among the booked (a 0/1 flag), spend among the activated (0 for the others)
        for k, y, base in (("activation_rate", activated, booked), ("spend_per_active", spend, activated)):
            kk, sy = m[f"sum_{base}"], m[f"sum_{y}"]
            sq = sy if k == "activation_rate" else m[f"m2_{y}"] + sy * sy / m[f"n_{y}"]
            out[f"n_{k}"], out[f"mean_{k}"] = kk, sy / kk.where(kk > 0)
            out[f"m2_{k}"] = (sq - sy * sy / kk.where(kk > 0)).clip(lower=0.0)
        return out.fillna({c: 0.0 for c in out.columns if c.startswith("m2_")})
    t = engine.table(data, backend)
    require_columns(t, [arm, booked, activated, spend, risk], "contacts")
    t = t.filter(t[arm].notnull())
    b = t.filter(t[booked].cast("boolean"))
    parts = [
        engine.moments(t, [booked], by=[arm], backend=backend).set_index(arm),
        engine.moments(b, [risk, activated], by=[arm], backend=backend).set_index(arm),
        engine.moments(b.filter(b[activated].cast("boolean")), [spend], by=[arm], backend=backend).set_index(
            arm
        ),
    ]
    m = pd.concat(parts, axis=1)
    out = pd.DataFrame({"n": m[f"n_{booked}"]})
    for k, c in names.items():
        for p in ("n", "mean", "m2"):
            out[f"{p}_{k}"] = m[f"{p}_{c}"] if f"{p}_{c}" in m else np.nan
    return out.fillna({c: 0 for c in out.columns if c.startswith(("n_", "m2_"))})


def arm_value(
    data: Any,
    arm: str,
    control: str,
    terms: pd.DataFrame,
    model: AccountValueModel,
    booked: str = "booked",
    activated: str = "activated",
    spend: str = "spend_90d",
    risk: str = "early_dpd30_3m",
    alpha: float = 0.05,
    n_draws: int = 2000,
    random_state: int = 0,
    risk_adjust: bool = False,
    backend: str = "duckdb",
) -> ArmValueResult:
    """Value per contact of every arm of a test (see the module docstring).

    ``terms``: one row per arm (index = arm) with :data:`cmlib.finance.TERMS` and ``cost_per_contact``.
    The arm's relative ``risk`` rate among booked accounts scales the model's default hazard, its
    activation rate among booked accounts the utilisation and spend, its spend per activated account the
    spend. Draws use ``random_state``: the same inputs give the same interval.

    ``risk_adjust=False`` (the default) prices every arm at the book's default risk and reports the measured
    risk ratio beside it: early delinquency is rare (tens of events per arm even in a large test), so its
    ratio would swamp the value's interval; the arm's risk is judged by the guardrail instead. The arm's
    exposure still moves the loss (a higher limit doubles the balance at default)."""
    stats = _value_stats(data, arm, booked, activated, spend, risk, backend)
    require_columns(terms, [*TERMS, "cost_per_contact"], "arm terms")
    if control not in stats.index:
        raise ParameterError("control", f"an arm of the data ({sorted(map(str, stats.index))})", control)
    arms = [control] + sorted(a for a in stats.index if a != control)
    missing = [a for a in arms if a not in terms.index]
    if missing:
        raise ParameterError("terms", "a row of terms for every arm", missing)
    rng = np.random.default_rng(random_state)
    draws, point = {}, {}
    for a in arms:
        st = stats.loc[a]
        point[a] = {k: st[f"mean_{k}"] if st[f"n_{k}"] else np.nan for k in _RATES} | {"n": int(st["n"])}
        draws[a] = {
            k: _rate_draws(st[f"mean_{k}"], st[f"m2_{k}"], st[f"n_{k}"], n_draws, rng) for k in _RATES
        }

    def ratio(x, a, k):
        c = x[control][k]
        return np.divide(x[a][k], c, out=np.ones_like(np.asarray(x[a][k], float)), where=np.asarray(c) > 0)

    rows, per_draw = [], {}
    for a in arms:
        t = terms.loc[[a] * (n_draws + 1), list(TERMS)].reset_index(drop=True)
        mult = {
            "risk_ratio": np.r_[ratio(point, a, "risk_rate"), ratio(draws, a, "risk_rate")],
            "activation_multiplier": np.r_[
                ratio(point, a, "activation_rate"), ratio(draws, a, "activation_rate")
            ],
            "spend_multiplier": np.r_[
                ratio(point, a, "spend_per_active"), ratio(draws, a, "spend_per_active")
            ],
        }
        priced = {
            "pd_multiplier": mult["risk_ratio"] if risk_adjust else 1.0,
            "activation_multiplier": mult["activation_multiplier"],
            "spend_multiplier": mult["spend_multiplier"],
        }
        v = model.value(t, **priced)["lifetime_value"].to_numpy()
        booked_rate = np.r_[point[a]["booked_rate"], draws[a]["booked_rate"]]
        per_contact = booked_rate * v - float(terms.loc[a, "cost_per_contact"])
        per_draw[a] = per_contact[1:]
        lo, hi = np.quantile(per_contact[1:], [alpha / 2, 1 - alpha / 2])
        rows.append(
            {
                "arm": a,
                "contacts": point[a]["n"],
                "booked_rate": point[a]["booked_rate"],
                **{k: float(m[0]) for k, m in mult.items()},
                "value_per_booking": float(v[0]),
                "cost_per_contact": float(terms.loc[a, "cost_per_contact"]),
                "value_per_contact": float(per_contact[0]),
                "ci_low": float(lo),
                "ci_high": float(hi),
            }
        )
    out = pd.DataFrame(rows)
    base = out.set_index("arm").loc[control, "value_per_contact"]
    lift, llo, lhi, ppos = [], [], [], []
    for a in arms:
        if a == control:
            lift.append(np.nan), llo.append(np.nan), lhi.append(np.nan), ppos.append(np.nan)
            continue
        d = per_draw[a] - per_draw[control]
        lift.append(float(out.set_index("arm").loc[a, "value_per_contact"] - base))
        lo, hi = np.quantile(d, [alpha / 2, 1 - alpha / 2])
        llo.append(float(lo)), lhi.append(float(hi)), ppos.append(float((d > 0).mean()))
    out["value_lift"], out["lift_ci_low"], out["lift_ci_high"], out["chance_positive"] = lift, llo, lhi, ppos
    return ArmValueResult(out, alpha, int(model.horizon), risk_adjust)


def sample_to_decide(value: ArmValueResult, alpha: float = 0.05, power: float = 0.8) -> pd.DataFrame:
    """Per treatment arm: contacts per arm needed for the value-lift interval to exclude zero with ``power``
    at the lift measured so far (standard errors shrink with √n), and how many more that is."""
    from scipy.stats import norm

    s = value.summary.dropna(subset=["value_lift"])
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    se = (s["lift_ci_high"] - s["lift_ci_low"]) / (2 * norm.ppf(1 - value.alpha / 2))
    n = s["contacts"].to_numpy(float)
    need = np.where(s["value_lift"].abs() > 0, n * (z * se / s["value_lift"].abs()) ** 2, np.inf)
    return pd.DataFrame(
        {
            "arm": s["arm"].to_numpy(),
            "contacts_per_arm_needed": np.ceil(need),
            "more_per_arm": np.ceil(np.maximum(need - n, 0)),
        }
    )


def write_decision(
    path: str | Path, decision, experiment_id: str, control: str, terms: pd.DataFrame, **context
) -> Path:
    """The decision artefact (``decision.json``) the next notebooks read: per arm the verdict, the reason,
    the value per contact and its interval, the sample still needed and the date it is reached."""
    arms = json.loads(decision.summary.to_json(orient="records"))
    return write_artefact(
        path,
        artefact_document(
            "decision",
            DECISION_SCHEMA_VERSION,
            experiment_id=experiment_id,
            control=control,
            arms=arms,
            terms=json.loads(terms.reset_index(names="arm").to_json(orient="records")),
            **context,
        ),
    )


def read_decision(source) -> tuple[pd.DataFrame, dict]:
    """Read a decision artefact: (one row per arm with ``arm``, ``decision``, ``reason``…, the document)."""
    from cmlib.errors import ArtefactError

    money = (-1e6, 1e6)  # per booking or per contact: beyond a million is a damaged or hand-edited file
    doc = read_artefact(
        source,
        "decision",
        DECISION_SCHEMA_VERSION,
        required=("arms", "control", "terms"),
        # each may be null: a decision on a user's contacts without product terms is not valued
        ranges={
            k: (*r, "or null")
            for k, r in {
                "value_per_booking.*": money,
                "arms.*.value_per_contact": money,
                "arms.*.value_lift": money,
                "terms.*.apr": (0, 100),
                "terms.*.annual_fee": (0, 1e5),
                "terms.*.credit_limit": (0, 1e8),
                "terms.*.reward_rate": (0, 1),
                "terms.*.cost_per_contact": (0, 1e5),
                "horizon_months": (1, 600),
            }.items()
        },
    )
    arms = pd.DataFrame(doc["arms"])
    if arms.empty or not {"arm", "decision"} <= set(arms.columns):
        raise ArtefactError("decision artefact: 'arms' must list objects with 'arm' and 'decision'")
    bad = sorted(set(arms["decision"]) - {"ship", "do not ship", "keep running"})
    if bad:
        raise ArtefactError(f"decision artefact: unknown decision(s) {bad}")
    return arms, doc


def decision_against_truth(decision, experiment_truth: dict) -> TableResult:
    """Each arm's decision beside the simulator's (``truth["experiment"]``: ``decision`` and
    ``value_lift_per_contact``). ``wrong`` marks a shipped arm the truth rejects or a rejected arm the truth
    ships; a keep-running arm is undecided, not wrong."""
    s = decision.summary.set_index("arm")
    rows = []
    for a, r in s.iterrows():
        true = experiment_truth["decision"].get(a)
        rows.append(
            {
                "arm": a,
                "decision": r["decision"],
                "true_decision": true,
                "true_value_lift": experiment_truth.get("value_lift_per_contact", {}).get(a, np.nan),
                "value_lift": r.get("value_lift", np.nan),
                "agrees": r["decision"] == true,
                "wrong": r["decision"] in ("ship", "do not ship")
                and true is not None
                and r["decision"] != true,
            }
        )
    return TableResult(pd.DataFrame(rows))
