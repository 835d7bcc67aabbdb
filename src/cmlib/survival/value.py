"""cmlib.survival — value (one section of the package; the package re-exports every name)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cmlib.artefacts import artefact_document, read_artefact, write_artefact
from cmlib.base import Result
from cmlib.errors import ParameterError
from cmlib.finance import DEFAULT_LGD
from cmlib.survival.durations import CLV_SCHEMA_VERSION


@dataclass(repr=False)
class LifetimeValueResult(Result):
    """Lifetime value of an account (portfolio currency, discounted): ``clv`` = ``discounted_margin`` −
    ``expected_loss``, and the expected months open within the horizon."""

    summary: pd.DataFrame
    clv: float
    discounted_margin: float
    expected_loss: float
    expected_lifetime_months: float


def lifetime_value(
    survival: pd.Series,
    default_incidence: pd.Series,
    margin_per_month: float,
    exposure_at_default: float,
    lgd: float = DEFAULT_LGD,
    annual_discount_rate: float = 0.10,
    horizon: int = 60,
) -> LifetimeValueResult:
    """Expected discounted value of a booked account: Σ_t S(t−1)·margin/(1+r)^t − Σ_t f_default(t)·EAD·LGD/(1+r)^t
    over ``horizon`` months, where S is the probability of still being open and f_default the monthly
    increment of the default cumulative incidence. Curves are indexed by month on book; beyond their end
    they are extended flat (S) and with no new defaults, which understates long-run losses — keep the horizon
    inside the data or extend the curves with a parametric fit first."""
    if horizon < 1:
        raise ParameterError("horizon", "months ≥ 1", horizon)
    if not 0 <= lgd <= 1:
        raise ParameterError("lgd", "a fraction in [0, 1]", lgd)
    t = np.arange(1, horizon + 1)
    s = survival.reindex(np.arange(0, horizon + 1), method="ffill").fillna(1.0).to_numpy()
    cif = default_incidence.reindex(np.arange(0, horizon + 1), method="ffill").fillna(0.0).to_numpy()
    disc = (1 + annual_discount_rate) ** (-t / 12)
    revenue = float(np.sum(s[:-1] * margin_per_month * disc))
    loss = float(np.sum(np.diff(cif) * exposure_at_default * lgd * disc))
    v = {
        "clv": revenue - loss,
        "discounted_margin": revenue,
        "expected_loss": loss,
        "expected_lifetime_months": float(s[:-1].sum()),
    }
    return LifetimeValueResult(pd.DataFrame([v]), **v)


def write_clv_artefact(path: str | Path, by_segment: pd.DataFrame, assumptions: dict) -> Path:
    """Versioned JSON artefact of lifetime values per segment (read by cost optimisation)."""
    segments = json.loads(by_segment.reset_index().to_json(orient="records"))  # NaN → null
    return write_artefact(
        path, artefact_document("clv", CLV_SCHEMA_VERSION, assumptions=assumptions, segments=segments)
    )


def read_clv_artefact(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """Read and check a CLV artefact; ArtefactError when missing, of another kind or schema version."""
    doc = read_artefact(path, "clv", CLV_SCHEMA_VERSION, required=("segments", "assumptions"))
    return pd.DataFrame(doc["segments"]), doc["assumptions"]
