"""Money: the value of a booked account, a campaign's P&L and its sensitivity, and the total-cost APR of an
offer.

Units: money in the portfolio currency, rates as fractions a year (0.10 = 10 %), time in months. Discounting
is monthly at the rate equivalent to the annual one: (1 + r_annual)^(1/12) − 1.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cmlib.artefacts import artefact_document, read_artefact, write_artefact
from cmlib.base import BaseEstimator, Result, TableResult, check_is_fitted
from cmlib.errors import ArtefactError, ParameterError
from cmlib.validation import require_columns

#: loss given default when nothing else is known: an unsecured card balance, no recovery assumed (fraction)
DEFAULT_LGD = 1.0


def monthly_rate(annual_rate: float) -> float:
    """The monthly rate equivalent to an annual effective rate."""
    if annual_rate <= -1:
        raise ParameterError("annual_rate", "a rate above -100 %", annual_rate)
    return (1 + annual_rate) ** (1 / 12) - 1


def account_npv(
    margin_per_month: float,
    lifetime_months: float,
    expected_loss: float = 0.0,
    annual_discount_rate: float = 0.10,
    acquisition_cost: float = 0.0,
    loss_month: float | None = None,
) -> float:
    """NPV of a booked account: the margin earned at the end of each month for ``lifetime_months`` (a
    fractional last month earns its fraction), minus the expected credit loss (PD × EAD × LGD, booked at
    ``loss_month``, default mid-life), minus what it cost to acquire (paid at booking)."""
    if lifetime_months < 0:
        raise ParameterError("lifetime_months", "a non-negative number of months", lifetime_months)
    r = monthly_rate(annual_discount_rate)
    full = int(np.floor(lifetime_months))
    t = np.arange(1, full + 1)
    pv = margin_per_month * float(np.sum((1 + r) ** -t))
    frac = lifetime_months - full
    if frac > 0:
        pv += margin_per_month * frac * (1 + r) ** -(full + 1)
    lm = lifetime_months / 2 if loss_month is None else loss_month
    return float(pv - expected_loss * (1 + r) ** -lm - acquisition_cost)


@dataclass(repr=False)
class CampaignPnL(Result):
    """A campaign's P&L: ``summary`` (one row per line item) and the headline figures."""

    summary: pd.DataFrame
    profit: float
    roi: float
    break_even_response_rate: float
    payback_months: float

    def to_dict(self) -> dict:
        return {
            "profit": self.profit,
            "roi": self.roi,
            "break_even_response_rate": self.break_even_response_rate,
            "payback_months": self.payback_months,
        }


def campaign_pnl(
    contacts: float,
    cost_per_contact: float,
    fixed_cost: float,
    response_rate: float,
    approval_rate: float,
    booking_rate: float,
    margin_per_month: float,
    lifetime_months: float,
    expected_bad_rate: float,
    loss_given_bad: float,
    annual_discount_rate: float = 0.10,
    incremental_share: float = 1.0,
) -> CampaignPnL:
    """P&L of a campaign. Bookings = contacts × response × approval × booking; only ``incremental_share``
    of them are caused by the campaign (the rest would have come anyway — from a holdout test). Each
    incremental booking is worth :func:`account_npv` with expected loss = bad rate × loss given bad.

    ROI = profit / total cost. Break-even response rate: the response rate at which profit is zero (other
    assumptions fixed). Payback: months until the discounted margin of the incremental bookings covers the
    cost and the expected loss (inf if never within the lifetime)."""
    for name, v in [
        ("response_rate", response_rate),
        ("approval_rate", approval_rate),
        ("booking_rate", booking_rate),
        ("expected_bad_rate", expected_bad_rate),
        ("incremental_share", incremental_share),
    ]:
        if not 0 <= v <= 1:
            raise ParameterError(name, "a fraction in [0, 1]", v)
    if contacts < 0 or cost_per_contact < 0 or fixed_cost < 0:
        raise ParameterError(
            "contacts/costs", "non-negative numbers", (contacts, cost_per_contact, fixed_cost)
        )
    bookings = contacts * response_rate * approval_rate * booking_rate
    incremental = bookings * incremental_share
    loss = expected_bad_rate * loss_given_bad
    value = account_npv(margin_per_month, lifetime_months, loss, annual_discount_rate)
    margin_pv = account_npv(margin_per_month, lifetime_months, 0.0, annual_discount_rate)
    cost = fixed_cost + contacts * cost_per_contact
    profit = incremental * value - cost
    per_response = approval_rate * booking_rate * incremental_share * value * contacts
    be = cost / per_response if per_response > 0 else np.inf
    # payback: first month whose cumulative discounted margin covers cost + expected loss
    r = monthly_rate(annual_discount_rate)
    months = np.arange(1, int(np.ceil(lifetime_months)) + 1)
    cum = np.cumsum(incremental * margin_per_month * (1 + r) ** -months)
    need = cost + incremental * loss * (1 + r) ** -(lifetime_months / 2)
    hit = np.flatnonzero(cum >= need)
    payback = float(months[hit[0]]) if len(hit) else np.inf
    items = pd.DataFrame(
        {
            "item": [
                "contacts",
                "bookings",
                "incremental bookings",
                "discounted margin",
                "expected credit loss (discounted)",
                "contact cost",
                "fixed cost",
                "profit",
            ],
            "value": [
                contacts,
                bookings,
                incremental,
                incremental * margin_pv,
                incremental * (margin_pv - value),
                contacts * cost_per_contact,
                fixed_cost,
                profit,
            ],
        }
    )
    return CampaignPnL(items, float(profit), float(profit / cost) if cost > 0 else np.inf, float(be), payback)


