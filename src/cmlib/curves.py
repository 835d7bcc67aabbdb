"""Response-curve shapes shared by the simulator (which generates with them) and the estimators in
:mod:`cmlib.optimize` (which fit them): one definition, so "estimated vs true" compares like with like.

Spend is money per week in the portfolio currency; bookings are accounts per week.
"""

from __future__ import annotations

import numpy as np

#: the parameters of a channel's weekly response curve, in the simulator's truth and the fitted curve alike
CURVE_PARAMS = ("base", "top", "decay", "half_saturation", "shape")


def adstock(spend, decay: float) -> np.ndarray:
    """Geometric adstock a_t = x_t + decay · a_{t−1}, a_0 = x_0."""
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -decay], np.asarray(spend, float))


def hill(x, half_saturation: float, shape: float) -> np.ndarray:
    """x^S / (x^S + K^S), in [0, 1)."""
    from scipy.special import expit

    x = np.maximum(np.asarray(x, float), 0.0)
    with np.errstate(divide="ignore"):  # log(0) = -inf gives exactly 0 (no spend, no response)
        return expit(shape * (np.log(x) - np.log(half_saturation)))


def incremental_bookings(p: dict, weekly_spend) -> np.ndarray:
    """Steady-state weekly bookings above base at a constant weekly spend: top · Hill(spend / (1 − decay))."""
    return p["top"] * hill(
        np.asarray(weekly_spend, float) / (1 - p["decay"]), p["half_saturation"], p["shape"]
    )
