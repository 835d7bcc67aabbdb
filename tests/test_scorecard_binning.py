"""Optimal binning (cmlib/scorecard/binning.py): the DP optimum equals a brute-force search."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cmlib.errors import DataError, ParameterError
from cmlib.scorecard.binning import WoEBinner, _partition_iv, bin_iv, optimal_partition


def _valid(ev, tot, edges, pattern, max_bins, share, min_e, min_ne):
    T = tot.sum()
    bins = list(zip(edges[:-1], edges[1:], strict=True))
    if len(bins) > max_bins:
        return False
    rates = []
    for a, b in bins:
        e, t = ev[a:b].sum(), tot[a:b].sum()
        if t < share * T - 1e-9 or e < min_e or t - e < min_ne:
            return False
        rates.append(e / t)
    d = np.sign(np.diff(rates))
    if pattern == "ascending":
        return bool((d > 0).all())
    if pattern == "descending":
        return bool((d < 0).all())
    if pattern in ("peak", "valley"):
        first, second = (1, -1) if pattern == "peak" else (-1, 1)
        if (d == 0).any():
            return False
        k = 0
        while k < len(d) and d[k] == first:
            k += 1
        return bool((d[k:] == second).all())
    return True


def brute(ev, tot, pattern, max_bins, share, min_e, min_ne):
    n = len(ev)
    best = None
    for r in range(0, n):
        for cuts in itertools.combinations(range(1, n), r):
            edges = [0, *cuts, n]
            if _valid(ev, tot, edges, pattern, max_bins, share, min_e, min_ne):
                iv = _partition_iv(ev, tot, edges)
                if best is None or iv > best + 1e-12:
                    best = iv
    return best


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("pattern", ["ascending", "descending", "peak", "valley", "none"])
def test_dp_equals_brute_force(seed, pattern):
    rng = np.random.default_rng(seed)
    n = 9
    tot = rng.integers(20, 200, n).astype(float)
    p = np.clip(0.1 + 0.05 * rng.standard_normal(n) + (0.02 * np.arange(n) if seed % 2 else 0), 0.01, 0.9)
    ev = rng.binomial(tot.astype(int), p).astype(float)
    args = dict(max_bins=5, min_bin_share=0.05, min_events=2, min_nonevents=2)
    want = brute(
        ev, tot, pattern, args["max_bins"], args["min_bin_share"], args["min_events"], args["min_nonevents"]
    )
    if want is None:
        with pytest.raises(DataError):
            optimal_partition(ev, tot, pattern, **args)
        return
    edges = optimal_partition(ev, tot, pattern, **args)
    assert _valid(ev, tot, edges, pattern, 5, 0.05, 2, 2)
    assert _partition_iv(ev, tot, edges) == pytest.approx(want, abs=1e-10)


def test_auto_takes_the_better_direction():
    tot = np.full(6, 100.0)
    ev = np.array([30, 25, 20, 12, 8, 5], float)
    assert optimal_partition(ev, tot, "auto") == optimal_partition(ev, tot, "descending")


def test_iv_equals_hand_computation():
    e, ne = 30 / 100, 70 / 900
    assert bin_iv(30, 100, 100, 900, smoothing=0) == pytest.approx((e - ne) * np.log(e / ne))


def test_errors():
    with pytest.raises(DataError, match="0 ≤ events ≤ rows"):
        optimal_partition([5, -1], [10, 10])
    with pytest.raises(DataError, match="meeting the binning constraints"):
        optimal_partition([1, 1], [100, 100], "ascending", min_events=5)
    with pytest.raises(ParameterError, match="monotonic"):
        optimal_partition([1, 2], [10, 10], "sideways")


def test_woe_binner_on_german_credit_hand_checked():
    import pandas as pd

    from cmlib.data.public import load_public

    g = load_public("german").frame
    X, y = (
        g[
            [
                "duration_in_month",
                "credit_amount",
                "age_in_years",
                "purpose",
                "status_of_existing_checking_account",
            ]
        ],
        g["bad"],
    )
    b = WoEBinner(max_bins=5).fit(X, y)
    tab = b.tables_["status_of_existing_checking_account"]
    row = tab[tab["bin"] == "no checking account"].iloc[0]
    E, NE = y.sum(), (1 - y).sum()
    want = np.log(((row["n"] - row["n_event"] + 0.5) / (NE + 0.5)) / ((row["n_event"] + 0.5) / (E + 0.5)))
    assert row["woe"] == pytest.approx(want, rel=1e-12)
    assert (
        b.iv_["status_of_existing_checking_account"] > 0.5
    )  # the well-known strongest German-credit feature
    num = b.tables_["duration_in_month"].dropna(subset=["lower"])
    rates = num["event_rate"].to_numpy()
    assert (np.diff(rates) > 0).all() or (np.diff(rates) < 0).all()  # monotonic
    W = b.transform(X)
    assert W.shape == X.shape and W.notna().all().all()
    unseen = X.head(2).assign(purpose="spaceship")
    assert (
        b.transform(unseen)["purpose"] == b.tables_["purpose"].set_index("bin").loc["missing", "woe"]
    ).all()
    with pytest.raises(DataError, match="column .extra. breaks rule .a feature seen at fit"):
        b.transform(X.assign(extra=1))
    with pytest.raises(DataError, match="binary target"):
        WoEBinner().fit(X, y + 1)
    with pytest.raises(DataError, match="at least two distinct values"):
        WoEBinner().fit(X.assign(const=1)[["const"]], y)
    assert WoEBinner().set_params(max_bins=3).get_params()["max_bins"] == 3
    with pytest.raises(ParameterError, match="backend"):
        WoEBinner(backend="polars").fit(X, y)
    assert isinstance(W, pd.DataFrame)


def test_rare_strong_flag_keeps_its_own_bin():
    """3 % of rows with a bad rate of 40 % against 8 %: below the 5 % minimum share, yet kept — and a
    scorecard on it does not lose to a plain logistic regression (it would with a strict minimum share)."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from cmlib.scorecard import Scorecard

    rng = np.random.default_rng(7)
    n = 20_000
    flag = (rng.random(n) < 0.03).astype(int)
    x = rng.integers(0, 5, n).astype(float)  # a stepped feature: binning it loses nothing, isolating the flag
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2.5 + 2.0 * flag + 0.6 * x)))).astype(int)
    X = pd.DataFrame({"flag": flag, "x": x})
    strict = WoEBinner(min_bin_share=0.05, rare_alpha=None).fit(X, y).tables_["flag"]
    kept = WoEBinner(min_bin_share=0.05).fit(X, y).tables_["flag"]
    assert strict["lower"].notna().sum() == 1 and kept["lower"].notna().sum() == 2
    tr, te = np.arange(n) < 14_000, np.arange(n) >= 14_000

    def auc(model):
        return roc_auc_score(y[te], model.fit(X[tr], y[tr]).predict_proba(X[te])[:, 1])

    auc_lr = auc(LogisticRegression())
    assert auc(Scorecard(WoEBinner(min_bin_share=0.05))) >= auc_lr - 0.005
    assert (
        auc(Scorecard(WoEBinner(min_bin_share=0.05, rare_alpha=None))) < auc_lr - 0.01
    )  # the loss the exception avoids
    # a small bin that is not different keeps to the rule: no extra bins from noise
    noise = pd.DataFrame({"flag": flag, "x": x})
    y0 = (rng.random(n) < 0.1).astype(int)
    assert WoEBinner(min_bin_share=0.05).fit(noise, y0).tables_["flag"]["lower"].notna().sum() == 1


