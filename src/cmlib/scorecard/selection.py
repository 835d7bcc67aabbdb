"""Feature selection for a WoE scorecard: IV threshold, correlation filter, VIF, optional stepwise.

Applied in this order, each step on the survivors of the previous one, and every dropped feature keeps the
reason it was dropped (a model-risk reviewer asks why a variable is not in the model):

1. a feature binned into a single bin (constant WoE) carries no information;
2. ``iv < min_iv`` (0.02 is the usual "not predictive" line);
3. of a pair of WoE columns with |Pearson r| > ``max_corr``, the lower-IV one goes;
4. while any variance inflation factor exceeds ``max_vif``, the lowest-IV feature among those goes;
5. ``stepwise=True``: backward elimination of the least significant feature while its Wald p-value on the
   logistic fit exceeds ``alpha`` (or its coefficient has the wrong sign: on WoE every useful feature's
   coefficient is negative, because WoE already points to lower risk).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.base import Result
from cmlib.errors import DataError, ParameterError


@dataclass(repr=False)
class SelectionResult(Result):
    """``summary``: one row per candidate (iv, selected, reason); ``selected``: the kept features in IV order."""

    summary: pd.DataFrame
    selected: list[str]

    def to_dict(self) -> dict:
        return {
            "n_candidates": int(len(self.summary)),
            "n_selected": len(self.selected),
            "selected": self.selected,
        }


def select_features(
    W: pd.DataFrame,
    y,
    iv: pd.Series,
    min_iv: float = 0.02,
    max_corr: float | None = 0.7,
    max_vif: float | None = 10.0,
    stepwise: bool = False,
    alpha: float = 0.05,
) -> SelectionResult:
    """Select WoE columns of ``W`` (rows × features) for a scorecard; ``iv`` is each feature's information
    value. Raises DataError when nothing survives (the target cannot be modelled from these features)."""
    if min_iv < 0:
        raise ParameterError("min_iv", "a number ≥ 0", min_iv)
    if max_corr is not None and not 0 < max_corr <= 1:
        raise ParameterError("max_corr", "a number in (0, 1] or None", max_corr)
    if max_vif is not None and max_vif < 1:
        raise ParameterError("max_vif", "a number ≥ 1 or None", max_vif)
    iv = iv.reindex(W.columns).fillna(0.0).sort_values(ascending=False, kind="stable")
    reason = dict.fromkeys(iv.index, "")
    for f in iv.index:
        w = W[f].to_numpy()
        if w.min() == w.max():  # one WoE value: a single bin (cheaper than counting distinct values)
            reason[f] = "single bin"
        elif iv[f] < min_iv:
            reason[f] = f"IV {iv[f]:.3f} < {min_iv:g}"
    keep = [f for f in iv.index if not reason[f]]
    if max_corr is not None and len(keep) > 1:
        corr = pd.DataFrame(
            np.abs(np.corrcoef(W[keep].to_numpy(float), rowvar=False)), index=keep, columns=keep
        )
        kept: list[str] = []
        for f in keep:  # IV order: a feature goes when a stronger kept one is too correlated with it
            partner = next((g for g in kept if corr.loc[f, g] > max_corr), None)
            if partner is None:
                kept.append(f)
            else:
                reason[f] = f"|r| {corr.loc[f, partner]:.2f} with {partner}"
        keep = kept
    if max_vif is not None:
        while len(keep) > 2:
            v = vif(W[keep])
            if v.max() <= max_vif:
                break
            worst = iv[v[v > max_vif].index].idxmin()  # of the collinear features, the weakest goes
            reason[worst] = f"VIF {v[worst]:.1f} > {max_vif:g}"
            keep.remove(worst)
    if stepwise:
        import statsmodels.api as sm

        while len(keep) > 1:
            fit = sm.Logit(np.asarray(y, float), sm.add_constant(W[keep], has_constant="add")).fit(disp=0)
            wrong = [f for f in keep if fit.params[f] > 0]
            p = fit.pvalues[keep]
            worst = wrong[0] if wrong else p.idxmax()
            if not wrong and p[worst] <= alpha:
                break
            reason[worst] = (
                "coefficient has the wrong sign" if wrong else f"p = {p[worst]:.3f} > {alpha:g} (stepwise)"
            )
            keep.remove(worst)
    if not keep:
        raise DataError.single(
            "training data", ", ".join(iv.index), f"at least one feature with IV ≥ {min_iv:g}", len(W)
        )
    summary = pd.DataFrame(
        {
            "feature": iv.index,
            "iv": iv.to_numpy(),
            "selected": [f in keep for f in iv.index],
            "reason_dropped": [reason[f] for f in iv.index],
        }
    )
    return SelectionResult(summary, keep)


def vif(W: pd.DataFrame) -> pd.Series:
    """Variance inflation factor of each column (1 / (1 − R²) of the column on the others, with intercept),
    the definition statsmodels' ``variance_inflation_factor`` uses; computed from the inverse correlation
    matrix (its diagonal is exactly the VIFs)."""
    c = np.corrcoef(W.to_numpy(float), rowvar=False)
    return pd.Series(np.diag(np.linalg.pinv(np.atleast_2d(c))), index=W.columns, name="vif")
