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

from cmlib._params import ParamsMixin
from cmlib.errors import ArtefactError, DataError, ParameterError
from cmlib.scorecard.binning import WoEBinner

SCHEMA_VERSION = 1


class Scorecard(ParamsMixin):
    """WoE binning + logistic regression + points (scikit-learn conventions: fit/transform, get_params)."""

    def __init__(self, pdo: float = 20.0, base_score: float = 600.0, base_odds: float = 50.0, rounding: bool = True,
                 max_bins: int = 6, min_bin_share: float = 0.05, min_events: int = 5, monotonic: str = "auto",
                 special_codes: dict | None = None):
        self.pdo = pdo
        self.base_score = base_score
        self.base_odds = base_odds
        self.rounding = rounding
        self.max_bins = max_bins
        self.min_bin_share = min_bin_share
        self.min_events = min_events
        self.monotonic = monotonic
        self.special_codes = special_codes


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
        self.binner_ = WoEBinner(max_bins=self.max_bins, min_bin_share=self.min_bin_share, min_events=self.min_events,
                                 monotonic=self.monotonic, special_codes=self.special_codes).fit(X, y)
        W = self.binner_.transform(X)
        fit = sm.Logit(np.asarray(y, float), sm.add_constant(W, has_constant="add")).fit(disp=0)
        ci = fit.conf_int()
        self.coefficients_ = pd.DataFrame({"coef": fit.params, "se": fit.bse, "ci_low": ci[0], "ci_high": ci[1],
                                           "p_value": fit.pvalues})
        b0 = fit.params["const"]
        k = len(self.binner_.features_)
        self.points_ = {}
        for f in self.binner_.features_:
            tab = self.binner_.tables_[f].copy()
            # logit(bad) = b0 + Σ β_f·woe_f, WoE = ln(good share / bad share): β_f is negative for a useful feature
            pts = self.offset / k - self.factor * (fit.params[f] * tab["woe"] + b0 / k)
            tab["points"] = np.round(pts) if self.rounding else pts
            self.points_[f] = tab
        return self

    def _check_fitted(self):
        if not hasattr(self, "points_"):
            raise ParameterError("Scorecard", "fit() first", "an unfitted scorecard")

    def points(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points of each applicant's bin per feature (rows × features)."""
        self._check_fitted()
        W = self.binner_.transform(X)
        out = pd.DataFrame(index=X.index)
        for f, tab in self.points_.items():
            lookup = dict(zip(np.round(tab["woe"].to_numpy(), 12), tab["points"].to_numpy(), strict=False))
            out[f] = np.round(W[f].to_numpy(), 12)
            out[f] = out[f].map(lookup)
        return out

    def score(self, X: pd.DataFrame) -> pd.Series:
        """Total points (higher = safer)."""
        return self.points(X).sum(axis=1).rename("score")

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(bad), P(good)… in scikit-learn's column order: [:, 1] is the probability of the event (bad)."""
        self._check_fitted()
        W = self.binner_.transform(X)
        c = self.coefficients_["coef"]
        logit = c["const"] + W[self.binner_.features_].to_numpy() @ c[self.binner_.features_].to_numpy()
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

    def to_dict(self) -> dict:
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
            feats.append({"feature": f, "special_codes": list((self.special_codes or {}).get(f, [])), "bins": bins})
        return {"schema_version": SCHEMA_VERSION, "kind": "scorecard", "params": self.get_params(),
                "coefficients": self.coefficients_["coef"].to_dict(), "features": feats}

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, default=float)
        if path is not None:
            Path(path).write_text(text)
        return text

    def to_sql(self) -> str:
        """A SQL expression (sum of CASE WHEN per feature) that scores a table with the same points."""
        parts = []
        for feat in self.to_dict()["features"]:
            col = '"' + feat["feature"].replace('"', '""') + '"'
            missing = next(b["points"] for b in feat["bins"] if b["bin"] == "missing")
            whens = [f"WHEN {col} IS NULL THEN {missing!r}"]
            for code in feat["special_codes"]:
                lab = f"special:{code:g}" if isinstance(code, int | float) else f"special:{code}"
                pts = next((b["points"] for b in feat["bins"] if b["bin"] == lab), missing)
                whens.append(f"WHEN {col} = {code!r} THEN {pts!r}")
            numeric = [b for b in feat["bins"] if "upper" in b]
            if numeric:
                for b in numeric[:-1]:
                    whens.append(f"WHEN {col} < {b['upper']!r} THEN {b['points']!r}")
                whens.append(f"ELSE {numeric[-1]['points']!r}")
            else:
                for b in feat["bins"]:
                    if b.get("levels"):
                        lv = ", ".join("'" + v.replace("'", "''") + "'" for v in b["levels"])
                        whens.append(f"WHEN CAST({col} AS VARCHAR) IN ({lv}) THEN {b['points']!r}")
                whens.append(f"ELSE {missing!r}")
            parts.append("(CASE " + " ".join(whens) + " END)")
        return " + ".join(parts)


def load(source: str | Path | dict) -> LoadedScorecard:
    """A scorecard from its JSON export (path, JSON text or dict); ArtefactError if malformed or of another
    schema version. The loaded card scores with the exported points."""
    if isinstance(source, dict):
        doc = source
    else:
        text = str(source)
        if not text.lstrip().startswith("{"):
            if not Path(text).exists():
                raise ArtefactError(f"scorecard JSON not found: {text}")
            text = Path(text).read_text()
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArtefactError(f"scorecard JSON cannot be read: {exc}") from None
    if doc.get("kind") != "scorecard" or doc.get("schema_version") != SCHEMA_VERSION:
        raise ArtefactError(f"expected a scorecard of schema {SCHEMA_VERSION}, got kind {doc.get('kind')!r} "
                            f"schema {doc.get('schema_version')!r}")
    return LoadedScorecard(doc)


class LoadedScorecard:
    """A scorecard rebuilt from JSON: ``score(X)`` only (no training state)."""

    def __init__(self, doc: dict):
        self.doc = doc

    def score(self, X: pd.DataFrame) -> pd.Series:
        total = np.zeros(len(X))
        for feat in self.doc["features"]:
            f = feat["feature"]
            if f not in X.columns:
                raise DataError.single("scoring data", f, "required column is missing", len(X))
            bins = feat["bins"]
            missing = next(b["points"] for b in bins if b["bin"] == "missing")
            numeric = [b for b in bins if "upper" in b]
            col = X[f]
            if numeric:
                x = pd.to_numeric(col, errors="coerce").to_numpy(float)
                uppers = np.array([b["upper"] for b in numeric])
                idx = np.clip(np.searchsorted(uppers, x, side="right"), 0, len(numeric) - 1)
                pts = np.array([b["points"] for b in numeric])[idx]
                for code in feat["special_codes"]:
                    lab = f"special:{code:g}" if isinstance(code, int | float) else f"special:{code}"
                    sp = next((b["points"] for b in bins if b["bin"] == lab), missing)
                    pts = np.where(x == code, sp, pts)
                pts = np.where(np.isnan(x), missing, pts)
            else:
                m = {lv: b["points"] for b in bins for lv in b.get("levels", [])}
                pts = col.astype("string").map(m).astype(float).fillna(missing).to_numpy()
            total += pts
        return pd.Series(total, index=X.index, name="score")