def test_manual_breaks_override_the_optimiser():
    import pandas as pd

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.uniform(0, 100, 5000)})
    y = (rng.random(5000) < 0.05 + 0.001 * X["x"]).astype(int)
    tab = WoEBinner(user_splits={"x": [25, 50, 75]}).fit(X, y).tables_["x"]
    assert tab["upper"].dropna().tolist() == [25.0, 50.0, 75.0, np.inf]


def test_feature_gini_equals_scikit_learn_on_the_woe():
    from sklearn.metrics import roc_auc_score

    from cmlib.data.public import load_public

    g = load_public("german").frame
    y = g.pop("bad")
    b = WoEBinner().fit(g, y)
    W = b.transform(g)
    for f in ["duration_in_month", "purpose", "credit_amount"]:
        assert b.gini_[f] == pytest.approx(2 * roc_auc_score(1 - y, W[f]) - 1, abs=1e-12)
    # categoricals respect max_bins: levels are merged in event-rate order
    purpose = b.tables_["purpose"]
    assert g["purpose"].nunique() == 10 and (purpose["bin"] != "missing").sum() <= b.max_bins
    rates = purpose.loc[purpose["bin"] != "missing", "event_rate"].to_numpy()
    assert (np.diff(rates) > 0).all()


def test_binner_fits_from_a_parquet_file_like_from_pandas(tmp_path):
    """The engine path: counts computed by DuckDB over a Parquet file, rows never loaded into pandas."""
    import pandas as pd

    from cmlib.data.public import load_public

    g = load_public("credit_data").frame
    g.to_parquet(tmp_path / "credit.parquet")
    y = g.pop("bad")
    a = WoEBinner().fit(g, y)
    b = WoEBinner().fit(str(tmp_path / "credit.parquet"), "bad")
    assert b.features_ == a.features_
    for f in a.features_:
        pd.testing.assert_frame_equal(
            a.tables_[f].drop(columns=["levels"], errors="ignore"),
            b.tables_[f].drop(columns=["levels"], errors="ignore"),
            check_dtype=False,
        )
