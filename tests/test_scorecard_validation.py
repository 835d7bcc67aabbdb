"""Validation (cmlib/scorecard/validation.py): AUC = scikit-learn, KS = scipy, PSI = hand calculation,
bootstrap CI width consistent with the Hanley–McNeil standard error, calibration and gains bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from cmlib.errors import DataError
from cmlib.scorecard import auc_ci, calibration, csi, gains_table, ks, psi, psi_flag, validate_scorecard


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(11)
    n = 5000
    score = np.round(rng.normal(600, 50, n))
    pd_ = 1 / (1 + np.exp((score - 520) / 30))
    y = (rng.random(n) < pd_).astype(int)
    return y, score, pd_


def test_auc_ks_against_references(scored):
    y, s, _ = scored
    a = auc_ci(y, s, n_boot=400).to_dict()
    assert a["auc"] == pytest.approx(roc_auc_score(1 - y, s), abs=1e-12)
    assert a["gini"] == pytest.approx(2 * a["auc"] - 1)
    # Hanley–McNeil standard error of the AUC: the bootstrap 95 % CI should be about ±1.96 of it (±25 %)
    A, n1, n0 = a["auc"], y.sum(), (1 - y).sum()
    q1, q2 = A / (2 - A), 2 * A**2 / (1 + A)
    se = np.sqrt((A * (1 - A) + (n1 - 1) * (q1 - A**2) + (n0 - 1) * (q2 - A**2)) / (n1 * n0))
    assert (a["auc_ci_high"] - a["auc_ci_low"]) / (2 * 1.96 * se) == pytest.approx(1.0, abs=0.25)
    assert ks(y, s).ks == pytest.approx(ks_2samp(s[y == 1], s[y == 0]).statistic, abs=1e-12)
    # the bootstrap interval is the one roc_auc_score gives on the same replicates (ties: rounded scores)
    rng, bad, good = np.random.default_rng(0), np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    boots = []
    for _ in range(400):
        idx = np.concatenate([rng.choice(bad, len(bad)), rng.choice(good, len(good))])
        boots.append(roc_auc_score(1 - y[idx], s[idx]))
    assert [a["auc_ci_low"], a["auc_ci_high"]] == pytest.approx(np.quantile(boots, [0.025, 0.975]), abs=1e-12)


def test_gains_and_calibration(scored):
    y, s, p = scored
    g = gains_table(y, s, 10).summary
    assert g["n"].sum() == len(y) and g["n_bad"].sum() == y.sum()
    assert (
        g["cum_share_bads"].iloc[-1] == pytest.approx(1.0) and g["bad_rate"].iloc[0] > g["bad_rate"].iloc[-1]
    )
    cal = calibration(y, p, s, 10).summary
    # the PDs are the true probabilities here: no band should be rejected at the 0.1 % level
    assert cal["n"].sum() == len(y) and (cal["p_value"] > 0.001).all()
    v = validate_scorecard(y, s, p, n_boot=100)
    assert v.to_dict()["n"] == len(y) and set(v.to_dict()) >= {"auc", "ks", "gini_ci_low"}


def test_psi_hand_calculation_and_flags():
    e = np.repeat([1.0, 2.0, 3.0, 4.0], [25, 25, 25, 25])
    a = np.repeat([1.0, 2.0, 3.0, 4.0], [10, 20, 30, 40])
    res = psi(e, a, bins=[1.5, 2.5, 3.5])
    value, tab = res.psi, res.summary
    assert res.flag == psi_flag(value) and len(tab) == 4
    pe, pa = np.array([0.25] * 4), np.array([0.1, 0.2, 0.3, 0.4])
    assert value == pytest.approx(((pa - pe) * np.log(pa / pe)).sum(), rel=1e-12)
    assert psi(e, e).psi == pytest.approx(0.0)
    assert [psi_flag(v) for v in (0.05, 0.1, 0.2, 0.3)] == ["stable", "watch", "watch", "shifted"]


def test_csi_on_german_credit():
    from cmlib.data.public import load_public
    from cmlib.scorecard import Scorecard

    g = load_public("german").frame
    y = g.pop("bad")
    sc = Scorecard().fit(g, y)
    same = csi(sc, g, g).summary
    assert (same["csi"].abs() < 1e-12).all() and (same["flag"] == "stable").all()
    shifted = g.copy()
    shifted["duration_in_month"] = shifted["duration_in_month"] * 3  # everyone in the longest bins
    out = csi(sc, g, shifted).summary.set_index("feature")
    assert out.loc["duration_in_month", "flag"] == "shifted"


def test_errors(scored):
    y, s, _ = scored
    with pytest.raises(DataError, match="binary target"):
        auc_ci(y + 2, s)
    with pytest.raises(DataError):
        auc_ci(np.zeros(10), np.arange(10.0))


def test_recalibration_shift_is_the_logistic_intercept_with_the_old_log_odds_as_offset():
    """Reference: statsmodels' GLM (binomial) on a constant with offset logit(pd) estimates the same shift."""
    import statsmodels.api as sm

    from cmlib.scorecard import calibration_check, recalibration_shift

    rng = np.random.default_rng(5)
    p = rng.beta(1.2, 20, 20_000)
    y = rng.binomial(1, np.clip(p * 1.3, 0, 1))
    offset = np.log(p / (1 - p))
    glm = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=offset).fit()
    assert recalibration_shift(y, p) == pytest.approx(glm.params[0], abs=1e-7)
    chk = calibration_check(y, p)
    assert chk.recalibrated.sum() == pytest.approx(y.sum(), rel=1e-9)  # right on average after the shift
    assert not chk.passes and chk.ratio_ci_low < 1.3 < chk.ratio_ci_high
    assert set(chk.summary.columns) >= {"observed_bad_rate", "predicted_before", "predicted_after"}


@pytest.mark.slow
def test_calibration_check_rejects_right_pds_at_the_nominal_rate():
    """A simulation property: with PDs that are the truth, the test rejects in about alpha of samples
    (1,000 samples: 5 % ± 2.1 pp is three binomial standard errors)."""
    from cmlib.scorecard import calibration_check

    rng = np.random.default_rng(11)
    rejections = 0
    for _ in range(1000):
        p = rng.beta(1.5, 25, 3000)
        y = rng.binomial(1, p)
        rejections += not calibration_check(y, p, n_bands=5).passes
    assert abs(rejections / 1000 - 0.05) <= 3 * np.sqrt(0.05 * 0.95 / 1000)
