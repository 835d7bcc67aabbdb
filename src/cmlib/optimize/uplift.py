"""cmlib.optimize — uplift (one section of the package; the package re-exports every name)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.base import BaseEstimator, Result, check_is_fitted
from cmlib.errors import DataError
from cmlib.experiments import BalanceResult, standardised_mean_difference


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


def median_imputer():
    """Median imputation for the uplift models' pipelines: scikit-learn's ``SimpleImputer(strategy="median")``
    fills the same values, but finds the medians through masked arrays, ~1 s per fit on the 700k contacts of a
    1M-customer bank, and these pipelines fit it ~16 times per report; ``np.nanmedian`` takes 0.1 s."""
    from sklearn.base import BaseEstimator as SkEstimator
    from sklearn.base import TransformerMixin

    class MedianImputer(TransformerMixin, SkEstimator):
        """Fill each column's missing values with its median over the rows fitted on (a column with no value
        at all is filled with 0 and kept)."""

        def fit(self, X, y=None):
            X = np.asarray(X, float)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: filled with 0 below
                med = np.nanmedian(X, axis=0)
            self.statistics_ = np.where(np.isnan(med), 0.0, med)
            self.n_features_in_ = X.shape[1]
            return self

        def transform(self, X):
            check_is_fitted(self, "statistics_")
            X = np.array(X, float)
            rows, cols = np.nonzero(np.isnan(X))
            X[rows, cols] = self.statistics_[cols]
            return X

    return MedianImputer()


def response_model():
    """The default response classifier of the uplift models (also what a business-as-usual response model
    would be): median imputation, standardisation, logistic regression. Uplift of a response rate is
    mostly a shift in log-odds, which this captures with little variance; pass a boosting model for
    non-linear effects."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(median_imputer(), StandardScaler(), LogisticRegression(max_iter=2000))


#: rows scored at a time by :meth:`PooledUplift.predict_proba_arm`: a multiple of 64, so that BLAS's blocks
#: of rows fall as they do when all rows are scored at once and each probability is the same to the bit
#: (blocks of 333 rows changed one row in 5,000 in its last bit)
PREDICT_ROWS = 262_144


class PooledUplift(BaseEstimator):
    """One logistic model of response for control and every offer at once, on [x, arm, arm · x] (an S-learner
    with treatment interactions, Lo 2002, pooled over arms): the baseline is learnt from every arm's contacts,
    the main effects and arm indicators are scaled by ``main_scale`` so the penalty barely touches them, and
    the arm interactions carry an L1 penalty of strength 1/C, so an offer's effect varies only with the
    features that move it. C is chosen from ``Cs`` by log loss on a ``validation_share`` of the rows, then the
    model is refitted on all of them. ``tol``: the solver's stopping tolerance.

    ``fit(X, arm, y)``: ``arm`` names each row's arm (``control`` among them). ``predict_proba_arm(X, a)`` is
    P(respond | x, arm a); ``predict(X)`` the uplift of every offer over control ({arm: array});
    ``for_arm(a)`` an object whose ``predict(X)`` is that offer's uplift (the per-offer model interface)."""

    def __init__(
        self,
        control: str = "control",
        Cs=(0.01, 0.03, 0.1, 0.3, 1.0),
        main_scale: float = 10.0,
        validation_share: float = 0.3,
        random_state: int = 0,
        tol: float = 1e-4,
    ):
        self.tol = tol
        self.control = control
        self.Cs = Cs
        self.main_scale = main_scale
        self.validation_share = validation_share
        self.random_state = random_state

    def _design(self, X, arm) -> np.ndarray:
        Z = self.scaler_.transform(self.imputer_.transform(np.asarray(X, float)))
        arm = np.full(len(Z), arm) if isinstance(arm, str) else np.asarray(arm).astype(str)
        cols = [self.main_scale * Z]
        for a in self.arms_:
            t = (arm == a).astype(float)[:, None]
            cols += [self.main_scale * t, t * Z]
        return np.hstack(cols)

    def _model(self, C):
        from sklearn.linear_model import LogisticRegression

        # liblinear penalises the intercept too: a large intercept_scaling frees it
        return LogisticRegression(
            C=C,
            l1_ratio=1.0,
            solver="liblinear",
            intercept_scaling=100.0,
            max_iter=5000,
            tol=self.tol,
            random_state=self.random_state,  # liblinear visits coordinates in a random order
        )

    def fit(self, X, arm, y) -> PooledUplift:
        import warnings

        from sklearn.metrics import log_loss
        from sklearn.preprocessing import StandardScaler

        arm = np.asarray(arm).astype(str)
        _, yy = _check_uplift(X, arm != self.control, y)
        Xf = np.asarray(X, float)
        self.imputer_ = median_imputer().fit(Xf)
        self.scaler_ = StandardScaler().fit(self.imputer_.transform(Xf))
        self.arms_ = sorted(set(arm) - {self.control})
        D = self._design(X, arm)
        val = np.random.default_rng(self.random_state).random(len(yy)) < self.validation_share
        losses = {}
        with warnings.catch_warnings():  # liblinear's convergence chatter on the tiny-C end of the grid
            warnings.simplefilter("ignore")
            for C in self.Cs:
                m = self._model(C).fit(D[~val], yy[~val])
                losses[C] = log_loss(yy[val], m.predict_proba(D[val])[:, 1], labels=[0, 1])
            self.C_ = min(losses, key=losses.get)
            self.validation_log_loss_ = losses
            self.model_ = self._model(self.C_).fit(D, yy)
        return self

    def predict_proba_arm(self, X, arm: str) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = np.asarray(X, float)
        # a block of rows at a time: the design is (1 + arms) times as wide as X, and scoring a 10M-customer
        # book's 1.3M candidates at once held 1 GB of it
        step = PREDICT_ROWS
        return np.concatenate(
            [
                self.model_.predict_proba(self._design(X[i : i + step], arm))[:, 1]
                for i in range(0, len(X), step)
            ]
            or [np.empty(0)]
        )

    def predict(self, X) -> dict:
        base = self.predict_proba_arm(X, self.control)
        return {a: self.predict_proba_arm(X, a) - base for a in self.arms_}

    def for_arm(self, arm: str) -> _ArmView:
        return _ArmView(self, arm)


