"""cmlib.optimize — response curves (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.base import Result
from cmlib.curves import CURVE_PARAMS, adstock, hill, incremental_bookings
from cmlib.errors import DataError, ParameterError
from cmlib.validation import require_columns

PARAMS = CURVE_PARAMS


@dataclass(repr=False)
class ResponseCurve(Result):
    """A fitted channel curve: ``params`` (estimates), ``summary`` (estimate, SE, CI per parameter) and the
    parameter covariance on the fitting scale for bands."""

    channel: str
    params: dict
    summary: pd.DataFrame
    theta: np.ndarray
    cov: np.ndarray

    def steady_bookings(self, weekly_spend, params: dict | None = None) -> np.ndarray:
        """Expected weekly bookings at a constant weekly spend (steady-state adstock)."""
        p = params or self.params
        return p["base"] + incremental_bookings(p, weekly_spend)

    def band(
        self, weekly_spend, alpha: float = 0.1, n_draws: int = 400, random_state: int = 0
    ) -> pd.DataFrame:
        """Incremental steady-state bookings (above base) with a band from parameter draws (normal on the
        fitting scale): ``ci_low``/``ci_high`` at 1 − ``alpha`` (default a 90 % band)."""
        rng = np.random.default_rng(random_state)
        draws = rng.multivariate_normal(self.theta, self.cov, size=n_draws, method="eigh")
        x = np.asarray(weekly_spend, float)
        sims = np.array([self.steady_bookings(x, _unpack(d)) - _unpack(d)["base"] for d in draws])
        a = alpha / 2
        return pd.DataFrame(
            {
                "weekly_spend": x,
                "bookings": self.steady_bookings(x) - self.params["base"],
                "ci_low": np.quantile(sims, a, axis=0),
                "ci_high": np.quantile(sims, 1 - a, axis=0),
            }
        )

    def to_dict(self) -> dict:
        return {"channel": self.channel, **self.params}


def _unpack(th) -> dict:
    th = np.clip(np.asarray(th, float), -700, 700)  # the optimiser may probe far out; exp must stay finite
    return {
        "base": float(np.exp(th[0])),
        "top": float(np.exp(th[1])),
        "decay": float(1 / (1 + np.exp(-th[2]))),
        "half_saturation": float(np.exp(th[3])),
        "shape": float(np.exp(th[4])),
    }


def fit_response_curve(spend, bookings, channel: str = "channel", alpha: float = 0.05) -> ResponseCurve:
    """Poisson maximum likelihood of weekly ``bookings`` on weekly ``spend`` (base + top · Hill(adstock)).
    Parameters are fitted on log / logit scales (positivity, decay in (0, 1)); intervals are Wald intervals
    on that scale from the numerical Hessian, mapped back (so they are asymmetric). Needs spend that varies:
    a channel with (nearly) constant spend identifies no curve."""
    from scipy.optimize import minimize
    from scipy.special import gammaln
    from scipy.stats import norm

    x, y = np.asarray(spend, float), np.asarray(bookings, float)
    if len(x) != len(y):
        raise ParameterError("spend/bookings", "series of equal length", (len(x), len(y)))
    if len(x) < 12:  # a curve with an adstock and a saturation needs about a quarter of weeks
        raise DataError.single(
            "channel_spend", "week", f"at least 12 weeks per channel (channel {channel})", len(x)
        )
    if (x < 0).any() or (y < 0).any():
        raise DataError.single(
            "channel_spend",
            "spend" if (x < 0).any() else "bookings",
            "non-negative",
            int(((x < 0) | (y < 0)).sum()),
        )
    if np.std(x) < 1e-6 * max(np.mean(x), 1.0) or len(np.unique(x)) < 4:
        raise DataError.single(
            "channel_spend", "spend", f"spend varies over weeks (channel {channel})", len(x)
        )

    def nll(th):
        p = _unpack(th)
        mu = p["base"] + p["top"] * hill(adstock(x, p["decay"]), p["half_saturation"], p["shape"])
        return float(np.sum(mu - y * np.log(mu) + gammaln(y + 1)))

    scale = np.median(x[x > 0]) if (x > 0).any() else 1.0
    best = None
    for k_mult in (0.5, 1.5, 4.0):  # a few starts: the likelihood is not convex in (K, S)
        for d0 in (-1.0, 0.5):
            th0 = np.array(
                [
                    np.log(max(y.min(), 1.0)),
                    np.log(max(y.max() - y.min(), 1.0)),
                    d0,
                    np.log(scale * k_mult),
                    np.log(1.5),
                ]
            )
            r = minimize(
                nll, th0, method="Nelder-Mead", options={"maxiter": 8000, "xatol": 1e-8, "fatol": 1e-10}
            )
            r = minimize(nll, r.x, method="BFGS")
            if best is None or r.fun < best.fun:
                best = r
    th = best.x
    H = _hessian(nll, th)
    cov = np.linalg.pinv(H)
    se = np.sqrt(np.maximum(np.diag(cov), 0))
    z = norm.ppf(1 - alpha / 2)
    lo, hi = _unpack(th - z * se), _unpack(th + z * se)
    est = _unpack(th)
    summ = pd.DataFrame({"estimate": est, "ci_low": lo, "ci_high": hi}).loc[list(PARAMS)]
    summ["se_fit_scale"] = se
    # an estimate on the edge of its range (no carry-over, no base level) has no Wald interval worth showing
    edge = {
        "decay": not 1e-3 < est["decay"] < 0.999,
        "base": est["base"] < 1e-3 * max(float(np.mean(y)), 1e-9),
    }
    summ["at_boundary"] = [edge.get(k, False) for k in summ.index]
    summ.loc[summ["at_boundary"], ["ci_low", "ci_high"]] = np.nan
    return ResponseCurve(channel, est, summ, th, cov)


def _hessian(f, x, eps: float = 1e-4) -> np.ndarray:
    n = len(x)
    H = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            e_i, e_j = np.eye(n)[i] * eps, np.eye(n)[j] * eps
            H[i, j] = H[j, i] = (
                f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j) + f(x - e_i - e_j)
            ) / (4 * eps**2)
    return H


@dataclass(repr=False)
class ChannelCurves(Result, Mapping):
    """One fitted :class:`ResponseCurve` per channel; reads like a dict (``curves["email"]``, ``.items()``)
    and ``summary`` is one row per channel with the five parameter estimates."""

    curves: dict

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({ch: c.params for ch, c in self.curves.items()}).T.rename_axis("channel")

    def __getitem__(self, channel: str) -> ResponseCurve:
        return self.curves[channel]

    def __iter__(self):
        return iter(self.curves)

    def __len__(self) -> int:
        return len(self.curves)

    def to_dict(self) -> dict:
        return {f"{ch}.{k}": float(v) for ch, c in self.curves.items() for k, v in c.params.items()}


def fit_channel_curves(
    weekly: pd.DataFrame,
    by: str = "channel",
    spend: str = "spend",
    bookings: str = "bookings",
    alpha: float = 0.05,
) -> ChannelCurves:
    """One curve per channel of a weekly table (``channel_spend`` of the simulated bank, or user data)."""
    require_columns(weekly, [by, spend, bookings], "channel_spend")
    return ChannelCurves(
        {ch: fit_response_curve(g[spend], g[bookings], ch, alpha) for ch, g in weekly.groupby(by, sort=True)}
    )