@dataclass(repr=False)
class TornadoResult(Result):
    """One-at-a-time sensitivity, one row per assumption, widest swing first."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        return {
            "most_sensitive": str(self.summary["assumption"].iloc[0]),
            "base_result": float(self.summary["base_result"].iloc[0]),
        }

    def plot(self, ax=None, xlabel: str = "result", labels: tuple[str, str] = ("high", "low")):
        """The tornado: bars from the base result to the result at each assumption's high and low value."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(9, 3.8))[1]
        t = self.summary
        # an argument name such as "uplift_scale" reads as "uplift" on the chart
        names = [str(a).removesuffix("_scale").replace("_", " ") for a in t["assumption"]]
        ax.barh(names, t["result_high"] - t["base_result"], left=t["base_result"], label=labels[0])
        ax.barh(names, t["result_low"] - t["base_result"], left=t["base_result"], label=labels[1])
        ax.axvline(t["base_result"].iloc[0], color="black", lw=0.8)
        ax.invert_yaxis()
        ax.set(xlabel=xlabel, title="What moves the result: each assumption at its low and high value")
        ax.legend()
        return ax


def tornado(fn: Callable[..., float], base: dict, ranges: dict[str, tuple[float, float]]) -> TornadoResult:
    """One-at-a-time sensitivity: ``fn(**base)`` with each assumption moved to its low and high value
    (others at base). Sorted by swing (|high − low| of the result), the widest bar first."""
    unknown = [k for k in ranges if k not in base]
    if unknown:
        raise ParameterError("ranges", f"assumptions among {sorted(base)}", unknown)
    at_base = float(fn(**base))
    rows = []
    for k, (lo, hi) in ranges.items():
        r_lo, r_hi = float(fn(**{**base, k: lo})), float(fn(**{**base, k: hi}))
        rows.append(
            {
                "assumption": k,
                "low": lo,
                "high": hi,
                "result_low": r_lo,
                "result_high": r_hi,
                "swing": abs(r_hi - r_lo),
                "base_result": at_base,
            }
        )
    return TornadoResult(
        pd.DataFrame(rows).sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)
    )


def apr(
    amount: float, payments: Sequence[float], times_months: Sequence[float], upfront_fees: float = 0.0
) -> float:
    """Total-cost annual percentage rate (as a fraction): the annual rate X that equates the credit drawn
    (net of upfront fees) with the discounted payments, Σ P_k (1 + X)^(−t_k / 12) = amount − fees — the
    EU Consumer Credit Directive definition, with times in months from the drawdown. Solved by bracketing
    (brentq), so it is the unique root for a loan whose payments follow the drawdown."""
    from scipy.optimize import brentq

    pay = np.asarray(payments, float)
    t = np.asarray(times_months, float) / 12
    net = amount - upfront_fees
    if len(pay) != len(t) or len(pay) == 0:
        raise ParameterError(
            "payments/times_months", "non-empty sequences of equal length", (len(pay), len(t))
        )
    if net <= 0 or pay.sum() < net:
        raise ParameterError("payments", "payments that repay at least the net credit", float(pay.sum()))

    def gap(x):
        return float(np.sum(pay * (1 + x) ** -t) - net)

    return float(brentq(gap, -0.99, 100.0, xtol=1e-12))