@dataclass
class _ArmView:
    """One offer's uplift from a :class:`PooledUplift` (the per-offer models' ``predict`` interface)."""

    model: PooledUplift
    arm: str

    def predict(self, X) -> np.ndarray:
        return self.model.predict_proba_arm(X, self.arm) - self.model.predict_proba_arm(X, self.model.control)


def _default_regressor():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(median_imputer(), StandardScaler(), Ridge(alpha=1.0))


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


@dataclass(repr=False)
class ArmUplift(Result):
    """Uplift models of several offers against control: ``summary`` (arm, model, AUUC on the held-out rows,
    chosen), the fitted ``models`` by (arm, model name) and the ``chosen`` model name per arm (largest AUUC)."""

    summary: pd.DataFrame
    models: dict
    chosen: dict
    pooled: PooledUplift | None = None

    def control_probability(self, X: pd.DataFrame) -> np.ndarray:
        """P(respond | x) under control from the pooled model (learnt from every arm's contacts)."""
        if self.pooled is None:
            raise ValueError("no pooled model was fitted")
        return self.pooled.predict_proba_arm(X, self.pooled.control)

    def predict(self, X: pd.DataFrame) -> dict:
        """Uplift in response probability of each arm's chosen model, per row of ``X``: {arm: array}."""
        return {a: self.models[(a, m)].predict(X) for a, m in self.chosen.items()}

    def plot(self, X: pd.DataFrame, arm, y, rows, control: str = "control", baselines: dict | None = None):
        """Qini curves on ``rows`` (the held-out part), one panel per arm: every fitted model, and each
        ``baselines`` score (name → one score per row of ``X``, e.g. response propensity) for comparison."""
        import matplotlib.pyplot as plt

        arms = list(self.chosen)
        fig, axes = plt.subplots(1, max(len(arms), 1), figsize=(7 * max(len(arms), 1), 4.5), squeeze=False)
        arm, y, rows = np.asarray(arm).astype(str), np.asarray(y), np.asarray(rows, bool)
        for ax, a in zip(axes[0], arms, strict=False):
            r = rows & ((arm == control) | (arm == a))
            t = arm[r] == a
            scores = {m: est.predict(X[r]) for (aa, m), est in self.models.items() if aa == a}
            scores |= {k: np.asarray(v)[r] for k, v in (baselines or {}).items()}
            for i, (k, sc) in enumerate(scores.items()):  # the random line once, from the last curve
                qini_curve(y[r], t, sc).plot(ax, label=k, random=i == len(scores) - 1)
            ax.set_title(f"Qini on the held-out part: {a} vs {control}")
        return fig

    def to_dict(self) -> dict:
        best = self.summary[self.summary["chosen"]].set_index("arm")["auuc"]
        return {f"{a}.auuc": float(v) for a, v in best.items()}


def fit_arm_uplift(
    X: pd.DataFrame, arm, y, control: str, arms, train, models: dict | None = None, pooled: bool = True
) -> ArmUplift:
    """For each offer in ``arms``: fit every uplift model in ``models`` (name → unfitted estimator; default
    two-model, X-learner and the interaction S-learner) on the ``train`` rows of that offer and control, score
    it by AUUC on the other rows of that offer and control, and keep the best per offer. A
    :class:`PooledUplift` fitted once on the ``train`` rows of every arm (``pooled=True``) competes as
    "pooled interaction" and gives :meth:`ArmUplift.control_probability`."""
    from sklearn.base import clone

    from cmlib.optimize.targeting import InteractionUplift

    models = models or {
        "two-model": TwoModelUplift(),
        "X-learner": XLearnerUplift(),
        "interaction": InteractionUplift(),
    }
    arm = np.asarray(arm).astype(str)
    y, train = np.asarray(y), np.asarray(train, bool)
    rows, fitted, chosen = [], {}, {}
    pool = PooledUplift(control=control).fit(X[train], arm[train], y[train]) if pooled and len(arms) else None
    for a in arms:
        mine = (arm == control) | (arm == a)
        t = arm == a
        fit_rows, test_rows = mine & train, mine & ~train
        for name, est in models.items():
            m = clone(est) if hasattr(est, "get_params") else est
            fitted[(a, name)] = m.fit(X[fit_rows], t[fit_rows], y[fit_rows])
            score = auuc(y[test_rows], t[test_rows], m.predict(X[test_rows]))
            rows.append({"arm": a, "model": name, "auuc": score})
        if pool is not None:
            fitted[(a, "pooled interaction")] = pool.for_arm(a)
            score = auuc(y[test_rows], t[test_rows], pool.for_arm(a).predict(X[test_rows]))
            rows.append({"arm": a, "model": "pooled interaction", "auuc": score})
    s = pd.DataFrame(rows, columns=["arm", "model", "auuc"])
    best = s.loc[s.groupby("arm")["auuc"].idxmax()] if len(s) else s
    chosen = dict(zip(best["arm"], best["model"], strict=True))
    s["chosen"] = [chosen.get(a) == m for a, m in zip(s["arm"], s["model"], strict=True)]
    return ArmUplift(s, fitted, chosen, pool)
