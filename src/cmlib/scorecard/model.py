"""Logistic scorecard on WoE-binned features: points, reason codes, and exports (JSON, SQL).

Points scaling: score = offset − factor · logit(P(bad)), factor = PDO / ln 2, offset = base_score −
factor · ln(base_odds), so ``base_score`` points mean good:bad odds of ``base_odds`` and every ``pdo``
points double the odds. Each bin carries its points (the intercept is spread evenly over features), and a
score is the sum of the applicant's bin points — exactly what the JSON and SQL exports reproduce.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cmlib.artefacts import artefact_document, read_artefact, write_atomic
from cmlib.base import BaseEstimator, check_is_fitted
from cmlib.errors import ArtefactError, ParameterError
from cmlib.scorecard.binning import WoEBinner
from cmlib.scorecard.selection import select_features
from cmlib.validation import require_columns
from cmlib.vocab import special_label

SCHEMA_VERSION = 1


class Scorecard(BaseEstimator):
    """WoE binning + feature selection + logistic regression + points (scikit-learn conventions: ``fit``
    returns self, fitted state ends with ``_``, nested ``get_params``/``set_params`` such as
    ``binner__max_bins``).

    Points: ``pdo`` points double the good:bad odds, ``base_score`` at ``base_odds``, rounded per bin with
    ``rounding``. Binning: ``binner``, a :class:`WoEBinner` (default ``WoEBinner()``; cloned at fit, so the
    one passed in stays unfitted). Selection (see :func:`select_features`): ``min_iv``, ``max_corr``,
    ``max_vif``, ``stepwise``. Fitted: ``binner_``, ``selection_``, ``features_``, ``coefficients_`` (coef,
    SE, CI, p-value), ``points_`` (each feature's bin table with points). ``to_artefact``/``to_json``
    serialise the fitted card; ``to_sql`` scores a table in SQL with the same points."""

    def __init__(
        self,
        binner: WoEBinner | None = None,
        pdo: float = 20.0,
        base_score: float = 600.0,
        base_odds: float = 50.0,
        rounding: bool = True,
        min_iv: float = 0.02,
        max_corr: float | None = 0.7,
        max_vif: float | None = 10.0,
        stepwise: bool = False,
    ):
        self.binner = binner
        self.pdo = pdo
        self.base_score = base_score
        self.base_odds = base_odds
        self.rounding = rounding
        self.min_iv = min_iv
        self.max_corr = max_corr
        self.max_vif = max_vif
        self.stepwise = stepwise

    @property
    def factor(self) -> float:
        return self.pdo / np.log(2)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * np.log(self.base_odds)

    def fit(self, X: pd.DataFrame, y) -> Scorecard:
        import statsmodels.api as sm

        if self.pdo <= 0 or self.base_odds <= 0:
            raise ParameterError("pdo/base_odds", "positive numbers", (self.pdo, self.base_odds))
        binner = self.binner if self.binner is not None else WoEBinner()
        self.binner_ = WoEBinner(**binner.get_params(deep=False)).fit(X, y)
        W = self.binner_.transform(X)
        self.selection_ = select_features(
            W, y, self.binner_.iv_, self.min_iv, self.max_corr, self.max_vif, self.stepwise
        )
        self.selection_.summary.insert(2, "gini", self.selection_.summary["feature"].map(self.binner_.gini_))
        self.features_ = self.selection_.selected
        W = W[self.features_]
        # no rank check (an SVD of the whole design): selection has already dropped collinear WoE columns
        fit = sm.Logit(np.asarray(y, float), sm.add_constant(W, has_constant="add"), check_rank=False).fit(
            disp=0
        )
        ci = fit.conf_int()
        self.coefficients_ = pd.DataFrame(
            {"coef": fit.params, "se": fit.bse, "ci_low": ci[0], "ci_high": ci[1], "p_value": fit.pvalues}
        )
        b0 = fit.params["const"]
        k = len(self.features_)
        self.points_ = {}
        for f in self.features_:
            tab = self.binner_.tables_[f].copy()
            # logit(bad) = b0 + Σ β_f·woe_f, WoE = ln(good share / bad share): β_f is negative for a useful feature
            pts = self.offset / k - self.factor * (fit.params[f] * tab["woe"] + b0 / k)
            tab["points"] = np.round(pts) if self.rounding else pts
            self.points_[f] = tab
        self.calibration_shift_ = 0.0
        return self

    def _check_fitted(self):
        check_is_fitted(self, "points_")

    def woe(self, X: pd.DataFrame) -> pd.DataFrame:
        """WoE of the scorecard's features (other columns of ``X``, such as ids, are ignored)."""
        self._check_fitted()
        require_columns(X, self.features_, "scoring data")
        return self.binner_.transform(X[self.features_], self.features_)

    def points(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points of each applicant's bin per feature (rows × features), from the exported bins: the fitted
        card, its JSON and its SQL score with one definition of a bin."""
        self._check_fitted()
        return points_frame(self.to_artefact()["features"], X)

    def score(self, X: pd.DataFrame) -> pd.Series:
        """Total points (higher = safer)."""
        return self.points(X).sum(axis=1).rename("score")

    def recalibrate(self, shift: float) -> Scorecard:
        """Add ``shift`` to the log-odds of bad of every prediction (an odds-shift recalibration, e.g. from
        :func:`cmlib.scorecard.calibration_check` on a later period): probabilities move, points and their
        order do not. Stored as ``calibration_shift_`` and exported with the card; returns self."""
        self._check_fitted()
        if not np.isfinite(shift):
            raise ParameterError("shift", "a finite log-odds shift", shift)
        self.calibration_shift_ = float(shift)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(bad), P(good)… in scikit-learn's column order: [:, 1] is the probability of the event (bad)."""
        W = self.woe(X)
        c = self.coefficients_["coef"]
        logit = (
            c["const"] + self.calibration_shift_ + W[self.features_].to_numpy() @ c[self.features_].to_numpy()
        )
        p = 1 / (1 + np.exp(-logit))
        return np.column_stack([1 - p, p])

    def reason_codes(self, X: pd.DataFrame, n: int = 3) -> pd.DataFrame:
        """Adverse-action reasons: per applicant, the ``n`` features whose bin cost most points against the
        feature's best bin (ties broken by feature order)."""
        P = self.points(X)
        best = pd.Series({f: t["points"].max() for f, t in self.points_.items()})
        lost = best - P
        order = np.argsort(-lost.to_numpy(), axis=1, kind="stable")[:, :n]
        names = np.array(P.columns)[order]
        return pd.DataFrame(names, index=X.index, columns=[f"reason_{i + 1}" for i in range(names.shape[1])])

    # --- exports ------------------------------------------------------------------------------

    def pd_from_score(self, score) -> np.ndarray:
        """Probability of bad implied by a score under the points scaling (odds doubling every PDO), after
        the card's recalibration (:meth:`recalibrate`)."""
        return pd_from_score(score, self.pdo, self.base_score, self.base_odds, self.calibration_shift_)

    def to_artefact(self, metadata: dict | None = None) -> dict:
        """The fitted card as a versioned artefact document (plain data); ``metadata`` (cutoff, economics, validation…) travels with it."""
        self._check_fitted()
        feats = []
        for f, tab in self.points_.items():
            bins = []
            for r in tab.itertuples():
                b = {"bin": r.bin, "points": float(r.points), "woe": float(r.woe)}
                if "lower" in tab and pd.notna(getattr(r, "lower", np.nan)):
                    b["lower"], b["upper"] = float(r.lower), float(r.upper)
                if "levels" in tab and isinstance(getattr(r, "levels", None), list):
                    b["levels"] = [str(v) for v in r.levels]
                bins.append(b)
            feats.append(
                {
                    "feature": f,
                    "special_codes": list((self.binner_.special_codes or {}).get(f, [])),
                    "bins": bins,
                }
            )
        params = {k: v for k, v in self.get_params(deep=False).items() if k != "binner"}
        params |= {f"binner__{k}": v for k, v in self.binner_.get_params().items()}
        return artefact_document(
            "scorecard",
            SCHEMA_VERSION,
            params=params,
            coefficients=self.coefficients_["coef"].to_dict(),
            calibration_shift=self.calibration_shift_,
            features=feats,
            metadata=metadata or {},
        )

    def to_json(self, path: str | Path | None = None, metadata: dict | None = None) -> str:
        text = json.dumps(self.to_artefact(metadata), indent=2, default=float)
        if path is not None:
            write_atomic(path, text)
        return text

    def to_sql(self) -> str:
        """A SQL expression (sum of CASE WHEN per feature) that scores a table with the same points."""
        parts = []
        for feat in self.to_artefact()["features"]:
            col = '"' + feat["feature"].replace('"', '""') + '"'
            missing = next(b["points"] for b in feat["bins"] if b["bin"] == "missing")
            whens = [f"WHEN {col} IS NULL THEN {missing!r}"]
            for code in feat["special_codes"]:
                lab = special_label(code)
                pts = next((b["points"] for b in feat["bins"] if b["bin"] == lab), missing)
                whens.append(f"WHEN {col} = {code!r} THEN {pts!r}")
            numeric = [b for b in feat["bins"] if "upper" in b]
            if numeric:
                for b in numeric[:-1]:  # cast: a boolean flag compares as 0/1, as in score()
                    whens.append(f"WHEN CAST({col} AS DOUBLE) < {b['upper']!r} THEN {b['points']!r}")
                whens.append(f"ELSE {numeric[-1]['points']!r}")
            else:
                for b in feat["bins"]:
                    if b.get("levels"):
                        lv = ", ".join("'" + v.replace("'", "''") + "'" for v in b["levels"])
                        whens.append(f"WHEN CAST({col} AS VARCHAR) IN ({lv}) THEN {b['points']!r}")
                whens.append(f"ELSE {missing!r}")
            parts.append("(CASE " + " ".join(whens) + " END)")
        return " + ".join(parts)


def load_scorecard(source: str | Path | dict) -> LoadedScorecard:
    """A scorecard from its JSON export (path, JSON text or dict); ArtefactError if malformed or of another
    schema version. The loaded card scores with the exported points."""
    return LoadedScorecard(
        read_artefact(
            source,
            "scorecard",
            SCHEMA_VERSION,
            required=("params", "features"),
            # the ranges 03 declares for these parameters; a cutoff is a score (or none chosen)
            ranges={
                "params.pdo": (1, 200),
                "params.base_score": (0, 10_000),
                "params.base_odds": (1e-9, 1e6),
                "metadata.cutoff": (-1e6, 1e6, "or null"),
                "metadata.approval_rate": (0, 1, "or null"),
                "metadata.expected_bad_rate": (0, 1, "or null"),
            },
        )
    )


def pd_from_score(score, pdo: float, base_score: float, base_odds: float, shift: float = 0.0) -> np.ndarray:
    """P(bad) at a score: good:bad odds = base_odds · 2^((score − base_score) / pdo) · e^(−shift), where
    ``shift`` is a recalibration's log-odds of bad (0: the points' own scaling)."""
    odds = base_odds * np.power(2.0, (np.asarray(score, float) - base_score) / pdo) * np.exp(-shift)
    return 1 / (1 + odds)


class LoadedScorecard:
    """A scorecard rebuilt from JSON: ``score(X)``, ``pd_from_score`` and the ``metadata`` written with it
    (no training state)."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.metadata = doc.get("metadata", {})
        if not isinstance(doc["features"], list) or not doc["features"]:
            # a card without features scores everyone alike: every applicant the same probability of bad
            raise ArtefactError("scorecard artefact: features must list at least one feature, got none")
        self.features = [f["feature"] for f in doc["features"]]
        shift = doc.get("calibration_shift", 0.0)
        # a shift of 5 log-odds multiplies the odds by 148: beyond that the file is damaged, not recalibrated
        if isinstance(shift, bool) or not isinstance(shift, int | float) or not abs(shift) <= 5:
            raise ArtefactError(
                f"scorecard artefact: calibration_shift must be a number in [-5, 5], got {shift!r}"
            )

    def pd_from_score(self, score) -> np.ndarray:
        p = self.doc["params"]
        # cards exported before recalibration existed carry no shift: their points' own scaling
        return pd_from_score(
            score, p["pdo"], p["base_score"], p["base_odds"], self.doc.get("calibration_shift", 0.0)
        )

    def points(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points per applicant and feature, from the exported bins. A card fitted on other data (its
        features absent here) is an ArtefactError naming its source, not one missing-column line per feature."""
        lacking = [f for f in self.features if f not in X.columns]
        if lacking:
            src = self.metadata.get("data_source", "another source")
            raise ArtefactError(
                f"scorecard artefact: fitted on {src}; this data lacks {len(lacking)} of its {len(self.features)} "
                f"features ({', '.join(lacking[:3])}{', …' if len(lacking) > 3 else ''}): run the scoring "
                "notebook on this data, or remove the artefact"
            )
        return points_frame(self.doc["features"], X)

    def score(self, X: pd.DataFrame) -> pd.Series:
        """Total points (higher = safer)."""
        return self.points(X).sum(axis=1).rename("score")


def points_frame(features: list[dict], X: pd.DataFrame) -> pd.DataFrame:
    """Points of each row's bin per feature from an artefact's ``features`` list: numeric bins by their
    upper edges, special codes and missing values by their own bins, categorical levels by lookup (unseen
    levels score as missing)."""
    require_columns(X, [feat["feature"] for feat in features], "scoring data")
    out = {}
    for feat in features:
        bins = feat["bins"]
        missing = next(b["points"] for b in bins if b["bin"] == "missing")
        numeric = [b for b in bins if "upper" in b]
        col = X[feat["feature"]]
        if numeric:
            x = pd.to_numeric(col, errors="coerce").to_numpy(float)
            uppers = np.array([b["upper"] for b in numeric])
            idx = np.clip(np.searchsorted(uppers, x, side="right"), 0, len(numeric) - 1)
            pts = np.array([b["points"] for b in numeric])[idx]
            for code in feat["special_codes"]:
                lab = special_label(code)
                sp = next((b["points"] for b in bins if b["bin"] == lab), missing)
                pts = np.where(x == code, sp, pts)
            pts = np.where(np.isnan(x), missing, pts)
        else:
            m = {lv: b["points"] for b in bins for lv in b.get("levels", [])}
            pts = col.astype("string").map(m).astype(float).fillna(missing).to_numpy()
        out[feat["feature"]] = pts
    return pd.DataFrame(out, index=X.index, dtype=float)
