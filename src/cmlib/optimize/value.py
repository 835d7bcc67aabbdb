"""cmlib.optimize — linking spend to credit losses: the scorecard and lifetime-value artefacts (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.base import Result
from cmlib.errors import ArtefactError
from cmlib.finance import DEFAULT_LGD
from cmlib.scorecard import load_scorecard
from cmlib.survival import read_clv_artefact


@dataclass(repr=False)
class AccountValue(Result):
    """Expected value of a booked account per customer, from the scoring notebook's scorecard (probability
    of bad, risk cutoff) and the survival notebook's lifetime values (discounted margin and exposure per
    segment) — or from stated fallbacks, listed in ``notes``, when an artefact is missing.

    NPV(x) = discounted margin(segment) − PD(x) × exposure at default(segment) × LGD. PD is the scorecard's
    12-month probability of bad, a floor for the lifetime one: the NPV is optimistic for long-lived risky
    accounts, which the risk cutoff keeps out of targeting anyway."""

    scorecard: object | None
    clv: pd.DataFrame | None
    lgd: float
    fallback: dict
    notes: list

    @property
    def summary(self) -> pd.DataFrame:
        """Where each input of the value came from: the artefact, or the stated fallback."""
        rows = [
            {
                "input": "probability of bad",
                "source": "scorecard artefact"
                if self.scorecard is not None
                else f"fallback: {self.fallback['bad_rate']:.1%} for everyone",
            },
            {
                "input": "discounted margin, exposure at default",
                "source": "lifetime-value artefact"
                if self.clv is not None
                else "fallback: "
                f"{self.fallback['discounted_margin']:,.0f} and {self.fallback['exposure_at_default']:,.0f} per account",
            },
            {"input": "loss given default", "source": f"{self.lgd:.0%}"},
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        return {"artefacts_missing": len(self.notes), "lgd": float(self.lgd)}

    def _score(self, customers: pd.DataFrame) -> np.ndarray | None:
        return None if self.scorecard is None else self.scorecard.score(customers).to_numpy(float)

    def _pd_bad(self, customers: pd.DataFrame, score: np.ndarray | None) -> np.ndarray:
        if score is None:
            return np.full(len(customers), float(self.fallback["bad_rate"]))
        return np.asarray(self.scorecard.pd_from_score(score), float)

    def _eligible(self, customers: pd.DataFrame, score: np.ndarray | None) -> np.ndarray:
        if score is None or "cutoff" not in self.scorecard.metadata:
            return np.ones(len(customers), bool)
        return score >= float(self.scorecard.metadata["cutoff"])

    def pd_bad(self, customers: pd.DataFrame) -> np.ndarray:
        """12-month probability of bad from the scorecard (the fallback bad rate without one)."""
        return self._pd_bad(customers, self._score(customers))

    def eligible(self, customers: pd.DataFrame) -> np.ndarray:
        """Passes the scorecard's cutoff (everyone when there is no scorecard)."""
        return self._eligible(customers, self._score(customers))

    def assess(self, customers: pd.DataFrame, segment: str = "segment") -> pd.DataFrame:
        """Per customer, scoring once: ``score`` (NaN without a scorecard), ``pd_bad``, ``npv`` (as
        :meth:`npv`) and ``eligible`` (as :meth:`eligible`); index of ``customers``."""
        score = self._score(customers)
        pd_bad = self._pd_bad(customers, score)
        return pd.DataFrame(
            {
                "score": np.full(len(customers), np.nan) if score is None else score,
                "pd_bad": pd_bad,
                "npv": self.margin(customers, segment) - pd_bad * self.loss_if_bad(customers, segment),
                "eligible": self._eligible(customers, score),
            },
            index=customers.index,
        )

    def _segment_values(
        self, customers: pd.DataFrame, column: str, fallback: str, segment: str
    ) -> np.ndarray:
        if self.clv is not None and segment in customers:
            c = self.clv.set_index("segment")
            mean = float(np.average(c[column], weights=c["accounts"]))
            return customers[segment].map(c[column]).fillna(mean).to_numpy(float)
        return np.full(len(customers), float(self.fallback[fallback]))

    def margin(self, customers: pd.DataFrame, segment: str = "segment") -> np.ndarray:
        """Discounted margin of a good account over its expected lifetime (per customer's segment)."""
        return self._segment_values(customers, "discounted_margin", "discounted_margin", segment)

    def loss_if_bad(self, customers: pd.DataFrame, segment: str = "segment") -> np.ndarray:
        """Credit loss when the account goes bad: exposure at default × LGD."""
        return (
            self._segment_values(customers, "exposure_at_default", "exposure_at_default", segment) * self.lgd
        )

    def npv(self, customers: pd.DataFrame, segment: str = "segment") -> np.ndarray:
        """Expected NPV of booking each customer: margin − PD × loss if bad."""
        return self.assess(customers, segment)["npv"].to_numpy()


def account_value(
    scorecard_path=None,
    clv_path=None,
    required: bool = False,
    bad_rate: float = 0.05,
    discounted_margin: float = 300.0,
    exposure_at_default: float = 1500.0,
    lgd: float = DEFAULT_LGD,
) -> AccountValue:
    """Read the scorecard and CLV artefacts (paths, or None when a run has none). ``required=True`` turns a
    missing or incompatible artefact into an ArtefactError; otherwise the stated fallbacks are used and
    ``notes`` says so (the report must show it)."""

    notes = []
    card = clv = None
    lgd_used = lgd
    try:
        if scorecard_path is None:
            raise ArtefactError(
                "scorecard artefact (scorecard.json) not found in this run or the last good one"
            )
        card = load_scorecard(scorecard_path)
    except ArtefactError as exc:
        if required:
            raise
        notes.append(f"{exc}; using a flat probability of bad of {bad_rate:.1%} and no risk cutoff")
    try:
        if clv_path is None:
            raise ArtefactError(
                "lifetime-value artefact (clv.json) not found in this run or the last good one"
            )
        clv, assumptions = read_clv_artefact(clv_path)
        lgd_used = float(assumptions.get("lgd", lgd))
    except ArtefactError as exc:
        if required:
            raise
        notes.append(
            f"{exc}; using a discounted margin of {discounted_margin:,.0f} and exposure at default of "
            f"{exposure_at_default:,.0f} per account"
        )
    return AccountValue(
        card,
        clv,
        lgd_used,
        {
            "bad_rate": bad_rate,
            "discounted_margin": discounted_margin,
            "exposure_at_default": exposure_at_default,
        },
        notes,
    )
