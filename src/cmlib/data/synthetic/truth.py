"""cmlib.data.synthetic — the truth: every parameter the generator uses (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cmlib.memory import read_parquet
from cmlib.vocab import (
    NO_FILE,
)

BLOCK = 50_000


SCHEMA_VERSION = 1


#: cost per contact (portfolio currency) and base response rate
CHANNEL_COST = {
    "branch": 25.0,
    "telemarketing": 6.0,
    "direct_mail": 1.2,
    "email": 0.02,
    "sms": 0.05,
    "paid_social": 0.8,
    "search": 2.5,
    "partners": 40.0,
}


CHANNEL_RESPONSE = {
    "branch": 0.08,
    "telemarketing": 0.04,
    "direct_mail": 0.03,
    "email": 0.012,
    "sms": 0.015,
    "paid_social": 0.008,
    "search": 0.035,
    "partners": 0.06,
}


#: monthly contact probability of an eligible customer in business-as-usual waves
CHANNEL_REACH = {
    "branch": 0.004,
    "telemarketing": 0.006,
    "direct_mail": 0.012,
    "email": 0.03,
    "sms": 0.01,
    "paid_social": 0.01,
    "search": 0.004,
    "partners": 0.003,
}


ADMISSION_RULES = [  # in the order the bank applies them (the decline waterfall)
    {"rule": "min_age", "column": "age", "decline_if": "age < 21"},
    {"rule": "min_income", "column": "income", "decline_if": "income < 12000"},
    {"rule": "max_dti", "column": "dti", "decline_if": "dti > 0.55"},
    {"rule": "no_bureau_file", "column": "bureau_score", "decline_if": f"bureau_score == {NO_FILE}"},
    {"rule": "do_not_lend", "column": "do_not_lend", "decline_if": "do_not_lend"},
]


#: default-onset hazard: cloglog coefficients on the features (units in the names)
DEFAULT_BETA = {
    "bureau_score_per_100": -1.10,
    "dti_per_0.1": 0.18,
    "utilisation_per_0.1": 0.12,
    "inquiries_6m": 0.12,
    "age_per_10y": -0.15,
    "log_income": -0.35,
    "employment_years_per_5y": -0.10,
    "housing_rent": 0.25,
    "self_employed": 0.30,
    "unemployed": 0.60,
    "no_file": 0.70,
    "thin_file": 0.40,
    "income_missing": 0.20,
    "existing_relationship": -0.30,
}


CLOSURE_BETA = {
    "inactive": 0.80,
    "cashback_arm": -0.25,
    "age_per_10y": -0.10,
    "existing_relationship": -0.40,
    "apr_pp_above_18": 0.08,
}


PREPAY_BETA = {"apr_pp_above_18": 0.10, "log_income": 0.20}


MACRO_GAMMA = 0.25  # default log-hazard per percentage point of unemployment above 4.5


TRAP_EARLY_LOG_HR = 1.20  # no_fee_high_limit arm: extra default log-hazard in MOB 1-6


RETENTION_TEST = {  # a randomised retention call to open card accounts
    "month": "2025-03-01",  # calendar month of the calls
    "share": 0.2,  # share of open card accounts (at least min_mob months on book) in the test; half are called
    "min_mob": 3,
    "closure_log_hr": -0.7,  # a call lowers the closure hazard by this log hazard ratio ...
    "months": 6,  # ... for this many months from the call
    "cost_per_call": 8.0,
}


PROPENSITY_LOG_ODDS = 0.4  # response log-odds per sd of a latent taste for offers the bank cannot observe


ARM_RESPONSE = {  # log-odds shifts: intercept and heterogeneity terms (uplift differs by customer)
    "control": {"intercept": 0.0},
    "lower_apr": {"intercept": 0.25, "score_z": 0.15},
    "cashback": {"intercept": 0.05, "young": 0.20},
    "no_fee_high_limit": {"intercept": 0.35, "risk_z": 0.25},
}


ARM_OFFER = {  # apr %, annual fee, credit limit, reward rate
    "control": (22.9, 39.0, 3000.0, 0.0),
    "lower_apr": (18.9, 39.0, 3000.0, 0.0),
    "cashback": (22.9, 39.0, 3000.0, 0.01),
    "no_fee_high_limit": (22.9, 0.0, 6000.0, 0.0),
}


CASHBACK_ACTIVATION = 0.30  # log-odds lift of activation for the cashback arm


P_APPLY, P_BOOK, P_ACTIVATE = 0.62, 0.85, 0.70


#: the account's monthly margin: interest on the balance (APR / 12) + interchange on spend + the annual fee
#: spread monthly − rewards paid on spend − funding cost on the balance; a charge-off books −balance (LGD 1)
INTERCHANGE_RATE = 0.01  # of card spend
FUNDING_COST_MONTHLY = 0.004  # of the balance, per month (about 4.9 % a year)
UTILISATION_START, UTILISATION_PER_MOB, UTILISATION_DELINQUENT = 0.25, 0.015, 0.10  # balance / limit
CHARGE_OFF_AFTER_ONSET = 5  # months from default onset (30 DPD) to charge-off
#: share of the episodes of arrears that cure which go one month deeper (30 → 60 DPD) before curing; the
#: others cure after one month at 30 DPD. Default (30 → 60 → 90+ → charge-off) is separate: onset.
DEEP_CURE_SHARE = 0.3


#: the truth's definition of an account's value: discounted margin net of charge-offs over this horizon
VALUE_HORIZON_MONTHS = 36
VALUE_DISCOUNT_RATE = 0.10  # annual


#: the bank's risk appetite for a new offer: early delinquency at most this much above control (relative)
GUARDRAIL_RELATIVE_MARGIN = 0.20


def default_baseline(months: int = 72) -> np.ndarray:
    """Monthly default-onset probability of a reference account by MOB 1..months (ramp, plateau, decline)."""
    t = np.arange(1, months + 1, dtype=float)
    return 0.0035 * np.minimum(t / 6.0, 1.0) ** 0.8 * np.exp(-np.maximum(t - 12.0, 0.0) / 48.0)


@dataclass
class BankWorld:
    """The simulated bank's tables (pandas) and the truth that generated them."""

    customers: pd.DataFrame
    campaigns: pd.DataFrame
    contacts: pd.DataFrame
    applications: pd.DataFrame
    performance: pd.DataFrame
    channel_spend: pd.DataFrame
    market: pd.DataFrame
    retention_test: pd.DataFrame
    truth: dict[str, Any]
    truth_tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    TABLES = (
        "customers",
        "campaigns",
        "contacts",
        "applications",
        "performance",
        "channel_spend",
        "market",
        "retention_test",
    )

    def tables(self) -> dict[str, pd.DataFrame]:
        return {t: getattr(self, t) for t in self.TABLES}

    def read(self, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        """One table, or only its ``columns``: a cached bank reads just those from Parquet (an aggregate over
        four tables of a 1M-customer bank needs ~7 of their ~80 columns)."""
        if table not in self.TABLES:
            raise KeyError(f"no table {table!r} in the bank (tables: {', '.join(self.TABLES)})")
        df = getattr(self, table)
        return df if columns is None else df[list(columns)]

    def table(self, table: str, backend: str = "duckdb"):
        """One table as an Ibis table on ``backend`` for :mod:`cmlib.engine`: a cached bank's Parquet folder is
        read by the engine itself (no row comes into Python), an in-memory bank's frame is registered."""
        from cmlib import engine

        if table not in self.TABLES:
            raise KeyError(f"no table {table!r} in the bank (tables: {', '.join(self.TABLES)})")
        path = getattr(self, "_path", None)
        if path is not None and table not in vars(self):
            return engine.table(Path(path) / table, backend)
        return engine.table(getattr(self, table), backend)


class _TablesOnFirstUse(Mapping):
    """The truth tables of a cached bank by name, each read from its Parquet folder the first time it is used:
    a check that needs the uplift truth does not also hold every applicant's (at 10M customers, 0.6 GB)."""

    def __init__(self, paths: dict[str, Path]):
        self._paths, self._read = paths, {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._read:
            self._read[name] = read_parquet(self._paths[name])  # KeyError for an unknown name
        return self._read[name]

    def __iter__(self):
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


class CachedBankWorld(BankWorld):
    """A cached bank whose tables are read from Parquet the first time they are used, so a notebook that needs
    two tables of a 10M-customer bank holds those two in memory, not all of them (reading the whole bank took
    ~3 s and ~1 GB per notebook at 1M customers). Same tables and dtypes as :class:`BankWorld` (tested)."""

    def __init__(self, path: Path, truth: dict):
        self._path = Path(path)
        self.truth = truth

    def __getattr__(self, name: str):
        # only called when the attribute is not set yet: read the table once and keep it
        if name in BankWorld.TABLES:
            value = read_parquet(self._path / name)
        elif name == "truth_tables":
            from cmlib.data.synthetic.world import TRUTH_TABLES  # world imports this module

            value = _TablesOnFirstUse({k: self._path / "truth" / v for k, v in TRUTH_TABLES.items()})
        else:
            raise AttributeError(name)
        setattr(self, name, value)
        return value

    def read(self, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        if columns is None or table in vars(self) or table not in self.TABLES:
            return super().read(table, columns)
        return read_parquet(self._path / table, columns=list(columns))

    def __repr__(self) -> str:
        return f"CachedBankWorld({str(self._path)!r})"