def card_apr(limit: float, nominal_rate: float, annual_fee: float = 0.0, months: int = 12) -> float:
    """Representative APR of a card offer under the usual disclosure assumptions: the whole limit drawn on
    day one and repaid in ``months`` equal monthly instalments at the nominal rate (monthly compounding),
    the annual fee charged upfront."""
    i = nominal_rate / 12
    inst = limit * i / (1 - (1 + i) ** -months) if i > 0 else limit / months
    return apr(limit, [inst] * months, list(range(1, months + 1)), upfront_fees=annual_fee)


# --- the account-value model: one value of an account, shared by every report ---------------------------

#: product terms the value model prices (per row of a terms table): APR in percent a year, annual fee and
#: credit limit in the portfolio currency, reward rate as a fraction of card spend
TERMS = ("apr", "annual_fee", "credit_limit", "reward_rate")

ACCOUNT_VALUE_SCHEMA_VERSION = 1

#: states of an account that performs: an episode of arrears that cures (30 or 60 DPD and back) is not a
#: default; the months of a spell that ends in default are excluded by its onset, not by their state
_PERFORMING = ("current", "dpd30", "dpd60")
#: days past due grow by 30 a month, so the spell that first reaches 90+ began this many months earlier
_ONSET_BEFORE_90 = 2
_EXITS = ("closed", "prepaid")
#: thin months on book take the pooled hazards of this many last months with enough accounts at risk
TAIL_POOL_MONTHS = 6


