"""Spend less per good account: channel economics, response curves, budget allocation, uplift targeting.

* :func:`channel_economics` — per channel cost per contact, response, approval and booking rates, cost per
  acquisition and per *good* account (risk-adjusted with the scorecard's expected bad rate), NPV per unit
  of money spent.
* :func:`fit_response_curve` — weekly bookings = base + top · Hill(adstock(spend, decay); K, S), fitted by
  Poisson maximum likelihood, with Wald intervals from the observed information and bands for the curve.
* :func:`allocate_budget` — the best split of a weekly budget over channels under per-channel bounds: exact
  on a grid by dynamic programming (no concavity assumed: Hill curves with S > 1 are S-shaped, where
  greedy marginal-return rules fail), then refined continuously; marginal returns are reported.
* Uplift: :class:`TwoModelUplift`, :class:`XLearnerUplift` (scikit-learn estimators inside), :func:`qini_curve`
  and AUUC; :func:`select_targets` chooses whom to contact under a budget and contact rules.

Steady state: a constant weekly spend x has adstock x / (1 − decay), so its weekly bookings are
base + top · Hill(x / (1 − decay)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib import engine
from cmlib.base import BaseEstimator, Result, TableResult, check_is_fitted
from cmlib.curves import CURVE_PARAMS, adstock, hill, incremental_bookings  # noqa: F401  (re-exported)
from cmlib.errors import ArtefactError, DataError, ParameterError
from cmlib.experiments import BalanceResult, standardised_mean_difference
from cmlib.finance import DEFAULT_LGD
from cmlib.scorecard import load
from cmlib.survival import read_clv_artefact
from cmlib.validation import require_columns

# --- channel economics ------------------------------------------------------------------------------


def channel_funnel(contacts, campaigns: pd.DataFrame, backend: str = "duckdb") -> pd.DataFrame:
    """Per channel: spend (cost per contact × contacts + each campaign's fixed cost), contacts, responses,
    approvals and bookings — counted by :mod:`cmlib.engine` per campaign, so ``contacts`` may be a table
    of any size."""

    counts = engine.funnel_counts(
        contacts, ["responded", "approved", "booked"], by=["campaign_id"], backend=backend
    )
    m = counts.merge(
        campaigns[["campaign_id", "channel", "cost_per_contact", "fixed_cost"]],
        on="campaign_id",
        how="left",
        validate="one_to_one",
    )
    if m["channel"].isna().any():
        raise DataError.single(
            "contacts", "campaign_id", "a campaign listed in campaigns", int(m["channel"].isna().sum())
        )
    m["spend"] = m["n"] * m["cost_per_contact"] + m["fixed_cost"]
    out = m.groupby("channel", sort=True).agg(
        spend=("spend", "sum"),
        contacts=("n", "sum"),
        responses=("n_responded", "sum"),
        approvals=("n_approved", "sum"),
        bookings=("n_booked", "sum"),
    )
    return out.reset_index()


def channel_economics(
    funnel: pd.DataFrame, expected_bad_rate: pd.Series | float, npv_per_good: float, loss_per_bad: float
) -> TableResult:
    """Per channel, from a funnel table with columns ``channel``, ``spend``, ``contacts``, ``responses``,
    ``approvals``, ``bookings``: rates, cost per acquisition (spend / bookings), cost per good account
    (spend / expected good bookings, goods = bookings × (1 − bad rate)), and NPV per unit spent =
    (goods · npv_per_good − bads · loss_per_bad − spend) / spend."""
    need = ["channel", "spend", "contacts", "responses", "approvals", "bookings"]
    require_columns(funnel, need, "channel funnel")
    f = funnel.set_index("channel")
    bad = (
        expected_bad_rate.reindex(f.index)
        if isinstance(expected_bad_rate, pd.Series)
        else pd.Series(float(expected_bad_rate), index=f.index)
    )
    out = pd.DataFrame(index=f.index)
    out["spend"] = f["spend"]
    out["cost_per_contact"] = f["spend"] / f["contacts"]
    out["response_rate"] = f["responses"] / f["contacts"]
    out["approval_rate"] = f["approvals"] / f["responses"]
    out["booking_rate"] = f["bookings"] / f["approvals"]
    out["bookings"] = f["bookings"]
    out["expected_bad_rate"] = bad
    goods = f["bookings"] * (1 - bad)
    out["cost_per_acquisition"] = f["spend"] / f["bookings"]
    out["cost_per_good_account"] = f["spend"] / goods
    out["npv_per_unit_spent"] = (goods * npv_per_good - f["bookings"] * bad * loss_per_bad - f["spend"]) / f[
        "spend"
    ]
    return TableResult(out.replace([np.inf, -np.inf], np.nan))


# --- response curves --------------------------------------------------------------------------------


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
    if len(x) != len(y) or len(x) < 12:
        raise ParameterError("spend/bookings", "at least 12 weeks of equal length", (len(x), len(y)))
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


def fit_channel_curves(
    weekly: pd.DataFrame,
    by: str = "channel",
    spend: str = "spend",
    bookings: str = "bookings",
    alpha: float = 0.05,
) -> dict[str, ResponseCurve]:
    """One curve per channel of a weekly table (``channel_spend`` of the simulated bank, or user data)."""
    return {
        ch: fit_response_curve(g[spend], g[bookings], ch, alpha) for ch, g in weekly.groupby(by, sort=True)
    }


# --- budget allocation ------------------------------------------------------------------------------


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


# --- uplift -----------------------------------------------------------------------------------------


def check_randomised(X: pd.DataFrame, treatment, max_smd: float = 0.1) -> BalanceResult:
    """Standardised mean difference of each numeric covariate between treated and control; raises DataError
    when any exceeds ``max_smd`` (the treatment was probably not randomised — uplift models would then
    estimate selection, not effect)."""
    t = np.asarray(treatment).astype(bool)
    rows = []
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]):
            continue
        a, b = X.loc[t, c].astype(float), X.loc[~t, c].astype(float)
        rows.append(
            {"feature": c, "smd": float(standardised_mean_difference(a.mean(), b.mean(), a.var(), b.var()))}
        )
    tab = pd.DataFrame(rows)
    tab["balanced"] = tab["smd"].abs() <= max_smd
    bad = tab[tab["smd"].abs() > max_smd]
    if len(bad):
        raise DataError.single(
            "uplift training data",
            str(bad["feature"].iloc[0]),
            f"treatment randomised: |standardised mean difference| ≤ {max_smd:g}",
            int(len(bad)),
            bad["smd"].round(3).tolist()[:3],
        )
    return BalanceResult(tab, max_smd)


class TwoModelUplift(BaseEstimator):
    """Uplift = P(y | x, treated) − P(y | x, control), one classifier per group (T-learner)."""

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, treatment, y) -> TwoModelUplift:
        from sklearn.base import clone

        t, y = _check_uplift(X, treatment, y)
        est = self.estimator if self.estimator is not None else response_model()
        self.treated_ = clone(est).fit(X[t], y[t])
        self.control_ = clone(est).fit(X[~t], y[~t])
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "treated_")
        return self.treated_.predict_proba(X)[:, 1] - self.control_.predict_proba(X)[:, 1]


class XLearnerUplift(BaseEstimator):
    """X-learner (Künzel et al. 2019): outcome models per group, imputed individual effects regressed on X
    in each group, combined with the treated share as propensity (constant under randomisation)."""

    def __init__(self, estimator=None, regressor=None):
        self.estimator = estimator
        self.regressor = regressor

    def fit(self, X, treatment, y) -> XLearnerUplift:
        from sklearn.base import clone

        t, y = _check_uplift(X, treatment, y)
        est = self.estimator if self.estimator is not None else response_model()
        reg = self.regressor if self.regressor is not None else _default_regressor()
        m1 = clone(est).fit(X[t], y[t])
        m0 = clone(est).fit(X[~t], y[~t])
        d1 = y[t] - m0.predict_proba(X[t])[:, 1]
        d0 = m1.predict_proba(X[~t])[:, 1] - y[~t]
        self.tau1_ = clone(reg).fit(X[t], d1)
        self.tau0_ = clone(reg).fit(X[~t], d0)
        self.propensity_ = float(t.mean())
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "tau1_")
        g = self.propensity_
        return g * self.tau0_.predict(X) + (1 - g) * self.tau1_.predict(X)


def response_model():
    """The default response classifier of the uplift models (also what a business-as-usual response model
    would be): median imputation, standardisation, logistic regression. Uplift of a response rate is
    mostly a shift in log-odds, which this captures with little variance; pass a boosting model for
    non-linear effects."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=2000)
    )


