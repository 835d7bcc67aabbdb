"""cmlib.market — forecasting (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from cmlib.base import Result, TableResult
from cmlib.errors import DataError, ParameterError
from cmlib.market.series import monthly

MODELS = ("ets", "sarimax", "seasonal_naive")


def _fit_forecast(y: pd.Series, model: str, horizon: int, alpha: float) -> pd.DataFrame:
    """Forecast of log y: mean, ci_low, ci_high on the next ``horizon`` months.

    statsmodels' convergence warnings are silenced here: a model that fits badly shows it where it
    matters, in its backtest error, and the backtest chooses another.
    """
    import warnings

    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _fit_forecast_raw(y, model, horizon, alpha)


def _fit_forecast_raw(y: pd.Series, model: str, horizon: int, alpha: float) -> pd.DataFrame:
    idx = pd.date_range(y.index[-1] + pd.offsets.MonthBegin(1), periods=horizon, freq="MS")
    if model == "seasonal_naive":
        last = y.iloc[-12:].to_numpy()
        mean = np.array([last[h % 12] for h in range(horizon)])
        resid = (y - y.shift(12)).dropna()
        sd = resid.std(ddof=1) * np.sqrt(np.floor(np.arange(horizon) / 12) + 1)
        z = stats.norm.ppf(1 - alpha / 2)
        return pd.DataFrame({"mean": mean, "ci_low": mean - z * sd, "ci_high": mean + z * sd}, index=idx)
    if model == "ets":
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        fit = ETSModel(
            y, error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=12
        ).fit(disp=False, maxiter=2000)
        pred = fit.get_prediction(start=len(y), end=len(y) + horizon - 1).summary_frame(alpha=alpha)
        return pd.DataFrame(
            {
                "mean": pred["mean"].to_numpy(),
                "ci_low": pred["pi_lower"].to_numpy(),
                "ci_high": pred["pi_upper"].to_numpy(),
            },
            index=idx,
        )
    if model == "sarimax":
        fit = sm.tsa.SARIMAX(y, order=(1, 1, 1), seasonal_order=(0, 1, 1, 12)).fit(disp=False)
        f = fit.get_forecast(horizon)
        ci = f.conf_int(alpha=alpha)
        return pd.DataFrame(
            {
                "mean": f.predicted_mean.to_numpy(),
                "ci_low": ci.iloc[:, 0].to_numpy(),
                "ci_high": ci.iloc[:, 1].to_numpy(),
            },
            index=idx,
        )
    raise ParameterError("model", f"one of {MODELS}", model)


@dataclass(repr=False)
class ForecastResult(Result):
    """The chosen model's forecast (levels, with intervals) and the rolling-origin backtest behind the choice."""

    forecast: pd.DataFrame
    backtest: pd.DataFrame
    model: str
    history: pd.Series
    alpha: float

    @property
    def summary(self) -> pd.DataFrame:
        return self.backtest

    def plot(self, ax=None):
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        ax.plot(self.history.index, self.history, color="black", lw=1.2, label="actual")
        f = self.forecast
        ax.plot(f.index, f["mean"], lw=1.8, label=f"forecast ({self.model})")
        ax.fill_between(
            f.index, f["ci_low"], f["ci_high"], alpha=0.25, label=f"{1 - self.alpha:.0%} interval"
        )
        ax.legend(loc="upper left")
        ax.set_title("Forecast with prediction interval")
        return ax

    def to_dict(self) -> dict:
        b = self.backtest.set_index("model")
        return {
            "forecast_mape": float(b.loc[self.model, "mape"]),
            "seasonal_naive_mape": float(b.loc["seasonal_naive", "mape"]),
            # the series is a stock (a balance): its forecast is a level at the horizon, never a sum of months
            "forecast_end_level": float(self.forecast["mean"].iloc[-1]),
        }


def backtest(
    series: pd.Series, horizon: int = 12, n_origins: int = 4, step: int = 3, models: Sequence[str] = MODELS
) -> TableResult:
    """Rolling-origin backtest on the log series: for each origin (the last ``n_origins`` ones, ``step``
    months apart, each leaving ``horizon`` months to predict) refit every model and score the level
    forecast by MAPE. Returns one row per model: mape, and relative to seasonal naive."""
    s = monthly(series, positive=True, min_periods=36 + horizon)
    y = np.log(s)
    last_origin = len(y) - horizon
    origins = [last_origin - step * k for k in range(n_origins)][::-1]
    if origins[0] < 36:
        raise DataError.single(
            "market",
            str(s.name),
            f"at least {36 + horizon + step * (n_origins - 1)} months for the backtest",
            len(s),
        )
    errs: dict[str, list[float]] = {m: [] for m in models}
    for o in origins:
        train, test = y.iloc[:o], s.iloc[o : o + horizon]
        for m in models:
            f = _fit_forecast(train, m, horizon, 0.05)
            errs[m].extend(np.abs(np.exp(f["mean"].to_numpy()) / test.to_numpy() - 1))
    out = pd.DataFrame({"model": list(models), "mape": [float(np.mean(errs[m])) for m in models]})
    naive = out.loc[out["model"] == "seasonal_naive", "mape"]
    out["relative_to_naive"] = out["mape"] / naive.item() if len(naive) else np.nan
    out["origins"] = len(origins)
    return TableResult(out)


def forecast(
    series: pd.Series, horizon: int = 12, alpha: float = 0.05, n_origins: int = 4, step: int = 3
) -> ForecastResult:
    """Forecast ``horizon`` months with the model (ETS, SARIMAX or seasonal naive) of lowest backtest MAPE,
    refitted on the whole series; intervals come from the model on the log scale, exp'd back."""
    if horizon < 1:
        raise ParameterError("horizon", "an integer ≥ 1 (months)", horizon)
    s = monthly(series, positive=True, min_periods=36 + horizon)
    bt = backtest(s, horizon, n_origins, step).summary
    best = bt.sort_values("mape").iloc[0]["model"]
    f = np.exp(_fit_forecast(np.log(s), best, horizon, alpha))
    return ForecastResult(f, bt, best, s, alpha)