class AccountValueModel(BaseEstimator):
    """Lifetime value and lifetime expected loss of a booked account under given product terms.

    One model per product of the book: the main ``product`` (default ``"card"``) and, for every other product
    in the panel's ``product`` column, a model of its own in ``products_`` fitted the same way (a loan's
    balance amortises and it prepays; its life table and utilisation are its own). :meth:`value` prices each
    row with its product's model when the terms carry a ``product`` column.

    Fitted on a monthly performance panel (``account_id``, ``mob``, ``state``, ``balance``, ``spend``,
    ``margin``, ``credit_limit``) and each account's terms (``account_id`` and :data:`TERMS`):

    * life table by month on book: the monthly hazard of **default onset** (the first month, at 30 days past
      due, of the spell of arrears that reaches 90+: two months before the first 90+ month; an episode that
      cures at 30 or 60 DPD is not a default) and of voluntary **closure**, both among accounts still
      performing; months on book with fewer than ``min_at_risk`` accounts take the pooled hazard of the last
      :data:`TAIL_POOL_MONTHS` months that have them;
    * utilisation (balance / limit, inactive accounts count as 0) and card spend of performing accounts by
      month on book, the extra utilisation of accounts in arrears, and the months from onset to charge-off;
    * the margin's rates, by least squares on performing months: margin = balance × (APR/12 − funding) +
      spend × (interchange − reward rate) + annual fee / 12, so ``interchange_rate_`` and
      ``funding_cost_monthly_`` are estimated and the terms enter as the bank prices them.

    :meth:`value` then prices any terms: for months t = 1..``horizon``, the performing margin weighted by the
    chance of still performing, the interest accrued in arrears and −exposure × ``lgd`` at charge-off,
    discounted monthly at ``annual_discount_rate``. ``pd_multiplier`` scales the default hazard over the whole
    horizon (an arm's relative risk), ``activation_multiplier`` scales utilisation and spend (share of active
    accounts), ``spend_multiplier`` scales spend. Closure depends on the terms through a proportional effect
    per unit of each term that varies in the book (``closure_terms_``, Poisson regression on the life table;
    a term the book never varies has no estimated effect). Assumptions: the default hazard depends on the
    terms only through ``pd_multiplier``; hazards
    beyond the data's last month on book stay at their last estimate; money in the panel's currency."""

    def __init__(
        self,
        horizon: int = 36,
        annual_discount_rate: float = 0.10,
        lgd: float = DEFAULT_LGD,
        currency: str = "",
        min_at_risk: int = 50,
        product: str = "card",
    ):
        self.horizon = horizon
        self.annual_discount_rate = annual_discount_rate
        self.lgd = lgd
        self.currency = currency
        self.min_at_risk = min_at_risk
        self.product = product

    def fit(self, panel: pd.DataFrame, terms: pd.DataFrame) -> AccountValueModel:
        if int(self.horizon) < 1:
            raise ParameterError("horizon", "months ≥ 1", self.horizon)
        if not 0 <= self.lgd <= 1:
            raise ParameterError("lgd", "a fraction in [0, 1]", self.lgd)
        require_columns(
            panel, ["account_id", "mob", "state", "balance", "spend", "margin", "credit_limit"], "performance"
        )
        require_columns(terms, ["account_id", *TERMS], "account terms")
        self._fit_product(panel, terms)
        # every other product of the book gets its own life table, utilisation and margin (a loan amortises
        # and prepays; pricing it with a card's dynamics would value it near zero)
        self.products_ = {}
        others = sorted(set(panel["product"].astype(str)) - {self.product}) if "product" in panel else []
        for q in others:
            sub = AccountValueModel(
                self.horizon, self.annual_discount_rate, self.lgd, self.currency, self.min_at_risk, q
            )
            try:
                sub._fit_product(panel, terms)
            except ParameterError:  # too few accounts of that product: priced as the main product
                continue
            sub.products_ = {}
            self.products_[q] = sub
        return self

    def _fit_product(self, panel: pd.DataFrame, terms: pd.DataFrame) -> None:
        # the product's rows as the few columns used, not a copy of the panel (2 GB at 10M customers); the
        # states as masks computed on the column, not a numpy array of text (another 0.7 GB)
        rows = (panel["product"].astype(str) == self.product).to_numpy() if "product" in panel else None

        def col(c, dtype=None):
            v = panel[c].to_numpy(dtype)
            return v if rows is None else v[rows]

        def is_state(states):
            m = panel["state"].isin(states).to_numpy(bool)
            return m if rows is None else m[rows]

        account_id = col("account_id")
        acc = pd.Index(pd.unique(account_id))
        t = terms.drop_duplicates("account_id").set_index("account_id").reindex(acc)
        if t[list(TERMS)].isna().any(axis=None):
            raise ParameterError(
                "terms",
                f"terms for every {self.product} account of the panel",
                int(t.isna().any(axis=1).sum()),
            )
        if len(acc) == 0:
            raise ParameterError("performance", f"{self.product} accounts with monthly rows", 0)
        code = pd.Index(acc).get_indexer(account_id)
        mob = col("mob", np.int64)
        n = len(acc)
        last = np.zeros(n, np.int64)
        np.maximum.at(last, code, mob)
        big = np.iinfo(np.int64).max
        first90 = np.full(n, big)
        arrears = is_state(["dpd90", "charged_off"])
        np.minimum.at(first90, code[arrears], mob[arrears])
        onset = np.where(first90 < big, np.maximum(first90 - _ONSET_BEFORE_90, 1), 0)
        exit_ = np.zeros(n, np.int64)
        ex = is_state(list(_EXITS))
        exit_[code[ex]] = mob[ex]
        co = np.full(n, 0)
        c_rows = is_state(["charged_off"])
        co[code[c_rows]] = mob[c_rows]
        # life table: an account is at risk of onset in month t while performing and seen at t + 2 (a spell
        # of arrears is known to be a default, not a cure, only once it reaches 90+), and at risk of closure
        # while performing and seen at t (an exit is seen in its own month); with one risk set for both, the
        # last two months would count exits against too few accounts
        h = max(int(self.horizon), int(last.max()))
        end_d = np.clip(np.where(onset > 0, onset, np.where(exit_ > 0, exit_, last - _ONSET_BEFORE_90)), 0, h)
        end_c = np.clip(np.where(onset > 0, onset, np.where(exit_ > 0, exit_, last)), 0, h)
        at_risk = np.bincount(end_d, minlength=h + 2)[::-1].cumsum()[::-1][1 : h + 1]
        at_risk_c = np.bincount(end_c, minlength=h + 2)[::-1].cumsum()[::-1][1 : h + 1]
        d_ev = np.bincount(onset[onset > 0], minlength=h + 1)[1 : h + 1]
        c_ev = np.bincount(exit_[(exit_ > 0) & (onset == 0)], minlength=h + 1)[1 : h + 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            hd = d_ev / at_risk
            hc = c_ev / np.maximum(at_risk_c - d_ev, 1)
        ok = at_risk >= self.min_at_risk
        if not ok.any():
            raise ParameterError(
                "performance", f"at least {self.min_at_risk} accounts in month 1", int(at_risk[0])
            )
        # thin months (the book's oldest accounts) take the pooled hazard of the last well-observed months:
        # one month's handful of events would otherwise set every month after it
        tail = np.flatnonzero(ok)[-TAIL_POOL_MONTHS:]
        hd[~ok] = d_ev[tail].sum() / at_risk[tail].sum()
        hc[~ok] = c_ev[tail].sum() / max((at_risk_c[tail] - d_ev[tail]).sum(), 1)
        # utilisation and spend of performing months, by month on book
        perf = is_state(list(_PERFORMING)) & ((onset[code] == 0) | (mob < onset[code]))
        lim = col("credit_limit", float)
        util = col("balance", float) / np.where(lim > 0, lim, np.nan)
        del lim
        by = pd.DataFrame({"mob": mob[perf], "u": util[perf], "s": col("spend", float)[perf]})
        g = by.groupby("mob")[["u", "s"]].mean().reindex(range(1, h + 1)).ffill().bfill()
        # arrears: utilisation above a performing account's at the same month on book; months to charge-off
        late = (onset[code] > 0) & (mob >= onset[code]) & ~c_rows
        u_mob = g["u"].reindex(mob[late]).to_numpy()
        self.arrears_utilisation_ = float(np.nanmean(util[late] - u_mob)) if late.any() else 0.0
        gone = co > 0
        self.charge_off_lag_ = int(np.round(np.median(co[gone] - onset[gone]))) if gone.any() else 5
        # the margin's rates: what the terms do not explain is interchange on spend less funding of the balance
        at = code[perf]  # each performing row's account: its terms are row `at` of t (t is indexed by acc)
        bal, spd = col("balance", float)[perf], col("spend", float)[perf]
        known = (
            bal * t["apr"].to_numpy(float)[at] / 1200
            + t["annual_fee"].to_numpy(float)[at] / 12
            - t["reward_rate"].to_numpy(float)[at] * spd
        )
        resid = col("margin", float)[perf] - known
        X = np.column_stack([spd, -bal])
        coef, *_ = np.linalg.lstsq(X, resid, rcond=None)
        self.interchange_rate_, self.funding_cost_monthly_ = float(coef[0]), float(coef[1])
        self.closure_terms_ = self._closure_terms(end_c, exit_ * (onset == 0), t, h)
        self.hazards_ = pd.DataFrame(
            {
                "at_risk": at_risk,
                "default_hazard": hd,
                "closure_hazard": hc,
                "utilisation": g["u"].to_numpy(),
                "spend": g["s"].to_numpy(),
            },
            index=pd.RangeIndex(1, h + 1, name="mob"),
        )
        self.n_accounts_ = n

    def _closure_terms(self, end, exit_mob, t, h) -> dict:
        """Log relative closure hazard per unit of each term that varies across the book (Poisson regression
        of closures on month-on-book dummies and the terms, on at-risk counts by month and terms; a term
        collinear with an earlier one is left out). Centred on the book's mean terms, so the life table's
        closure hazard stays the book's."""
        import statsmodels.api as sm

        x = t[list(TERMS)].to_numpy(float)
        varying = [i for i in range(len(TERMS)) if np.ptp(x[:, i]) > 0]
        keep: list[int] = []
        for i in varying:  # drop a term the kept ones already explain (e.g. a fee that moves with the limit)
            cand = np.column_stack([np.ones(len(x)), x[:, keep + [i]]])
            if np.linalg.matrix_rank(cand) == cand.shape[1]:
                keep.append(i)
        if not keep:
            return {}
        groups, inv = np.unique(x[:, keep], axis=0, return_inverse=True)
        inv = inv.ravel()
        rows = []
        for gi in range(len(groups)):
            e, ex = end[inv == gi], exit_mob[inv == gi]
            risk = np.bincount(e, minlength=h + 2)[::-1].cumsum()[::-1][1 : h + 1]
            ev = np.bincount(ex[ex > 0], minlength=h + 1)[1 : h + 1]
            for m in np.flatnonzero(risk > 0):
                rows.append((m, *groups[gi], risk[m], ev[m]))
        agg = pd.DataFrame(rows, columns=["mob", *[TERMS[i] for i in keep], "at_risk", "events"])
        if len(agg) < 2 or agg["events"].sum() == 0:
            return {}
        mean = x[:, keep].mean(axis=0)
        X = pd.get_dummies(agg["mob"].astype(str), dtype=float)
        for j, i in enumerate(keep):
            X[TERMS[i]] = agg[TERMS[i]] - mean[j]
        fit = sm.GLM(agg["events"], X, family=sm.families.Poisson(), offset=np.log(agg["at_risk"])).fit()
        return {
            TERMS[i]: {"log_hr_per_unit": float(fit.params[TERMS[i]]), "book_mean": float(mean[j])}
            for j, i in enumerate(keep)
        }

    def _closure_factor(self, tt: pd.DataFrame) -> np.ndarray:
        eta = np.zeros(len(tt))
        for term, c in self.closure_terms_.items():
            eta += c["log_hr_per_unit"] * (tt[term].to_numpy(float) - c["book_mean"])
        return np.exp(eta)

    # -- pricing -----------------------------------------------------------------------------------------
    def value(
        self,
        terms: pd.DataFrame | dict,
        pd_multiplier=1.0,
        activation_multiplier=1.0,
        spend_multiplier=1.0,
    ) -> pd.DataFrame:
        """Per row of ``terms`` (a frame or one dict of :data:`TERMS`): ``discounted_margin``,
        ``expected_loss`` (discounted charge-offs × LGD), ``lifetime_value`` (their difference),
        ``pd_horizon`` (chance of default onset within the horizon) and ``expected_months`` performing.
        Multipliers are scalars or one value per row. A ``product`` column prices each row with that product's
        model (rows without one, or of a product the book did not have, use the main product's)."""
        check_is_fitted(self, "hazards_")
        tt = pd.DataFrame([terms]) if isinstance(terms, dict) else terms
        require_columns(tt, list(TERMS), "terms")
        k = len(tt)
        subs = getattr(self, "products_", {})
        if subs and "product" in tt:
            prod = tt["product"].astype(str).to_numpy()
            mults = [
                np.broadcast_to(np.asarray(m, float), (k,))
                for m in (pd_multiplier, activation_multiplier, spend_multiplier)
            ]
            cols = ["discounted_margin", "expected_loss", "lifetime_value", "pd_horizon", "expected_months"]
            res = np.zeros((k, len(cols)))
            groups = [(~np.isin(prod, list(subs)), self), *((prod == q, sub) for q, sub in subs.items())]
            for rows, model in groups:
                if rows.any():
                    res[rows] = model._value_rows(tt[rows], *(m[rows] for m in mults))[cols].to_numpy()
            return pd.DataFrame(res, columns=cols, index=tt.index)
        return self._value_rows(tt, pd_multiplier, activation_multiplier, spend_multiplier)

    def _value_rows(
        self, tt: pd.DataFrame, pd_multiplier, activation_multiplier, spend_multiplier
    ) -> pd.DataFrame:
        k = len(tt)
        H = int(self.horizon)
        hz = self.hazards_.reindex(range(1, H + 1 + self.charge_off_lag_)).ffill()
        hd, hc = hz["default_hazard"].to_numpy(), hz["closure_hazard"].to_numpy()
        calib = getattr(self, "risk_calibration_", None)
        if calib is not None:  # the book's average hazard shared out over its mix of risks
            hd = hd * np.resize(calib, len(hd))
        u, s = hz["utilisation"].to_numpy(), hz["spend"].to_numpy()
        apr, fee = tt["apr"].to_numpy(float), tt["annual_fee"].to_numpy(float)
        lim, rew = tt["credit_limit"].to_numpy(float), tt["reward_rate"].to_numpy(float)
        pdm = np.broadcast_to(np.asarray(pd_multiplier, float), (k,))
        act = np.broadcast_to(np.asarray(activation_multiplier, float), (k,))
        spm = np.broadcast_to(np.asarray(spend_multiplier, float), (k,))
        disc = (1 + self.annual_discount_rate) ** (-np.arange(0, H + self.charge_off_lag_ + 2) / 12)
        carry = apr / 1200 - self.funding_cost_monthly_
        close_f = self._closure_factor(tt)
        alive = np.ones(k)
        margin = loss = months = pd_h = np.zeros(k)
        L = self.charge_off_lag_
        for t in range(1, H + 1):
            p_d = np.clip(pdm * hd[t - 1], 0, 1)
            onset = alive * p_d
            alive = alive * (1 - p_d) * (1 - np.clip(hc[t - 1] * close_f, 0, 1))
            pd_h = pd_h + onset
            months = months + alive
            perf = (
                lim * u[t - 1] * act * carry
                + s[t - 1] * act * spm * (self.interchange_rate_ - rew)
                + fee / 12
            )
            margin = margin + disc[t] * alive * perf
            for j in range(L + 1):
                if t + j > H:
                    break
                exposure = lim * (u[t + j - 1] + self.arrears_utilisation_) * act
                if j < L:
                    margin = margin + disc[t + j] * onset * exposure * carry
                else:
                    loss = loss + disc[t + j] * onset * exposure * self.lgd
        return pd.DataFrame(
            {
                "discounted_margin": margin,
                "expected_loss": loss,
                "lifetime_value": margin - loss,
                "pd_horizon": pd_h,
                "expected_months": months,
            },
            index=tt.index,
        )

    def calibrate_risk(self, pd_multiplier, product=None) -> AccountValueModel:
        """A copy for pricing individual risks: ``pd_multiplier`` holds the relative risk of each account of
        the book the model was fitted on (e.g. its scorecard PD over the book's mean). The life table's default
        hazard is the average over the accounts *still performing* each month — the riskiest leave first — so
        scaling it by a risk fixed at booking would overstate the spread over time. The copy rescales the
        hazard month by month so that the book's performing accounts, priced with their multipliers, average
        the fitted hazard: the book's mean value then equals the value at multiplier 1. ``product`` (one per
        account) calibrates each product's model on its own accounts."""
        check_is_fitted(self, "hazards_")
        m = np.asarray(pd_multiplier, float)
        if m.ndim != 1 or len(m) == 0 or not np.isfinite(m).all() or (m < 0).any():
            raise ParameterError(
                "pd_multiplier", "finite non-negative relative risks, one per account", len(m)
            )
        subs = getattr(self, "products_", {})
        if product is not None:
            prod = np.asarray(product).astype(str)
            mine = prod == self.product
            out = self.calibrate_risk(m[mine] if mine.any() else m)
            out.products_ = {
                q: (sub.calibrate_risk(m[prod == q]) if (prod == q).any() else sub) for q, sub in subs.items()
            }
            return out
        L = self.charge_off_lag_
        hz = self.hazards_.reindex(range(1, int(self.horizon) + 1 + L)).ffill()
        hd, hc = hz["default_hazard"].to_numpy(), hz["closure_hazard"].to_numpy()
        alive = np.ones(len(m))
        calib = np.ones(len(hd))
        for t in range(len(hd)):
            mean_m = float(np.sum(alive * m) / max(np.sum(alive), 1e-300))
            calib[t] = 1.0 / mean_m if mean_m > 0 else 1.0
            alive = alive * (1 - np.clip(calib[t] * m * hd[t], 0, 1)) * (1 - hc[t])
        out = copy.copy(self)
        out.risk_calibration_ = calib
        return out

    @property
    def summary(self) -> pd.DataFrame:
        """The fitted pieces: rates of the margin, arrears, and the life table by month on book."""
        check_is_fitted(self, "hazards_")
        return self.hazards_

    def assumptions(self) -> dict:
        """What a reader must know to use the value: horizon, discounting, LGD, currency and the fitted rates."""
        check_is_fitted(self, "hazards_")
        return {
            "horizon_months": int(self.horizon),
            "annual_discount_rate": float(self.annual_discount_rate),
            "lgd": float(self.lgd),
            "currency": self.currency,
            "interchange_rate": self.interchange_rate_,
            "funding_cost_monthly": self.funding_cost_monthly_,
            "arrears_utilisation": self.arrears_utilisation_,
            "charge_off_lag_months": self.charge_off_lag_,
            "n_accounts": int(self.n_accounts_),
            "default_event": "default onset: the first month of the spell of arrears that reaches 90+ days past "
            "due (two months before the first 90+ month)",
            "closure_terms": self.closure_terms_,
            "product": self.product,
        }

    # -- the artefact the other notebooks read -----------------------------------------------------------
    def to_artefact(self, path) -> Path:
        """Write the fitted model as a versioned JSON artefact (``account_value.json``)."""

        def table(m):
            return json.loads(m.hazards_.reset_index().to_json(orient="records", double_precision=15))

        products = {
            q: {"assumptions": sub.assumptions(), "hazards": table(sub)}
            for q, sub in getattr(self, "products_", {}).items()
        }
        return write_artefact(
            path,
            artefact_document(
                "account_value",
                ACCOUNT_VALUE_SCHEMA_VERSION,
                assumptions=self.assumptions(),
                hazards=table(self),
                products=products,
            ),
        )

    @classmethod
    def from_artefact(cls, source) -> AccountValueModel:
        """Read a model written by :meth:`to_artefact`; ArtefactError when missing, of another kind or
        version, or when a number is outside its range."""
        doc = read_artefact(
            source,
            "account_value",
            ACCOUNT_VALUE_SCHEMA_VERSION,
            required=("assumptions", "hazards"),
        )
        m = cls._from_doc(doc["assumptions"], doc["hazards"])
        products = doc.get("products", {})
        if not isinstance(products, dict):
            raise ArtefactError("account_value artefact: malformed (products is not a mapping)")
        m.products_ = {}
        for q, d in products.items():
            if not isinstance(d, dict) or "assumptions" not in d or "hazards" not in d:
                raise ArtefactError(f"account_value artefact: malformed (product {q!r})")
            sub = cls._from_doc(d["assumptions"], d["hazards"])
            sub.products_ = {}
            m.products_[str(q)] = sub
        return m

    @classmethod
    def _from_doc(cls, a, hazards) -> AccountValueModel:
        try:
            hz = pd.DataFrame(hazards).set_index("mob")
            m = cls(
                int(a["horizon_months"]),
                float(a["annual_discount_rate"]),
                float(a["lgd"]),
                str(a.get("currency", "")),
                product=str(a.get("product", "card")),
            )
            m.interchange_rate_ = float(a["interchange_rate"])
            m.funding_cost_monthly_ = float(a["funding_cost_monthly"])
            m.arrears_utilisation_ = float(a["arrears_utilisation"])
            m.charge_off_lag_ = int(a["charge_off_lag_months"])
            m.n_accounts_ = int(a["n_accounts"])
            m.closure_terms_ = {
                str(k): {"log_hr_per_unit": float(v["log_hr_per_unit"]), "book_mean": float(v["book_mean"])}
                for k, v in dict(a.get("closure_terms", {})).items()
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtefactError(f"account_value artefact: malformed ({exc})") from None
        checks = {
            "default_hazard and closure_hazard in [0, 1]": hz[["default_hazard", "closure_hazard"]]
            .stack()
            .between(0, 1)
            .all(),
            "utilisation in [0, 5]": hz["utilisation"].between(0, 5).all(),
            "spend ≥ 0 and finite": np.isfinite(hz["spend"]).all() and (hz["spend"] >= 0).all(),
            "lgd in [0, 1]": 0 <= m.lgd <= 1,
            "annual discount rate in [0, 1)": 0 <= m.annual_discount_rate < 1,
            "rates within ±1": abs(m.interchange_rate_) <= 1 and abs(m.funding_cost_monthly_) <= 1,
            "horizon in [1, 600]": 1 <= m.horizon <= 600,
            "charge-off lag in [0, 60]": 0 <= m.charge_off_lag_ <= 60,
            # a fraction-valued term (reward rate) moves by hundredths: its effect per unit is large
            "closure effects finite and within ±100 per unit": all(
                np.isfinite(v["log_hr_per_unit"]) and abs(v["log_hr_per_unit"]) <= 100
                for v in m.closure_terms_.values()
            ),
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ArtefactError(f"account_value artefact: values out of range: {'; '.join(bad)}")
        m.hazards_ = hz
        return m


def value_by_segment(
    panel: pd.DataFrame, terms: pd.DataFrame, segment: pd.Series, model: AccountValueModel
) -> TableResult:
    """The account-value model fitted on each segment's own accounts (its hazards, balances and spend) and
    priced at those accounts' terms: one row per segment with ``accounts`` and the means of
    :meth:`AccountValueModel.value`'s columns. ``segment``: the segment of each account, indexed by
    ``account_id``; ``model`` gives the parameters (horizon, discounting, LGD). A segment too small for a life
    table gets the book's model, and ``own_fit`` says so."""

    seg = segment.reindex(terms["account_id"].to_numpy())
    rows = []
    for s, ids in terms.groupby(seg.to_numpy(), sort=True)["account_id"]:
        t = terms[terms["account_id"].isin(ids)]
        m = model.__class__(**model.get_params())
        try:
            m.fit(panel[panel["account_id"].isin(ids)], t)
            own = True
        except ParameterError:
            m, own = model, False
        if own:  # a product too rare in the segment for its own life table: the book's model of it
            m.products_ = {**getattr(model, "products_", {}), **m.products_}
        v = m.value(t.drop(columns="account_id").reset_index(drop=True)).mean()
        rows.append({"segment": s, "accounts": len(t), **v.to_dict(), "own_fit": own})
    return TableResult(pd.DataFrame(rows).set_index("segment"))