def _default_regressor():
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), Ridge(alpha=1.0))


def _check_uplift(X, treatment, y):
    t = np.asarray(treatment)
    yy = np.asarray(y)
    if not np.isin(t, (0, 1, True, False)).all():
        raise DataError.single(
            "uplift training data", "treatment", "treatment in {0, 1}", int((~np.isin(t, (0, 1))).sum())
        )
    if not np.isin(yy, (0, 1, True, False)).all():
        raise DataError.single(
            "uplift training data", "outcome", "binary outcome in {0, 1}", int((~np.isin(yy, (0, 1))).sum())
        )
    t = t.astype(bool)
    if t.all() or (~t).all():
        raise DataError.single("uplift training data", "treatment", "both treated and control rows", len(t))
    return t, yy.astype(float)


@dataclass(repr=False)
class QiniResult(Result):
    """The Qini curve (incremental responses per treated customer by share targeted) and the random line."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        s = self.summary
        return {"auuc": float(np.trapezoid(s["qini"] - s["random"], s["share_targeted"]))}

    def plot(self, ax=None, label: str = "model", random: bool = True):
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(8, 4.5))[1]
        s = self.summary
        ax.plot(s["share_targeted"], s["qini"], label=label)
        if random:
            ax.plot(s["share_targeted"], s["random"], color="grey", ls="--", label="random")
        ax.set(xlabel="share of customers targeted", ylabel="incremental responses per treated customer")
        ax.legend()
        return ax


def qini_curve(y, treatment, uplift, n_points: int = 100) -> QiniResult:
    """Qini curve: targeting the share φ with the highest predicted uplift, the incremental responses
    Q(φ) = R_t(φ) − R_c(φ) · N_t(φ) / N_c(φ) (responses among targeted treated minus control responses
    scaled to the treated count), as a fraction of all treated; the random-targeting line joins (0, 0) to
    (1, Q(1)). Ties are broken by a stable sort."""
    y, t, u = np.asarray(y, float), np.asarray(treatment).astype(bool), np.asarray(uplift, float)
    order = np.argsort(-u, kind="stable")
    y, t = y[order], t[order]
    ct, cc = np.cumsum(t), np.cumsum(~t)
    rt, rc = np.cumsum(y * t), np.cumsum(y * ~t)
    q = rt - np.where(cc > 0, rc * ct / np.maximum(cc, 1), 0.0)
    n = len(y)
    idx = np.unique(np.linspace(0, n - 1, n_points).round().astype(int))
    share = (idx + 1) / n
    qn = q[idx] / max(t.sum(), 1)
    return QiniResult(
        pd.DataFrame(
            {
                "share_targeted": np.r_[0.0, share],
                "qini": np.r_[0.0, qn],
                "random": np.r_[0.0, share * qn[-1]],
            }
        )
    )


def auuc(y, treatment, uplift) -> float:
    """Area between the Qini curve and the random line (trapezoid over the targeted share), so 0 = random."""
    return qini_curve(y, treatment, uplift, n_points=len(np.asarray(y))).to_dict()["auuc"]


def auuc_from_effect(effect, score) -> float:
    """AUUC when each unit's true effect is known (a simulator): targeting in order of ``score``, the area
    between the cumulative true effect (per unit of the population) and the random line; 0 = random, and
    the ranking by the true effect itself gives the largest possible value."""
    e = np.asarray(effect, float)[np.argsort(-np.asarray(score, float), kind="stable")]
    n = len(e)
    share = np.arange(0, n + 1) / n
    cum = np.r_[0.0, np.cumsum(e)] / n
    return float(np.trapezoid(cum - share * cum[-1], share))


# --- whom to contact --------------------------------------------------------------------------------


@dataclass(repr=False)
class TargetSelection(Result):
    """``selected``: one row per chosen (customer, channel) contact; ``totals``: counts and expected value
    (``summary`` shows them as a table, ``to_dict`` records them)."""

    selected: pd.DataFrame
    totals: dict

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"metric": list(self.totals), "value": list(self.totals.values())})

    def to_dict(self) -> dict:
        return dict(self.totals)


def select_targets(
    candidates: pd.DataFrame,
    budget: float,
    max_contacts_per_customer: int = 1,
    customer: str = "customer_id",
    value: str = "expected_value",
    cost: str = "cost",
    eligible: str | None = "eligible",
) -> TargetSelection:
    """Choose contacts under a budget and contact rules: one row per candidate (customer × channel) with
    its expected incremental value, its cost and whether the rules allow it (``eligible``: do-not-contact,
    channel permission, risk cutoff — computed by the caller). Ineligible rows and rows whose value does
    not exceed their cost are never chosen; the rest are taken by net value per unit cost while the budget
    and the per-customer cap allow (the greedy rule is the exact optimum of the fractional knapsack and
    within one item of the integer one)."""
    need = [customer, value, cost] + ([eligible] if eligible else [])
    require_columns(candidates, need, "targeting candidates")
    if budget < 0:
        raise ParameterError("budget", "a non-negative amount", budget)
    if max_contacts_per_customer < 1:
        raise ParameterError("max_contacts_per_customer", "an integer ≥ 1", max_contacts_per_customer)
    if (candidates[cost] < 0).any():
        raise DataError.single(
            "targeting candidates", cost, "non-negative cost", int((candidates[cost] < 0).sum())
        )
    c = candidates
    ok = (c[value] > c[cost]) & (c[eligible].astype(bool) if eligible else True)
    pool = c[ok].assign(_ratio=(c[value] - c[cost]) / c[cost].where(c[cost] > 0, 1e-12))
    pool = pool.sort_values(["_ratio", customer], ascending=[False, True], kind="stable")
    # per-customer cap: keep each customer's best max_contacts rows
    pool = pool[pool.groupby(customer).cumcount() < max_contacts_per_customer]
    within = pool[cost].cumsum() <= budget + 1e-9
    chosen = pool[within].drop(columns="_ratio")
    summ = {
        "contacts": int(len(chosen)),
        "customers": int(chosen[customer].nunique()),
        "spend": float(chosen[cost].sum()),
        "expected_value": float(chosen[value].sum()),
        "expected_net_value": float((chosen[value] - chosen[cost]).sum()),
        "eligible_candidates": int(c[eligible].astype(bool).sum()) if eligible else int(len(c)),
    }
    return TargetSelection(chosen, summ)


class InteractionUplift(BaseEstimator):
    """S-learner with treatment interactions (Lo 2002): one classifier on [X, t, t·X]; uplift =
    P(y | x, t=1) − P(y | x, t=0). The baseline is learnt from treated and control together, so with a
    logistic model it needs far fewer responses than two separate models; ``C`` is the inverse L2 strength."""

    def __init__(self, C: float = 1.0):
        self.C = C

    def _design(self, X, t) -> np.ndarray:
        Z = self.scaler_.transform(self.imputer_.transform(np.asarray(X, float)))
        tt = np.asarray(t, float)[:, None]
        return np.hstack([Z, tt, tt * Z])

    def fit(self, X, treatment, y) -> InteractionUplift:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        t, y = _check_uplift(X, treatment, y)
        self.imputer_ = SimpleImputer(strategy="median").fit(np.asarray(X, float))
        self.scaler_ = StandardScaler().fit(self.imputer_.transform(np.asarray(X, float)))
        self.model_ = LogisticRegression(C=self.C, max_iter=5000).fit(self._design(X, t), y)
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        n = len(X)
        return (
            self.model_.predict_proba(self._design(X, np.ones(n)))[:, 1]
            - self.model_.predict_proba(self._design(X, np.zeros(n)))[:, 1]
        )


# --- linking spend to credit losses: the scorecard and lifetime-value artefacts ---------------------


@dataclass
class AccountValue:
    """Expected value of a booked account per customer, from the scoring notebook's scorecard (probability
    of bad, risk cutoff) and the survival notebook's lifetime values (discounted margin and exposure per
    segment) — or from stated fallbacks, listed in ``notes``, when an artefact is missing.

    NPV(x) = discounted margin(segment) − PD(x) × exposure at default(segment) × LGD. PD is the scorecard's
    12-month probability of bad, a floor for the lifetime one: the NPV is optimistic for long-lived risky
    accounts, which the risk cutoff keeps out of targeting anyway."""

    scorecard: object | None
    clv: pd.DataFrame | None
    lgd: float
    fallback: dict
    notes: list

    def _score(self, customers: pd.DataFrame) -> np.ndarray | None:
        return None if self.scorecard is None else self.scorecard.score(customers).to_numpy(float)

    def _pd_bad(self, customers: pd.DataFrame, score: np.ndarray | None) -> np.ndarray:
        if score is None:
            return np.full(len(customers), float(self.fallback["bad_rate"]))
        return np.asarray(self.scorecard.pd_from_score(score), float)

    def _eligible(self, customers: pd.DataFrame, score: np.ndarray | None) -> np.ndarray:
        if score is None or "cutoff" not in self.scorecard.metadata:
            return np.ones(len(customers), bool)
        return score >= float(self.scorecard.metadata["cutoff"])

    def pd_bad(self, customers: pd.DataFrame) -> np.ndarray:
        """12-month probability of bad from the scorecard (the fallback bad rate without one)."""
        return self._pd_bad(customers, self._score(customers))

    def eligible(self, customers: pd.DataFrame) -> np.ndarray:
        """Passes the scorecard's cutoff (everyone when there is no scorecard)."""
        return self._eligible(customers, self._score(customers))

    def assess(self, customers: pd.DataFrame, segment: str = "segment") -> pd.DataFrame:
        """Per customer, scoring once: ``score`` (NaN without a scorecard), ``pd_bad``, ``npv`` (as
        :meth:`npv`) and ``eligible`` (as :meth:`eligible`); index of ``customers``."""
        score = self._score(customers)
        pd_bad = self._pd_bad(customers, score)
        return pd.DataFrame(
            {
                "score": np.full(len(customers), np.nan) if score is None else score,
                "pd_bad": pd_bad,
                "npv": self.margin(customers, segment) - pd_bad * self.loss_if_bad(customers, segment),
                "eligible": self._eligible(customers, score),
            },
            index=customers.index,
        )

    def _segment_values(
        self, customers: pd.DataFrame, column: str, fallback: str, segment: str
    ) -> np.ndarray:
        if self.clv is not None and segment in customers:
            c = self.clv.set_index("segment")
            mean = float(np.average(c[column], weights=c["accounts"]))
            return customers[segment].map(c[column]).fillna(mean).to_numpy(float)
        return np.full(len(customers), float(self.fallback[fallback]))

    def margin(self, customers: pd.DataFrame, segment: str = "segment") -> np.ndarray:
        """Discounted margin of a good account over its expected lifetime (per customer's segment)."""
        return self._segment_values(customers, "discounted_margin", "discounted_margin", segment)

    def loss_if_bad(self, customers: pd.DataFrame, segment: str = "segment") -> np.ndarray:
        """Credit loss when the account goes bad: exposure at default × LGD."""
        return (
            self._segment_values(customers, "exposure_at_default", "exposure_at_default", segment) * self.lgd
        )

    def npv(self, customers: pd.DataFrame, segment: str = "segment") -> np.ndarray:
        """Expected NPV of booking each customer: margin − PD × loss if bad."""
        return self.assess(customers, segment)["npv"].to_numpy()


