"""Feature selection (cmlib/scorecard/selection.py): VIF equals statsmodels, the correlation filter keeps
the higher-IV feature, IV threshold and stepwise reasons, and the error when nothing survives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.outliers_influence import variance_inflation_factor

from cmlib.errors import DataError, ParameterError
from cmlib.scorecard import select_features, vif


@pytest.fixture(scope="module")
def design():
    rng = np.random.default_rng(3)
    n = 4000
    a = rng.normal(size=n)
    b = a + rng.normal(0, 0.2, n)  # |r| ≈ 0.98 with a
    c = rng.normal(size=n)
    d = rng.normal(size=n)
    W = pd.DataFrame({"a": a, "b": b, "c": c, "d": d, "const": 1.0})
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1 - 0.8 * a - 0.5 * c)))).astype(int)
    iv = pd.Series({"a": 0.30, "b": 0.35, "c": 0.10, "d": 0.01, "const": 0.0})
    return W, y, iv


def test_vif_equals_statsmodels(design):
    W = design[0][["a", "b", "c", "d"]]
    X = sm.add_constant(W)
    ref = [variance_inflation_factor(X.to_numpy(), i) for i in range(1, X.shape[1])]
    assert np.allclose(vif(W).to_numpy(), ref, rtol=1e-8)


def test_filters_and_reasons(design):
    W, y, iv = design
    res = select_features(W, y, iv, min_iv=0.02, max_corr=0.7)
    s = res.summary.set_index("feature")
    assert res.selected == ["b", "c"]  # b beats a on IV; d under the IV floor; const is a single bin
    assert s.loc["a", "reason_dropped"].startswith("|r| 0.98 with b")
    assert (
        s.loc["d", "reason_dropped"] == "IV 0.010 < 0.02" and s.loc["const", "reason_dropped"] == "single bin"
    )
    # without the correlation filter VIF catches the pair
    res = select_features(W, y, iv, min_iv=0.0, max_corr=None, max_vif=5)
    assert "VIF" in res.summary.set_index("feature").loc["a", "reason_dropped"] and "b" in res.selected
    # stepwise drops the feature with no effect (d); y falls with a and c, as risk falls with WoE, so their
    # coefficients have the expected negative sign; flipped, every feature has the wrong sign and goes
    # until one is left
    iv2 = iv.copy()
    iv2["d"] = 0.05
    res = select_features(W, y, iv2, min_iv=0.0, max_corr=0.7, stepwise=True)
    reason_d = res.summary.set_index("feature").loc["d", "reason_dropped"]
    assert res.selected == ["b", "c"] and (
        "stepwise" in reason_d or reason_d == "coefficient has the wrong sign"
    )
    flipped = select_features(-W, y, iv2, min_iv=0.0, max_corr=0.7, stepwise=True).summary.set_index(
        "feature"
    )
    assert flipped.loc["c", "reason_dropped"] == "coefficient has the wrong sign"


def test_errors(design):
    W, y, iv = design
    with pytest.raises(DataError, match="at least one feature with IV"):
        select_features(W, y, iv, min_iv=0.5)
    with pytest.raises(ParameterError, match="max_corr"):
        select_features(W, y, iv, max_corr=1.5)
