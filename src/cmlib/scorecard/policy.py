"""Admission (hard policy) rules applied before any score, with a decline waterfall.

Rules are data — a list of ``{"rule": name, "decline_if": expression}`` dicts (``column`` optional, for the
report) in the order the bank applies them, the same shape as ``truth["admission_rules"]`` of the simulated
bank and easy to keep in YAML. An expression is a pandas ``DataFrame.eval`` boolean expression over the
applicant's columns (``"age < 21"``, ``"dti > 0.55"``, ``"bureau_score == 9999"``, ``"do_not_lend"``).
A comparison with a missing value is False, so a missing income does not by itself fail ``income < 12000``;
write ``"income.isna()"`` as its own rule when policy says otherwise. An applicant is declined by the first
rule that fails, which is what the waterfall counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlib.base import BaseEstimator
from cmlib.errors import DataError, ParameterError


class AdmissionRules(BaseEstimator):
    """Hard policy rules. ``decide(df)`` gives each row's first failing rule; ``waterfall(df)`` the counts."""

    def __init__(self, rules: list[dict]):
        self.rules = rules

    def _validated(self) -> list[dict]:
        if not isinstance(self.rules, list | tuple) or not self.rules:
            raise ParameterError("rules", "a non-empty list of {'rule', 'decline_if'} dicts", self.rules)
        names = []
        for r in self.rules:
            if not isinstance(r, dict) or not {"rule", "decline_if"} <= set(r):
                raise ParameterError("rules", "dicts with keys 'rule' and 'decline_if'", r)
            names.append(r["rule"])
        if len(set(names)) != len(names):
            raise ParameterError("rules", "unique rule names", names)
        return list(self.rules)

    def _fails(self, df: pd.DataFrame, table: str) -> pd.DataFrame:
        out = {}
        for r in self._validated():
            try:
                hit = df.eval(r["decline_if"])
            except (NameError, KeyError, pd.errors.UndefinedVariableError) as exc:
                raise DataError.single(
                    table,
                    r.get("column", str(exc)),
                    f"rule {r['rule']!r} needs its column ({r['decline_if']})",
                    len(df),
                ) from None
            hit = pd.Series(hit, index=df.index) if np.ndim(hit) == 0 else hit
            if hit.dtype != bool:
                hit = hit.astype("boolean").fillna(False).astype(bool)
            out[r["rule"]] = hit.to_numpy()
        return pd.DataFrame(out, index=df.index)

    def decide(self, df: pd.DataFrame, table: str = "applications") -> pd.Series:
        """Name of the first failing rule per row, or ``<NA>`` when the applicant passes every rule."""
        fails = self._fails(df, table)
        first = fails.to_numpy().argmax(axis=1)
        any_fail = fails.to_numpy().any(axis=1)
        names = np.array(fails.columns, dtype=object)[first]
        return pd.Series(
            pd.array(np.where(any_fail, names, None), dtype="string"), index=df.index, name="policy_decline"
        )

    def waterfall(self, df: pd.DataFrame, table: str = "applications") -> pd.DataFrame:
        """Per rule in order: applicants reaching it, declined by it (count, share of all), and remaining;
        plus how many each rule would decline on its own (``fails_alone``), which shows overlaps."""
        fails = self._fails(df, table)
        first = self.decide(df, table)
        n = len(df)
        rows, remaining = [], n
        for r in fails.columns:
            k = int((first == r).sum())
            rows.append(
                {
                    "rule": r,
                    "reaching": remaining,
                    "declined": k,
                    "declined_share": k / n if n else np.nan,
                    "fails_alone": int(fails[r].sum()),
                    "remaining": remaining - k,
                }
            )
            remaining -= k
        return pd.DataFrame(rows)