def account_value(
    scorecard_path=None,
    clv_path=None,
    required: bool = False,
    bad_rate: float = 0.05,
    discounted_margin: float = 300.0,
    exposure_at_default: float = 1500.0,
    lgd: float = DEFAULT_LGD,
) -> AccountValue:
    """Read the scorecard and CLV artefacts (paths, or None when a run has none). ``required=True`` turns a
    missing or incompatible artefact into an ArtefactError; otherwise the stated fallbacks are used and
    ``notes`` says so (the report must show it)."""

    notes = []
    card = clv = None
    lgd_used = lgd
    try:
        if scorecard_path is None:
            raise ArtefactError(
                "scorecard artefact (scorecard.json) not found in this run or the last good one"
            )
        card = load(scorecard_path)
    except ArtefactError as exc:
        if required:
            raise
        notes.append(f"{exc}; using a flat probability of bad of {bad_rate:.1%} and no risk cutoff")
    try:
        if clv_path is None:
            raise ArtefactError(
                "lifetime-value artefact (clv.json) not found in this run or the last good one"
            )
        clv, assumptions = read_clv_artefact(clv_path)
        lgd_used = float(assumptions.get("lgd", lgd))
    except ArtefactError as exc:
        if required:
            raise
        notes.append(
            f"{exc}; using a discounted margin of {discounted_margin:,.0f} and exposure at default of "
            f"{exposure_at_default:,.0f} per account"
        )
    return AccountValue(
        card,
        clv,
        lgd_used,
        {
            "bad_rate": bad_rate,
            "discounted_margin": discounted_margin,
            "exposure_at_default": exposure_at_default,
        },
        notes,
    )


