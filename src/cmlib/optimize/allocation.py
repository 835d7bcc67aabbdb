"""cmlib.optimize — budget allocation (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.base import Result
from cmlib.curves import incremental_bookings
from cmlib.errors import ParameterError
from cmlib.optimize.curves import ResponseCurve


@dataclass(repr=False)
class Allocation(Result):
    """``summary`` per channel: spend, expected incremental bookings and value, marginal value of the next
    unit of money; ``total_value`` and ``total_spend``."""

    summary: pd.DataFrame
    total_value: float
    total_spend: float

    def to_dict(self) -> dict:
        return {"total_value": self.total_value, "total_spend": self.total_spend}


def allocate_budget(
    curves: dict[str, ResponseCurve],
    budget: float,
    channel_min: dict | None = None,
    channel_max: dict | None = None,
    value_per_booking: dict | float = 1.0,
    net_of_spend: bool = False,
    grid: int = 400,
    params: dict | None = None,
) -> Allocation:
    """Split a weekly ``budget`` over channels to maximise Σ value_c · incremental bookings_c(x_c) (minus the
    spend itself with ``net_of_spend``, i.e. NPV; then the budget is a cap, not a target).

    Exact on a grid of ``grid`` steps by dynamic programming over channels (max-plus convolution), then
    refined by SLSQP from the grid optimum; bounds ``channel_min``/``channel_max`` (weekly spend per channel) always hold.
    ``params`` (channel → parameter dict) evaluates other curves than the fitted ones (e.g. the truth)."""
    from scipy.optimize import minimize

    chans = sorted(curves)
    if budget < 0:
        raise ParameterError("budget", "a non-negative amount", budget)
    lo = np.array([float((channel_min or {}).get(c, 0.0)) for c in chans])
    hi = np.array([float((channel_max or {}).get(c, budget)) for c in chans])
    hi = np.minimum(hi, budget)
    if (lo < 0).any() or (lo > hi + 1e-9).any():
        raise ParameterError(
            "channel_min/channel_max",
            "0 ≤ channel_min ≤ channel_max for every channel",
            dict(zip(chans, zip(lo, hi, strict=True), strict=True)),
        )
    lo = np.minimum(lo, hi)  # within rounding of the check above
    if lo.sum() > budget + 1e-9:
        raise ParameterError("budget", f"at least the sum of channel minimums ({lo.sum():,.0f})", budget)
    if not net_of_spend and hi.sum() < budget - 1e-9:
        raise ParameterError(
            "channel_max", f"channel maximums that can absorb the budget ({budget:,.0f})", float(hi.sum())
        )
    vpb = np.array(
        [
            float(value_per_booking.get(c, 0.0))
            if isinstance(value_per_booking, dict)
            else float(value_per_booking)
            for c in chans
        ]
    )
    pars = [(params or {}).get(c, curves[c].params) for c in chans]

    def value_c(k, x):
        return vpb[k] * incremental_bookings(pars[k], x) - (x if net_of_spend else 0.0)

    step = budget / grid
    if step <= 0:  # a zero (or denormal, underflowing) budget: no grid steps, the minimums only
        step = 1.0
    units = np.arange(grid + 1)
    # V[b] = best value of the channels so far using exactly b steps above their minimums (−inf: infeasible)
    free = budget - lo.sum()
    nfree = int(np.floor(free / step + 1e-9))
    V = np.full(nfree + 1, -np.inf)
    V[0] = 0.0
    choice = []
    for k in range(len(chans)):
        xs = lo[k] + units[: nfree + 1] * step
        ok = xs <= hi[k] + 1e-9
        vals = np.where(ok, value_c(k, np.minimum(xs, hi[k])), -np.inf)
        # new[b] = max_{a ≤ b} V[b − a] + vals[a]
        idx_b = np.arange(nfree + 1)[:, None]
        idx_a = np.arange(nfree + 1)[None, :]
        prev = np.where(idx_a <= idx_b, V[np.clip(idx_b - idx_a, 0, None)], -np.inf)
        tot = prev + vals[None, :]
        arg = np.argmax(tot, axis=1)
        V = tot[np.arange(nfree + 1), arg]
        choice.append(arg)
    b = int(np.argmax(V)) if net_of_spend else nfree
    x = np.zeros(len(chans))
    for k in range(len(chans) - 1, -1, -1):
        a = int(choice[k][b])
        x[k] = lo[k] + a * step
        b -= a
    if not net_of_spend:  # the grid leaves < 1 step unspent: give it to the best marginal channel first
        x = _spend_rest(x, budget, hi, lambda z: np.array([value_c(k, z[k]) for k in range(len(chans))]))

    def neg(z):
        return -float(sum(value_c(k, z[k]) for k in range(len(chans))))

    cons = [{"type": "eq" if not net_of_spend else "ineq", "fun": (lambda z: budget - z.sum())}]
    r = minimize(
        neg,
        x,
        method="SLSQP",
        bounds=list(zip(lo, hi, strict=True)),
        constraints=cons,
        options={"ftol": 1e-12, "maxiter": 500},
    )
    if (
        r.success
        and -r.fun >= -neg(x)
        and (r.x >= lo - 1e-6).all()
        and (r.x <= hi + 1e-6).all()
        and r.x.sum() <= budget + 1e-6
    ):
        x = np.clip(r.x, lo, hi)
    eps = max(budget, 1.0) * 1e-4
    vals = np.array([value_c(k, x[k]) for k in range(len(chans))])
    marg = np.array([(value_c(k, x[k] + eps) - vals[k]) / eps for k in range(len(chans))])
    book = np.array([float(incremental_bookings(pars[k], x[k])) for k in range(len(chans))])
    summ = pd.DataFrame(
        {
            "channel": chans,
            "weekly_spend": x,
            "share": x / max(x.sum(), 1e-12),
            "incremental_bookings": book,
            "value": vals,
            "marginal_value_per_unit": marg,
            "at_min": np.isclose(x, lo),
            "at_max": np.isclose(x, hi),
        }
    )
    return Allocation(summ, float(vals.sum()), float(x.sum()))


def _spend_rest(x, budget, hi, values) -> np.ndarray:
    rest = budget - x.sum()
    order = np.argsort(-(values(x + 1e-3 * max(budget, 1)) - values(x)))
    for k in order:
        add = min(rest, hi[k] - x[k])
        x[k] += add
        rest -= add
        if rest <= 1e-9:
            break
    return x


def evaluate_allocation(
    curves: dict[str, ResponseCurve],
    spend: dict,
    value_per_booking: dict | float = 1.0,
    params: dict | None = None,
) -> float:
    """Σ value · incremental steady-state bookings of a given weekly spend per channel (fitted curves, or
    ``params`` such as the truth)."""
    total = 0.0
    for c, x in spend.items():
        p = (params or {}).get(c, curves[c].params)
        v = value_per_booking.get(c, 0.0) if isinstance(value_per_booking, dict) else value_per_booking
        total += v * float(incremental_bookings(p, x))
    return total
