"""cmlib.market — structural change (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm

from cmlib.base import Result
from cmlib.errors import ParameterError
from cmlib.market.series import monthly


@dataclass(repr=False)
class ITSResult(Result):
    """Interrupted time series at a known date: level and slope change of the log series with CIs."""

    summary: pd.DataFrame
    fit: object
    break_date: pd.Timestamp

    def to_dict(self) -> dict:
        s = self.summary
        return {
            "level_change_log": float(s.loc["level_change", "coef"]),
            "slope_change_log": float(s.loc["slope_change", "coef"]),
            **self.annual_growth(),
        }

    def annual_growth(self) -> dict:
        """The trend's growth a year before and after the date (fractions): exp(12 × monthly log slope) − 1,
        seasonality and the level shift aside."""
        s = self.summary["coef"]
        return {
            "growth_before": float(np.expm1(12 * s["trend"])),
            "growth_after": float(np.expm1(12 * (s["trend"] + s["slope_change"]))),
        }


def _its_design(index: pd.DatetimeIndex, k: int, seasonal: bool) -> pd.DataFrame:
    t = np.arange(len(index), dtype=float)
    after = (t >= k).astype(float)
    X = pd.DataFrame({"trend": t, "level_change": after, "slope_change": after * (t - k)}, index=index)
    if seasonal:
        X = X.join(pd.get_dummies(index.month, prefix="m", drop_first=True, dtype=float).set_index(index))
    return sm.add_constant(X)


def interrupted_time_series(
    series: pd.Series,
    break_date: str | pd.Timestamp,
    seasonal: bool = True,
    alpha: float = 0.05,
    hac_lags: int = 6,
) -> ITSResult:
    """Segmented regression of log(series) on trend, a level shift and a slope change at ``break_date``
    (plus month dummies), with HAC errors. Coefficients are changes in log units (≈ fractions)."""
    s = monthly(series, positive=True, min_periods=24)
    bd = pd.Timestamp(break_date)
    if bd not in s.index or s.index.get_loc(bd) < 6 or s.index.get_loc(bd) > len(s) - 6:
        raise ParameterError(
            "break_date", "a month inside the series with six months either side", str(bd.date())
        )
    X = _its_design(s.index, s.index.get_loc(bd), seasonal)
    fit = sm.OLS(np.log(s), X).fit(cov_type="HAC", cov_kwds={"maxlags": hac_lags})
    ci = fit.conf_int(alpha)
    summ = pd.DataFrame(
        {"coef": fit.params, "se": fit.bse, "ci_low": ci[0], "ci_high": ci[1], "p_value": fit.pvalues}
    )
    return ITSResult(summ.loc[["trend", "level_change", "slope_change"]], fit, bd)


def _seg_rss(y: np.ndarray):
    """RSS of a straight-line fit to y[i:j] from prefix sums; ``i`` may be an array (vectorised)."""
    n = len(y)
    t = np.arange(n, dtype=float)
    c = {
        k: np.concatenate([[0.0], np.cumsum(v)])
        for k, v in {"1": np.ones(n), "t": t, "tt": t * t, "y": y, "ty": t * y, "yy": y * y}.items()
    }

    def rss(i, j: int):
        m = c["1"][j] - c["1"][i]
        st, stt = c["t"][j] - c["t"][i], c["tt"][j] - c["tt"][i]
        sy, sty, syy = c["y"][j] - c["y"][i], c["ty"][j] - c["ty"][i], c["yy"][j] - c["yy"][i]
        vt = stt - st * st / m
        cov = sty - st * sy / m
        vy = syy - sy * sy / m
        with np.errstate(divide="ignore", invalid="ignore"):
            expl = np.where(vt > 0, cov * cov / np.where(vt > 0, vt, 1.0), 0.0)
        return np.maximum(vy - expl, 0.0)

    return rss


def _best_partition(y: np.ndarray, k_breaks: int, min_size: int) -> tuple[float, list[int]]:
    """Optimal partition of y into k+1 linear segments (dynamic programming over split points, each
    segment at least ``min_size`` long)."""
    n = len(y)
    rss = _seg_rss(y)
    cost = np.full((k_breaks + 1, n + 1), np.inf)
    arg = np.full((k_breaks + 1, n + 1), -1, dtype=int)
    js = np.arange(min_size, n + 1)
    cost[0, js] = rss(np.zeros(len(js), dtype=int), js)
    for b in range(1, k_breaks + 1):
        # the last layer is only needed at j = n
        for j in range((b + 1) * min_size, n + 1) if b < k_breaks else [n]:
            i = np.arange(b * min_size, j - min_size + 1)
            if len(i) == 0:
                continue
            v = cost[b - 1, i] + rss(i, j)
            w = int(np.argmin(v))
            cost[b, j], arg[b, j] = v[w], i[w]
    bps, j = [], n
    for b in range(k_breaks, 0, -1):
        j = int(arg[b, j])
        bps.append(j)
    return float(cost[k_breaks, n]), sorted(bps)


def seasonal_profile(series: pd.Series) -> pd.Series:
    """Additive monthly seasonal component, robust to level shifts: the median month-on-month change of each
    calendar month, centred (removing the trend's growth), cumulated over the year and centred again."""
    d = series.diff().dropna()
    med = d.groupby(d.index.month).median().reindex(range(1, 13)).fillna(0.0)
    med = med - med.mean()
    prof = med.cumsum()
    prof = prof - prof.mean()
    return pd.Series(prof.reindex(series.index.month).to_numpy(), index=series.index)


@dataclass(repr=False)
class BreakResult(Result):
    """Change points found at unknown dates, with the evidence for them."""

    summary: pd.DataFrame
    n_breaks: int
    p_value: float
    bic: pd.DataFrame
    adjusted: pd.Series
    fitted: pd.Series

    @property
    def detected(self) -> bool:
        return self.n_breaks > 0

    def plot(self, ax=None):
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        # fitted on logs, drawn in the series' own units: a reader reads a level, not a log
        ax.plot(self.adjusted.index, np.exp(self.adjusted), color="grey", lw=1, label="seasonally adjusted")
        ax.plot(self.fitted.index, np.exp(self.fitted), lw=2, label="piecewise trend")
        ax.set_ylabel("level (the series' units)")
        for r in self.summary.itertuples():
            ax.axvline(r.date, color="red", ls="--", lw=1)
            ax.axvspan(r.date_ci_low, r.date_ci_high, color="red", alpha=0.1)
        ax.legend(loc="upper left")
        ax.set_title("Structural breaks (dashed) with their date uncertainty (shaded)")
        return ax

    def to_dict(self) -> dict:
        return {"n_breaks": float(self.n_breaks), "break_p_value": self.p_value}


def detect_breaks(
    series: pd.Series,
    max_breaks: int = 2,
    min_size: int = 12,
    alpha: float = 0.05,
    n_boot: int = 199,
    random_state: int = 0,
    log: bool = True,
) -> BreakResult:
    """Change points in level and slope at unknown dates.

    1. Remove seasonality (:func:`seasonal_profile`: median month-on-month change per calendar month, which a
       one-month level shift cannot distort; STL's seasonal component bent around breaks in testing).
    2. For 0..``max_breaks`` breaks, the optimal piecewise-linear fit (dynamic programming); the number of
       breaks minimises BIC = n·log(RSS/n) + 3k·log(n) (each break adds a date, a level and a slope).
    3. Are the breaks real? Sequential parametric-bootstrap tests of the likelihood ratio of m + 1 against
       m breaks (residuals resampled under the m-break fit), from m = 0 up to BIC's choice; a break is
       kept only while p < alpha. ``p_value`` is the test of any break against none.
    4. Date uncertainty: the ``alpha``/2 and 1 − ``alpha``/2 quantiles of the break date re-estimated on
       bootstrap series simulated from the fitted broken model (``date_ci_low``, ``date_ci_high``).
    """
    s = monthly(series, positive=log, min_periods=max(36, (max_breaks + 1) * min_size))
    if max_breaks < 1:
        raise ParameterError("max_breaks", "an integer ≥ 1", max_breaks)
    ly = np.log(s) if log else s
    adj = ly - seasonal_profile(ly)
    y = adj.to_numpy()
    n = len(y)
    fits = [_best_partition(y, k, min_size) for k in range(max_breaks + 1)]
    bic = pd.DataFrame(
        {
            "breaks": range(max_breaks + 1),
            "bic": [n * np.log(f[0] / n) + 3 * k * np.log(n) for k, f in enumerate(fits)],
        }
    )
    k = int(bic.loc[bic["bic"].idxmin(), "breaks"])
    rng = np.random.default_rng(random_state)

    def piecewise(bps: list[int], yy: np.ndarray) -> np.ndarray:
        out = np.empty_like(yy)
        edges = [0, *bps, len(yy)]
        t = np.arange(len(yy), dtype=float)
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            coef = np.polyfit(t[a:b], yy[a:b], 1)
            out[a:b] = np.polyval(coef, t[a:b])
        return out

    # Sequential bootstrap tests (as in Bai–Perron's sequential procedure): accept break m + 1 only if
    # the likelihood-ratio of m + 1 against m breaks is significant under the m-break fit; stop at the
    # first non-significant step or at BIC's choice, whichever comes first.
    k_bic, k, p = k, 0, 1.0
    for m in range(0, max(k_bic, 1)):
        base = piecewise(fits[m][1], y)
        res_m = y - base
        lr = n * np.log(fits[m][0] / fits[m + 1][0])
        boot_lr = np.empty(n_boot)
        for b in range(n_boot):
            yb = base + rng.choice(res_m, n, replace=True)
            boot_lr[b] = n * np.log(
                _best_partition(yb, m, min_size)[0] / _best_partition(yb, m + 1, min_size)[0]
            )
        p_m = float((1 + (boot_lr >= lr).sum()) / (n_boot + 1))
        if m == 0:
            p = p_m  # the headline: is there any break at all?
        if p_m >= alpha or m + 1 > k_bic:
            break
        k = m + 1
    bps = fits[k][1]
    fitted = piecewise(bps, y)
    rows = []
    if k:
        resid = y - fitted
        dates = np.empty((n_boot, k), dtype=int)
        for b in range(n_boot):
            dates[b] = _best_partition(fitted + rng.choice(resid, n, replace=True), k, min_size)[1]
        t = np.arange(n, dtype=float)
        for i, bp in enumerate(bps):
            lo, hi = np.percentile(dates[:, i], [100 * alpha / 2, 100 * (1 - alpha / 2)]).round().astype(int)
            left, right = (bps[i - 1] if i else 0), (bps[i + 1] if i + 1 < k else n)
            cl, cr = np.polyfit(t[left:bp], y[left:bp], 1), np.polyfit(t[bp:right], y[bp:right], 1)
            rows.append(
                {
                    "date": s.index[bp],
                    "date_ci_low": s.index[lo],
                    "date_ci_high": s.index[hi],
                    "level_change": float(np.polyval(cr, bp) - np.polyval(cl, bp)),
                    "slope_change": float(cr[0] - cl[0]),
                }
            )
    summary = pd.DataFrame(
        rows, columns=["date", "date_ci_low", "date_ci_high", "level_change", "slope_change"]
    )
    return BreakResult(summary, k, p, bic, pd.Series(y, index=s.index), pd.Series(fitted, index=s.index))