# --- data sources --------------------------------------------------------------------------------

#: the bank's tables cost optimisation reads
TABLES = ("customers", "campaigns", "contacts", "applications", "channel_spend")


@dataclass
class OptimisationData:
    """The tables cost optimisation reads (``tables[name]``), the arms of the randomised offer test, and the
    simulated ``world`` (None for user data)."""

    name: str
    tables: dict
    arms: list[str]
    world: object = None


def optimisation_data(
    data_source: str, n_customers: int = 100_000, random_state: int = 1, treatment_arm: str | None = None
) -> OptimisationData:
    """Load the bank's tables: ``"synthetic"`` (the simulated bank) or a folder written by
    ``cmlib data generate`` (one table per sub-folder or file). ``treatment_arm``, when given, must be an arm
    of the randomised test (ParameterError otherwise)."""
    # imported here so that `import cmlib.optimize` does not load the simulator
    from cmlib.data import load, simulate_bank

    world = None
    if data_source == "synthetic":
        world = simulate_bank(n_customers=n_customers, random_state=random_state)
        tables = {k: getattr(world, k) for k in TABLES}
    else:
        tables = {k: load(data_source, table=k) for k in TABLES}
    arms = sorted(set(tables["campaigns"]["arm"].dropna().astype(str)) - {"", "control"})
    if treatment_arm is not None and treatment_arm not in arms:
        raise ParameterError("treatment_arm", f"an arm of the randomised test: {arms}", treatment_arm)
    return OptimisationData(data_source, tables, arms, world)
