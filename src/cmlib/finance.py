"""Money: the value of a booked account, a campaign's P&L and its sensitivity, and the total-cost APR of an
offer.

Units: money in the portfolio currency, rates as fractions a year (0.10 = 10 %), time in months. Discounting
is monthly at the rate equivalent to the annual one: (1 + r_annual)^(1/12) − 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.base import Result
from cmlib.errors import ParameterError

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
        ax.barh(t["assumption"], t["result_high"] - t["base_result"], left=t["base_result"], label=labels[0])
        ax.barh(t["assumption"], t["result_low"] - t["base_result"], left=t["base_result"], label=labels[1])
        ax.axvline(t["base_result"].iloc[0], color="black", lw=0.8)
        ax.invert_yaxis()
        ax.set(xlabel=xlabel)
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
