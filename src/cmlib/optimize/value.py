"""cmlib.optimize — linking spend to credit losses: the scorecard and the account-value model (one section of
the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.base import Result
from cmlib.errors import ArtefactError, ArtefactMissing, ParameterError
from cmlib.finance import DEFAULT_LGD, AccountValueModel
from cmlib.scorecard import load_scorecard


@dataclass(repr=False)
class AccountValue(Result):
    """Expected value of booking each customer on given product terms: the scoring notebook's scorecard (the
    customer's probability of bad and the risk cutoff) and the survival notebook's account-value model (the
    terms priced with the book's balances, spend, closure and default) — or stated fallbacks, listed in
    ``notes``, when an artefact is missing.

    value(x, terms) = the model's lifetime value on ``terms`` with the default hazard scaled by
    PD(x) / ``reference_pd``, where ``reference_pd`` is the scorecard's mean PD over the book the model was
    fitted on, with the model's hazard calibrated to that book's mix of risks
    (:meth:`~cmlib.finance.AccountValueModel.calibrate_risk`: the book's mean value is the model's value of
    an average account). Fallback without the model: a flat
    ``discounted_margin`` − PD(x) × ``exposure_at_default`` × LGD."""

    scorecard: object | None
    model: AccountValueModel | None
    reference_pd: float
    fallback: dict
    notes: list

    @property
    def lgd(self) -> float:
        return float(self.model.lgd) if self.model is not None else float(self.fallback["lgd"])

    @property
    def summary(self) -> pd.DataFrame:
        """Where each input of the value came from: the artefact, or the stated fallback."""
        f = self.fallback
        rows = [
            {
                "input": "probability of bad",
                "source": "scorecard artefact"
                if self.scorecard is not None
                else f"fallback: {f['bad_rate']:.1%} for everyone",
            },
            {
                "input": "margin, survival, exposure at default",
                "source": f"account-value model ({self.model.horizon} months)"
                if self.model is not None
                else f"fallback: {f['discounted_margin']:,.0f} margin and {f['exposure_at_default']:,.0f} "
                "exposure per account",
            },
            {"input": "loss given default", "source": f"{self.lgd:.0%}"},
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        return {"artefacts_missing": len(self.notes), "lgd": self.lgd}

    def _score(self, customers: pd.DataFrame) -> np.ndarray | None:
        return None if self.scorecard is None else self.scorecard.score(customers).to_numpy(float)

    def _pd_bad(self, customers: pd.DataFrame, score: np.ndarray | None) -> np.ndarray:
        if score is None:
            return np.full(len(customers), float(self.fallback["bad_rate"]))
        return np.asarray(self.scorecard.pd_from_score(score), float)

    @classmethod
    def from_parts(cls, scorecard, model: AccountValueModel, book: pd.DataFrame) -> AccountValue:
        """The value from a scorecard and a model already in memory (the scoring notebook's fresh card):
        the scorecard's PD is centred on ``book``, the accounts the model was fitted on."""
        ref, model = _centre(scorecard, model, book)
        fb = {"bad_rate": ref, "discounted_margin": 0.0, "exposure_at_default": 0.0, "lgd": model.lgd}
        return cls(scorecard, model, ref, fb, [])

    def _eligible(self, customers: pd.DataFrame, score: np.ndarray | None) -> np.ndarray:
        if score is None or "cutoff" not in getattr(self.scorecard, "metadata", {}):
            return np.ones(len(customers), bool)
        return score >= float(self.scorecard.metadata["cutoff"])

    def pd_bad(self, customers: pd.DataFrame) -> np.ndarray:
        """12-month probability of bad from the scorecard (the fallback bad rate without one)."""
        return self._pd_bad(customers, self._score(customers))

    def eligible(self, customers: pd.DataFrame) -> np.ndarray:
        """Passes the scorecard's cutoff (everyone when there is no scorecard)."""
        return self._eligible(customers, self._score(customers))

    @staticmethod
    def _terms(terms, n: int) -> pd.DataFrame:
        """One row of terms per customer: a frame as given (by position), or one offer repeated."""
        if isinstance(terms, pd.DataFrame):
            return terms.reset_index(drop=True)
        return pd.DataFrame({k: np.full(n, float(v)) for k, v in dict(terms).items()})

    def _priced(self, pd_bad: np.ndarray, terms) -> pd.DataFrame:
        n = len(pd_bad)
        if self.model is None:
            f = self.fallback
            loss = f["exposure_at_default"] * f["lgd"]
            return pd.DataFrame(
                {
                    "lifetime_value": f["discounted_margin"] - pd_bad * loss,
                    "discounted_margin": np.full(n, float(f["discounted_margin"])),
                    "expected_loss": pd_bad * loss,
                    "pd_horizon": pd_bad,
                    "margin_if_good": np.full(n, float(f["discounted_margin"])),
                    "loss_if_bad": np.full(n, float(loss)),
                }
            )
        tt = self._terms(terms, n)
        v = self.model.value(tt, pd_multiplier=pd_bad / self.reference_pd)
        good = self.model.value(tt, pd_multiplier=0.0)
        ref = self.model.value(tt)
        with np.errstate(invalid="ignore", divide="ignore"):
            loss = np.where(ref["pd_horizon"] > 0, ref["expected_loss"] / ref["pd_horizon"], 0.0)
        return pd.DataFrame(
            {
                "lifetime_value": v["lifetime_value"].to_numpy(),
                "discounted_margin": v["discounted_margin"].to_numpy(),
                "expected_loss": v["expected_loss"].to_numpy(),
                "pd_horizon": v["pd_horizon"].to_numpy(),
                "margin_if_good": good["discounted_margin"].to_numpy(),
                "loss_if_bad": loss,
            }
        )

    def assess(self, customers: pd.DataFrame, terms=None) -> pd.DataFrame:
        """Per customer, scoring once: ``score`` (NaN without a scorecard), ``pd_bad``, ``eligible`` (the
        cutoff), ``npv`` (value of booking the customer on ``terms``: a dict for one offer, or a frame of
        :data:`cmlib.finance.TERMS` aligned with ``customers``) with its parts ``discounted_margin``,
        ``expected_loss`` and ``pd_horizon`` (chance of default within the model's horizon, at the customer's
        risk), ``margin_if_good`` (discounted margin of an account that never defaults) and ``loss_if_bad``
        (discounted exposure × LGD of one that defaults within the horizon). Index of ``customers``."""
        if terms is None and self.model is not None:
            raise ArtefactError("terms are needed to price accounts with the account-value model")
        score = self._score(customers)
        pd_bad = self._pd_bad(customers, score)
        p = self._priced(pd_bad, terms)
        return pd.DataFrame(
            {
                "score": np.full(len(customers), np.nan) if score is None else score,
                "pd_bad": pd_bad,
                "npv": p["lifetime_value"].to_numpy(),
                **{k: p[k].to_numpy() for k in ("discounted_margin", "expected_loss", "pd_horizon")},
                "margin_if_good": p["margin_if_good"].to_numpy(),
                "loss_if_bad": p["loss_if_bad"].to_numpy(),
                "eligible": self._eligible(customers, score),
            },
            index=customers.index,
        )

    def npv(self, customers: pd.DataFrame, terms=None) -> np.ndarray:
        """Expected value of booking each customer on ``terms`` (see :meth:`assess`), without its parts."""
        if terms is None and self.model is not None:
            raise ArtefactError("terms are needed to price accounts with the account-value model")
        pd_bad = self.pd_bad(customers)
        if self.model is None:
            return self._priced(pd_bad, terms)["lifetime_value"].to_numpy()
        v = self.model.value(self._terms(terms, len(pd_bad)), pd_multiplier=pd_bad / self.reference_pd)
        return v["lifetime_value"].to_numpy()


def _centre(scorecard, model: AccountValueModel | None, book: pd.DataFrame):
    """The scorecard's mean PD over ``book`` (the accounts the model was fitted on), and the model with its
    hazard calibrated to the book's mix of risks, so that the book averages its own value."""
    book_pd = np.asarray(scorecard.pd_from_score(scorecard.score(book)), float)
    reference = float(np.mean(book_pd))
    product = book["product"].to_numpy() if "product" in book else None
    return reference, None if model is None else model.calibrate_risk(book_pd / reference, product)


def account_value(
    scorecard_path=None,
    model_path=None,
    book: pd.DataFrame | None = None,
    required: bool = False,
    bad_rate: float = 0.05,
    discounted_margin: float = 300.0,
    exposure_at_default: float = 1500.0,
    lgd: float = DEFAULT_LGD,
    corrupt: str = "raise",
) -> AccountValue:
    """Read the scorecard and account-value artefacts (paths, or None when a run has none). ``book``: the
    booked accounts the model was fitted on (scorecard features), to centre the scorecard's PD on the book;
    without it the scorecard's own expected bad rate is the reference. A missing artefact means the stated
    fallbacks are used and ``notes`` says so (the report must show it); ``required=True`` makes it an
    ArtefactError. An artefact that exists but cannot be used (not JSON, another version, a value out of
    range) is an ArtefactError naming the file and field — a run must not quietly price accounts on a
    fallback because a file was damaged — unless ``corrupt="fallback"``."""
    if corrupt not in ("raise", "fallback"):
        raise ParameterError("corrupt", "'raise' or 'fallback'", corrupt)
    notes = []
    card = model = None
    try:
        if scorecard_path is None:
            raise ArtefactMissing(
                "scorecard artefact (scorecard.json) not found in this run or the last good one"
            )
        card = load_scorecard(scorecard_path)
    except ArtefactError as exc:
        if required or (not isinstance(exc, ArtefactMissing) and corrupt == "raise"):
            raise
        notes.append(f"{exc}; using a flat probability of bad of {bad_rate:.1%} and no risk cutoff")
    try:
        if model_path is None:
            raise ArtefactMissing(
                "account-value artefact (account_value.json) not found in this run or the last good one"
            )
        model = AccountValueModel.from_artefact(model_path)
    except ArtefactError as exc:
        if required or (not isinstance(exc, ArtefactMissing) and corrupt == "raise"):
            raise
        notes.append(
            f"{exc}; using a discounted margin of {discounted_margin:,.0f} and exposure at default of "
            f"{exposure_at_default:,.0f} per account"
        )
    reference = float(bad_rate)
    if card is not None:
        if book is not None and len(book):
            reference, model = _centre(card, model, book)
        else:
            reference = float(card.metadata.get("expected_bad_rate", bad_rate))
    return AccountValue(
        card,
        model,
        reference,
        {
            "bad_rate": bad_rate,
            "discounted_margin": discounted_margin,
            "exposure_at_default": exposure_at_default,
            "lgd": lgd,
        },
        notes,
    )
