"""The simulated bank: one consistent world with known truth, deterministic for a random_state.

``simulate_bank(n_customers, random_state)`` returns a :class:`BankWorld` with seven tables and the ``truth``
that generated them (see ``data/README.md`` for every column, unit and code):

customers → campaigns → contacts (a randomised four-arm offer test plus business-as-usual waves; the
funnel responded → applied → approved → booked → activated → spend) → applications (admission rules,
then the bank's current score cutoff) → performance (monthly panel of booked accounts from competing
discrete-time hazards driven by covariates and a macro series with a shock) — plus weekly
``channel_spend`` (adstock + Hill saturation) and a monthly ``market`` panel with a structural break.

Scale: customers are generated in fixed blocks of :data:`BLOCK` with their own random streams
(``SeedSequence([random_state, block])``), so a world is the same whether built in one piece or written in
chunks (:func:`write_bank`), and 10 million customers never need to be in memory at once.

Modelling choices worth knowing (they are what a test can hold the estimators to):

* Hazards are complementary log-log in discrete months: ``p = 1 - exp(-exp(eta))``. Grouping a
  continuous proportional-hazards model by month gives exactly this form, so ``exp(beta)`` in
  ``truth['hazards']`` is the hazard ratio a Cox model estimates.
* Default onset at MOB ``t`` means 30 DPD at ``t``, 60 at ``t+1``, 90+ from ``t+2``, charge-off at
  ``t+5``. ``bad_12m`` = 90+ DPD reached by MOB 12. Transient one-month 30 DPD episodes cure.
* Risk depends only on legitimate attributes; the protected attribute is correlated with income and
  region, so any approval gap arises through proxies — what a fair-lending check must find.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# the response-curve primitives are the model's own (cmlib.optimize fits the same ones)
from cmlib.curves import adstock, hill  # noqa: F401  (also re-exported: syn.adstock, syn.hill)
from cmlib.errors import ParameterError
from cmlib.vocab import (  # noqa: F401  (re-exported: the bank's categories as the simulator knew them)
    ARMS,
    CHANNEL_PERMISSION,
    CHANNELS,
    EMPLOYMENT,
    HOUSING,
    NO_FILE,
    REGIONS,
    SEGMENTS,
    STATES,
    THIN_FILE,
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

# --- the truth: every parameter the generator uses -------------------------------------------------
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
    truth: dict[str, Any]
    truth_tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    TABLES = ("customers", "campaigns", "contacts", "applications", "performance", "channel_spend", "market")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {t: getattr(self, t) for t in self.TABLES}


# --- calendar -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """Dates of the world: campaigns run for ``campaign_months`` from ``start``; performance is observed
    to ``observe_end`` (inclusive month); the market panel runs ``market_start``..``observe_end``."""

    start: str = "2023-01-01"
    campaign_months: int = 24
    observe_end: str = "2025-12-01"
    market_start: str = "2015-01-01"
    experiment_month: int = 14  # 0-based month index of the randomised test (2024-03)
    macro_shock: str = "2024-09-01"
    market_break: str = "2020-04-01"

    def months(self, first: str, last: str) -> pd.DatetimeIndex:
        return pd.date_range(first, last, freq="MS")

    @property
    def campaign_index(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, periods=self.campaign_months, freq="MS")

    @property
    def panel_index(self) -> pd.DatetimeIndex:
        return self.months(self.start, self.observe_end)


def unemployment(cal: Calendar) -> pd.Series:
    """The macro series (percent): 4.5 baseline, a shock at ``macro_shock`` rising 3 pp over three months
    and decaying with a six-month half-life."""
    idx = cal.months(cal.market_start, cal.observe_end)
    k = np.arange(len(idx)) - idx.get_loc(pd.Timestamp(cal.macro_shock))
    rise = np.clip((k + 1) / 3.0, 0.0, 1.0)
    decay = np.where(k > 2, 0.5 ** ((k - 2) / 6.0), 1.0)
    seasonal = 0.15 * np.sin(2 * np.pi * idx.month.to_numpy() / 12)
    return pd.Series(4.5 + 3.0 * rise * decay + seasonal, index=idx, name="unemployment_pct")


# --- customers ------------------------------------------------------------------------------------


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _cloglog_p(eta):
    return -np.expm1(-np.exp(np.minimum(eta, 5.0)))


def _customers(rng: np.random.Generator, ids: np.ndarray) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    n = len(ids)
    age = np.clip(np.round(rng.normal(43, 14, n)), 18, 85).astype(np.int64)
    # employment by age band
    p_emp = np.where(
        age[:, None] < 25,
        [0.45, 0.05, 0.0, 0.42, 0.08],
        np.where(age[:, None] >= 66, [0.10, 0.06, 0.80, 0.0, 0.04], [0.72, 0.14, 0.02, 0.02, 0.10]),
    )
    u = rng.random(n)[:, None]
    emp_idx = (u > np.cumsum(p_emp, axis=1)).sum(axis=1)
    emp = np.array(EMPLOYMENT)[emp_idx]
    protected = np.where(rng.random(n) < 0.3, "B", "A")
    region_p_a = np.array([0.22, 0.13, 0.13, 0.12, 0.12, 0.12, 0.08, 0.08])
    region_p_b = np.array([0.14, 0.10, 0.16, 0.16, 0.08, 0.10, 0.08, 0.18])
    ureg = rng.random(n)[:, None]
    reg_idx = np.where(
        protected[:, None] == "A", ureg > np.cumsum(region_p_a), ureg > np.cumsum(region_p_b)
    ).sum(1)
    region = np.array(REGIONS)[np.minimum(reg_idx, len(REGIONS) - 1)]
    emp_factor = np.array([1.0, 1.1, 0.7, 0.35, 0.4])[emp_idx]
    age_curve = np.exp(-(((age - 50) / 30.0) ** 2) * 0.5)
    log_income = (
        10.55 + np.log(emp_factor) + 0.35 * age_curve - 0.12 * (protected == "B") + rng.normal(0, 0.5, n)
    )
    income = np.round(np.exp(log_income), -2)
    income_missing = rng.random(n) < 0.07
    emp_years = np.where(
        np.isin(emp, ["salaried", "self_employed"]),
        np.minimum(age - 18, np.round(rng.exponential(7.0, n), 1)),
        np.nan,
    )
    p_h = np.where(
        age[:, None] < 30,
        [0.05, 0.15, 0.70, 0.10],
        np.where(age[:, None] >= 60, [0.65, 0.15, 0.17, 0.03], [0.20, 0.45, 0.30, 0.05]),
    )
    housing = np.array(HOUSING)[(rng.random(n)[:, None] > np.cumsum(p_h, axis=1)).sum(1).clip(0, 3)]
    # bureau attributes share a latent creditworthiness with income and age
    z = 0.35 * (log_income - 10.5) / 0.6 + 0.25 * (age - 43) / 14 + rng.normal(0, 0.85, n)
    score = np.clip(np.round(690 + 55 * z + rng.normal(0, 20, n)), 300, 850)
    no_file = rng.random(n) < np.where(age < 25, 0.12, 0.02)
    thin_file = ~no_file & (rng.random(n) < np.where(age < 30, 0.12, 0.03))
    bureau_score = np.where(no_file, NO_FILE, np.where(thin_file, THIN_FILE, score)).astype(np.int64)
    inquiries = rng.poisson(np.exp(0.1 - 0.35 * z)).astype(np.int64)
    util = np.clip(rng.beta(2.0, 3.5, n) - 0.12 * z, 0.0, 1.2).round(3)
    util = np.where(no_file, np.nan, util)
    dti = np.clip(rng.gamma(2.2, 0.11, n) - 0.02 * z, 0.0, 1.5).round(3)
    relationship = rng.random(n) < 0.45
    tenure = np.where(relationship, np.round(rng.exponential(60, n)), 0).astype(np.int64)
    segment = np.where(
        emp == "student",
        "student",
        np.where(
            age >= 66,
            "senior",
            np.where(income >= 75_000, "affluent", np.where(age < 32, "young_professional", "mass")),
        ),
    )
    pre_spend = np.where(
        relationship,
        np.round(np.exp(np.log(np.maximum(income, 5e3) * 0.012) + rng.normal(0, 0.6, n)), 2),
        0.0,
    )
    propensity = rng.normal(0, 1, n)
    cust = pd.DataFrame(
        {
            "customer_id": ids.astype(np.int64),
            "age": age,
            "income": np.where(income_missing, np.nan, income),
            "employment_type": emp,
            "employment_years": emp_years,
            "housing": housing,
            "dti": dti,
            "bureau_score": bureau_score,
            "inquiries_6m": inquiries,
            "utilisation": util,
            "existing_relationship": relationship,
            "tenure_with_bank_months": tenure,
            "region": region,
            "segment": segment,
            "protected_group": protected,
            "perm_email": rng.random(n) < 0.80,
            "perm_sms": rng.random(n) < 0.60,
            "perm_phone": rng.random(n) < 0.50,
            "perm_mail": rng.random(n) < 0.90,
            "do_not_contact": rng.random(n) < 0.04,
            "do_not_lend": rng.random(n) < 0.01,
            "pre_spend_monthly": pre_spend,
        }
    )
    # the true default log-hazard shift of each customer (DEFAULT_BETA applied to the features)
    eta = default_eta(cust)
    latent = {
        "risk_eta": eta,
        "propensity": propensity,
        "score_z": np.where(bureau_score >= THIN_FILE, 0.0, (score - 690) / 55),
    }
    return cust, latent


def default_features(df: pd.DataFrame) -> pd.DataFrame:
    """The features of :data:`DEFAULT_BETA`, in their units, from customer/application columns.

    Special codes and missing values enter through indicators with the continuous part at its reference
    (score 690, income 40,000, utilisation 0.3, employment years 0).
    """
    bs = df["bureau_score"].to_numpy()
    special = bs >= THIN_FILE
    inc = df["income"].to_numpy(dtype=float)
    util = df["utilisation"].to_numpy(dtype=float)
    emp = df["employment_type"].to_numpy()
    return pd.DataFrame(
        {
            "bureau_score_per_100": np.where(special, 0.0, (bs - 690) / 100.0),
            "dti_per_0.1": df["dti"].to_numpy(dtype=float) / 0.1,
            "utilisation_per_0.1": np.where(np.isnan(util), 3.0, util / 0.1),
            "inquiries_6m": df["inquiries_6m"].to_numpy(dtype=float),
            "age_per_10y": (df["age"].to_numpy(dtype=float) - 40) / 10.0,
            "log_income": np.where(np.isnan(inc), 0.0, np.log(np.maximum(inc, 1.0) / 40_000.0)),
            "employment_years_per_5y": np.nan_to_num(df["employment_years"].to_numpy(dtype=float)) / 5.0,
            "housing_rent": (df["housing"].to_numpy() == "rent").astype(float),
            "self_employed": (emp == "self_employed").astype(float),
            "unemployed": (emp == "unemployed").astype(float),
            "no_file": (bs == NO_FILE).astype(float),
            "thin_file": (bs == THIN_FILE).astype(float),
            "income_missing": np.isnan(inc).astype(float),
            "existing_relationship": df["existing_relationship"].to_numpy().astype(float),
        },
        index=df.index,
    )


def default_eta(df: pd.DataFrame) -> np.ndarray:
    """Σ beta·x of the default hazard for each row (no baseline, macro or arm term)."""
    x = default_features(df)
    return x.to_numpy() @ np.array([DEFAULT_BETA[c] for c in x.columns])


# --- campaigns ------------------------------------------------------------------------------------

EXPERIMENT_ID = "EXP01"
EXPERIMENT_SHARE = 0.4  # of customers eligible for direct mail
LOAN_CHANNELS = {"search", "partners"}
LOAN_OFFER = (11.9, 0.0, 10_000.0, 0.0)


def _campaigns(cal: Calendar) -> pd.DataFrame:
    rows = []
    for m, start in enumerate(cal.campaign_index):
        end = start + pd.offsets.MonthEnd(0)
        for ci, ch in enumerate(CHANNELS):
            apr, fee, limit, reward = LOAN_OFFER if ch in LOAN_CHANNELS else ARM_OFFER["control"]
            rows.append(
                {
                    "campaign_id": 1000 + 10 * m + ci,
                    "experiment_id": None,
                    "arm": None,
                    "channel": ch,
                    "product": "loan" if ch in LOAN_CHANNELS else "card",
                    "start_date": start,
                    "end_date": end.normalize(),
                    "cost_per_contact": CHANNEL_COST[ch],
                    "fixed_cost": 5_000.0 if ch in {"branch", "telemarketing", "partners"} else 1_000.0,
                    "apr": apr,
                    "annual_fee": fee,
                    "credit_limit": limit,
                    "reward_rate": reward,
                }
            )
    start = cal.campaign_index[cal.experiment_month]
    for ai, arm in enumerate(ARMS):
        apr, fee, limit, reward = ARM_OFFER[arm]
        rows.append(
            {
                "campaign_id": 9001 + ai,
                "experiment_id": EXPERIMENT_ID,
                "arm": arm,
                "channel": "direct_mail",
                "product": "card",
                "start_date": start,
                "end_date": (start + pd.offsets.MonthEnd(0)).normalize(),
                "cost_per_contact": CHANNEL_COST["direct_mail"],
                "fixed_cost": 2_500.0,
                "apr": apr,
                "annual_fee": fee,
                "credit_limit": limit,
                "reward_rate": reward,
            }
        )
    df = pd.DataFrame(rows)
    df["experiment_id"] = df["experiment_id"].astype("string")
    df["arm"] = df["arm"].astype("string")
    return df


# --- contacts, applications and performance for one block of customers -------------------------------

RISK_Z_CENTER, RISK_Z_SCALE = 0.85, 1.15  # fixed centring of risk_eta so blocks share one definition
LEGACY_CENTER = 1.25  # the legacy score is 600 at this log-hazard shift (about 60% approved)
LEGACY_PDO_FACTOR = 50 / np.log(2)
LEGACY_CUTOFF = 600
ORGANIC_APPLY = 0.12  # chance a customer applies unprompted during the campaign window


def _block(
    cal: Calendar, campaigns: pd.DataFrame, rng: np.random.Generator, ids: np.ndarray, id_offset: int
) -> dict[str, Any]:
    cust, lat = _customers(rng, ids)
    n = len(cust)
    eta, prop, score_z = lat["risk_eta"], lat["propensity"], lat["score_z"]
    risk_z = (eta - RISK_Z_CENTER) / RISK_Z_SCALE
    young = cust["age"].to_numpy() < 35
    rel = cust["existing_relationship"].to_numpy()
    dnc = cust["do_not_contact"].to_numpy()
    n_months = cal.campaign_months

    # business-as-usual waves: Poisson number of contacts per eligible customer and channel
    pieces = []
    for ci, ch in enumerate(CHANNELS):
        perm = CHANNEL_PERMISSION[ch]
        eligible = ~dnc & (cust[perm].to_numpy() if perm else True)
        k = rng.poisson(CHANNEL_REACH[ch] * n_months, n) * eligible
        idx = np.repeat(np.arange(n), k)
        month = rng.integers(0, n_months, len(idx))
        pieces.append(
            pd.DataFrame(
                {
                    "row": idx,
                    "month": month,
                    "campaign_id": 1000 + 10 * month + ci,
                    "channel": ch,
                    "arm": "",
                    "experiment_id": "",
                }
            )
        )
    # the randomised test: a share of mail-eligible customers, four arms with equal allocation
    eligible = ~dnc & cust["perm_mail"].to_numpy()
    sel = np.flatnonzero(eligible & (rng.random(n) < EXPERIMENT_SHARE))
    arm_idx = rng.integers(0, len(ARMS), len(sel))
    pieces.append(
        pd.DataFrame(
            {
                "row": sel,
                "month": cal.experiment_month,
                "campaign_id": 9001 + arm_idx,
                "channel": "direct_mail",
                "arm": np.array(ARMS)[arm_idx],
                "experiment_id": EXPERIMENT_ID,
            }
        )
    )
    con = pd.concat(pieces, ignore_index=True)
    con = con.sort_values(["month", "row", "campaign_id"], kind="stable").reset_index(drop=True)
    r = con["row"].to_numpy()
    m = len(con)
    arm = con["arm"].to_numpy()
    base = np.log(
        np.array([CHANNEL_RESPONSE[c] for c in CHANNELS])
        / (1 - np.array([CHANNEL_RESPONSE[c] for c in CHANNELS]))
    )
    ch_idx = pd.Categorical(con["channel"], categories=CHANNELS).codes
    common = base[ch_idx] + 0.4 * prop[r] + 0.3 * rel[r] - 0.08  # -0.08 centres the propensity terms

    def arm_shift(a: str, rows: np.ndarray) -> np.ndarray:
        s = ARM_RESPONSE[a]
        return (
            s["intercept"]
            + s.get("score_z", 0.0) * score_z[rows]
            + s.get("young", 0.0) * young[rows]
            + s.get("risk_z", 0.0) * risk_z[rows]
        )

    shift = np.zeros(m)
    for a in ARMS[1:]:
        w = arm == a
        shift[w] = arm_shift(a, r[w])
    p_resp = _sigmoid(common + shift)
    responded = rng.random(m) < p_resp
    applied = responded & (rng.random(m) < P_APPLY)
    day = rng.integers(0, 28, m)
    month_start = cal.campaign_index[con["month"].to_numpy()]
    contact_date = month_start + pd.to_timedelta(day, unit="D")

    # applications: from contacts and organic; at most the attributes the bank sees at application
    app_rows = np.flatnonzero(applied)
    org = np.flatnonzero(rng.random(n) < ORGANIC_APPLY)
    org_month = rng.integers(0, n_months, len(org))
    a_cust_row = np.concatenate([r[app_rows], org])
    a_month = np.concatenate([con["month"].to_numpy()[app_rows], org_month])
    a_day = np.concatenate(
        [np.minimum(day[app_rows] + rng.integers(1, 10, len(app_rows)), 27), rng.integers(0, 28, len(org))]
    )
    a_contact = np.concatenate([app_rows, np.full(len(org), -1)])
    a_arm = np.concatenate([arm[app_rows], np.full(len(org), "")])
    camp = campaigns.set_index("campaign_id")
    a_campaign = np.concatenate([con["campaign_id"].to_numpy()[app_rows], np.full(len(org), -1)])
    a_channel = np.concatenate([con["channel"].to_numpy()[app_rows], np.full(len(org), "organic")])
    known = a_campaign >= 0
    offer = np.tile(np.array(ARM_OFFER["control"]), (len(a_campaign), 1))
    offer[known] = camp.loc[
        a_campaign[known], ["apr", "annual_fee", "credit_limit", "reward_rate"]
    ].to_numpy()
    product = np.where(known, camp["product"].reindex(a_campaign).fillna("card").to_numpy(), "card")
    na = len(a_cust_row)
    attrs = cust.iloc[a_cust_row].reset_index(drop=True)
    a_eta = eta[a_cust_row]
    # the bank's current score: a noisy reading of the true risk (25 points double the odds)
    legacy = np.round(600 - LEGACY_PDO_FACTOR * (a_eta + rng.normal(0, 0.45, na) - LEGACY_CENTER) / 2.0)
    reason = np.full(na, "", dtype=object)
    fails = {
        "min_age": attrs["age"].to_numpy() < 21,
        "min_income": attrs["income"].to_numpy() < 12_000,
        "max_dti": attrs["dti"].to_numpy() > 0.55,
        "no_bureau_file": attrs["bureau_score"].to_numpy() == NO_FILE,
        "do_not_lend": attrs["do_not_lend"].to_numpy(),
    }
    for rule in [r_["rule"] for r_ in ADMISSION_RULES][::-1]:  # first failing rule wins
        reason[fails[rule]] = rule
    passes = reason == ""
    reason[passes & (legacy < LEGACY_CUTOFF)] = "score_below_cutoff"
    approved = reason == ""
    booked = approved & (rng.random(na) < P_BOOK)
    is_cash = a_arm == "cashback"
    p_act = _sigmoid(np.log(P_ACTIVATE / (1 - P_ACTIVATE)) + CASHBACK_ACTIVATION * is_cash)
    activated = booked & (rng.random(na) < p_act) & (product == "card") | booked & (product == "loan")
    pre = attrs["pre_spend_monthly"].to_numpy()
    spend_90d = np.where(
        activated & (product == "card"),
        np.round(
            np.exp(np.log(250) + 0.5 * np.log1p(pre / 100) + rng.normal(0, 0.7, na))
            * np.where(is_cash, 1.10, 1.0),
            2,
        ),
        0.0,
    )

    # outcomes of every applicant (declined ones only reach the truth): competing monthly hazards
    book_month = a_month + 1  # first month on book = the month after application
    panel_idx = cal.panel_index
    macro = unemployment(cal).reindex(panel_idx).to_numpy()
    horizon = len(panel_idx) - int(book_month.min()) if na else 0
    h0 = default_baseline(max(horizon, 12) + 1)
    trap = a_arm == "no_fee_high_limit"
    apr = offer[:, 0]
    inactive = ~activated
    log_inc = np.where(
        np.isnan(attrs["income"].to_numpy()),
        0.0,
        np.log(np.maximum(attrs["income"].to_numpy(), 1.0) / 40_000.0),
    )
    eta_close = (
        np.log(-np.log1p(-0.012))
        + CLOSURE_BETA["inactive"] * inactive
        + CLOSURE_BETA["cashback_arm"] * is_cash
        + CLOSURE_BETA["age_per_10y"] * (attrs["age"].to_numpy() - 40) / 10
        + CLOSURE_BETA["existing_relationship"] * attrs["existing_relationship"].to_numpy()
        + CLOSURE_BETA["apr_pp_above_18"] * (apr - 18)
    )
    eta_prepay = (
        np.log(-np.log1p(-0.02))
        + PREPAY_BETA["apr_pp_above_18"] * (apr - 18)
        + PREPAY_BETA["log_income"] * log_inc
    )
    onset = np.zeros(na, dtype=np.int64)  # MOB of default onset (0 = none)
    exit_mob = np.zeros(na, dtype=np.int64)  # MOB of closure/prepayment (0 = none)
    exit_kind = np.full(na, "", dtype=object)
    transient = np.zeros((na, 4), dtype=bool)  # transient 30 DPD at MOB 1..3 (for early delinquency)
    transient_mobs: list[np.ndarray] = []
    alive = np.ones(na, dtype=bool)
    p_trans_base = 0.012 * np.exp(0.5 * (a_eta - RISK_Z_CENTER))
    for t in range(1, max(horizon, 12) + 1):
        cal_idx = np.minimum(book_month + t - 1, len(panel_idx) - 1)
        eta_t = (
            np.log(-np.log1p(-h0[t - 1]))
            + a_eta
            + MACRO_GAMMA * (macro[cal_idx] - 4.5)
            + TRAP_EARLY_LOG_HR * (trap & (t <= 6))
        )
        u = rng.random(na)
        p_d = _cloglog_p(eta_t)
        new_def = alive & (u < p_d)
        onset[new_def] = t
        alive &= ~new_def
        p_x = np.where(product == "loan", _cloglog_p(eta_prepay), _cloglog_p(eta_close))
        x = alive & (rng.random(na) < p_x)
        exit_mob[x] = t
        exit_kind[x] = np.where(product[x] == "loan", "prepaid", "closed")
        alive &= ~x
        tr = alive & (rng.random(na) < np.minimum(p_trans_base, 0.5))
        transient_mobs.append(tr)
        if t <= 3:
            transient[:, t] = tr
    bad_12m_true = (onset > 0) & (onset + 2 <= 12)
    early = ((onset > 0) & (onset <= 3)) | transient[:, 3]

    app_ids = id_offset + np.arange(na, dtype=np.int64)
    apps = attrs.drop(
        columns=["perm_email", "perm_sms", "perm_phone", "perm_mail", "do_not_contact", "pre_spend_monthly"]
    )
    apps.insert(0, "application_id", app_ids)
    apps.insert(2, "contact_id", pd.array(np.full(na, -1), dtype="Int64"))  # set by the caller
    apps.insert(3, "campaign_id", pd.array(a_campaign, dtype="Int64"))
    apps.insert(4, "channel", a_channel)
    apps.insert(5, "product", product)
    apps.insert(6, "application_date", cal.campaign_index[a_month] + pd.to_timedelta(a_day, unit="D"))
    apps["bank_score"] = legacy.astype(np.int64)
    apps["decision"] = np.where(approved, "approved", "declined")
    apps["decline_reason"] = pd.array(np.where(approved, None, reason), dtype="string")
    apps["booked"] = booked
    apps["bad_12m"] = np.where(booked, bad_12m_true.astype(float), np.nan)
    apps["apr"], apps["credit_limit"] = offer[:, 0], offer[:, 2]
    apps["_row"] = np.arange(na)
    apps["_contact_row"] = a_contact

    perf = _panel(
        rng,
        cal,
        apps,
        booked,
        book_month,
        onset,
        exit_mob,
        exit_kind,
        transient_mobs,
        activated,
        spend_90d,
        offer,
        product,
    )

    # contacts table
    c_app = np.full(m, -1, dtype=np.int64)
    c_app[app_rows] = app_ids[: len(app_rows)]
    fl = {k: np.zeros(m, dtype=bool) for k in ("approved", "booked", "activated")}
    for k, v in (("approved", approved), ("booked", booked), ("activated", activated)):
        fl[k][app_rows] = v[: len(app_rows)]
    c_spend = np.zeros(m)
    c_spend[app_rows] = spend_90d[: len(app_rows)]
    c_early = np.full(m, np.nan)
    c_early[app_rows] = np.where(booked[: len(app_rows)], early[: len(app_rows)].astype(float), np.nan)
    contacts = pd.DataFrame(
        {
            "contact_id": np.zeros(m, dtype=np.int64),  # set globally by the caller
            "customer_id": cust["customer_id"].to_numpy()[r],
            "campaign_id": con["campaign_id"].to_numpy().astype(np.int64),
            "experiment_id": pd.array(
                np.where(con["experiment_id"] == "", None, con["experiment_id"]), dtype="string"
            ),
            "arm": pd.array(np.where(arm == "", None, arm), dtype="string"),
            "channel": con["channel"].to_numpy(),
            "contact_date": contact_date,
            "pre_spend_90d": np.round(
                3 * cust["pre_spend_monthly"].to_numpy()[r] * np.exp(rng.normal(0, 0.25, m)), 2
            ),
            "responded": responded,
            "applied": applied,
            "approved": fl["approved"],
            "booked": fl["booked"],
            "activated": fl["activated"],
            "spend_90d": c_spend,
            "early_dpd30_3m": c_early,
            "application_id": pd.array(np.where(c_app >= 0, c_app, -1), dtype="Int64"),
        }
    )
    contacts.loc[contacts["application_id"] < 0, "application_id"] = pd.NA

    # truth of the experiment: expected per-contacted rate of each stage under each arm, summed
    exp_rows = np.flatnonzero(arm != "")
    exp_truth, uplift = _experiment_truth(
        cust, eta, score_z, risk_z, young, common[exp_rows], r[exp_rows], cal
    )
    truth_apps = pd.DataFrame(
        {
            "application_id": app_ids,
            "bad_12m_true": bad_12m_true,
            "risk_eta": a_eta,
            "default_onset_mob": onset,
        }
    )
    return {
        "customers": cust,
        "contacts": contacts,
        "applications": apps,
        "performance": perf,
        "truth_applications": truth_apps,
        "experiment_sums": exp_truth,
        "n_apps": na,
        "uplift": uplift,
        "exp_contact_index": exp_rows,
    }


def _panel(
    rng,
    cal,
    apps,
    booked,
    book_month,
    onset,
    exit_mob,
    exit_kind,
    transient_mobs,
    activated,
    spend_90d,
    offer,
    product,
) -> pd.DataFrame:
    """Monthly rows of booked accounts from booking to charge-off, closure, prepayment or observation end."""
    panel_idx = cal.panel_index
    b = np.flatnonzero(booked)
    if len(b) == 0:
        return _empty_panel()
    last_obs = len(panel_idx) - 1 - book_month[b] + 1  # MOB of the last observed month
    end_default = np.where(onset[b] > 0, onset[b] + 5, np.iinfo(np.int64).max)
    end_exit = np.where(exit_mob[b] > 0, exit_mob[b], np.iinfo(np.int64).max)
    n_rows = np.minimum(np.minimum(end_default, end_exit), last_obs)
    acc = np.repeat(b, n_rows)
    mob = np.concatenate([np.arange(1, k + 1) for k in n_rows]) if len(n_rows) else np.zeros(0, int)
    on = onset[acc]
    since = np.where(on > 0, mob - on, -1)
    state = np.full(len(acc), "current", dtype=object)
    tmat = np.stack(transient_mobs, axis=1) if transient_mobs else np.zeros((len(booked), 1), bool)
    tr = tmat[acc, np.minimum(mob - 1, tmat.shape[1] - 1)]
    state[tr] = "dpd30"
    state[since == 0] = "dpd30"
    state[since == 1] = "dpd60"
    state[(since >= 2) & (since <= 4)] = "dpd90"
    state[since == 5] = "charged_off"
    ex = (exit_mob[acc] == mob) & (since < 0)
    state[ex] = exit_kind[acc][ex]
    dpd = (
        pd.Series(state)
        .map(
            {
                "current": 0,
                "dpd30": 30,
                "dpd60": 60,
                "dpd90": 90,
                "charged_off": 180,
                "closed": 0,
                "prepaid": 0,
            }
        )
        .to_numpy()
    )
    limit = offer[acc, 2]
    apr = offer[acc, 0]
    is_loan = product[acc] == "loan"
    util0 = np.clip(0.25 + 0.05 * rng.standard_normal(len(b)), 0.05, 0.9)[np.searchsorted(b, acc)]
    bal_card = limit * np.clip(util0 + 0.015 * mob + 0.1 * (since >= 0), 0, 1.1) * activated[acc]
    bal_loan = limit * np.clip(1 - mob / 60.0, 0, 1)
    balance = np.round(np.where(is_loan, bal_loan, bal_card), 2)
    balance[np.isin(state, ["closed", "prepaid"])] = 0.0
    spend = np.where(
        ~is_loan & activated[acc] & (since < 0),
        np.round(spend_90d[acc] / 3 * np.exp(rng.normal(0, 0.3, len(acc))), 2),
        0.0,
    )
    margin = np.round(balance * apr / 1200 + 0.01 * spend - balance * 0.004, 2)
    margin[state == "charged_off"] = -balance[state == "charged_off"]
    return pd.DataFrame(
        {
            "account_id": apps["application_id"].to_numpy()[acc],
            "customer_id": apps["customer_id"].to_numpy()[acc],
            "month": panel_idx[book_month[acc] + mob - 1],
            "mob": mob.astype(np.int64),
            "product": product[acc],
            "state": state.astype(str),
            "dpd": dpd.astype(np.int64),
            "balance": balance,
            "spend": spend,
            "margin": margin,
            "credit_limit": limit,
        }
    )


def _empty_panel() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": pd.Series(dtype=np.int64),
            "customer_id": pd.Series(dtype=np.int64),
            "month": pd.Series(dtype="datetime64[ns]"),
            "mob": pd.Series(dtype=np.int64),
            "product": pd.Series(dtype=object),
            "state": pd.Series(dtype=object),
            "dpd": pd.Series(dtype=np.int64),
            "balance": pd.Series(dtype=float),
            "spend": pd.Series(dtype=float),
            "margin": pd.Series(dtype=float),
            "credit_limit": pd.Series(dtype=float),
        }
    )


#: the funnel as the contacts table records it (the truth's lifts use the same names)
STAGES = ["responded", "applied", "approved", "booked", "activated", "spend_90d"]


def _experiment_truth(cust, eta, score_z, risk_z, young, common, rows, cal):
    """Expected per-contacted rate of every funnel stage under every arm for the experiment's contacts
    (sums, to be divided by the count once all blocks are in), and each contact's response probability
    under each arm (the per-customer uplift)."""
    pre = cust["pre_spend_monthly"].to_numpy()[rows]
    inc = cust["income"].to_numpy()[rows]
    attrs = cust.iloc[rows]
    fails = (
        (attrs["age"].to_numpy() < 21)
        | (inc < 12_000)
        | (attrs["dti"].to_numpy() > 0.55)
        | (attrs["bureau_score"].to_numpy() == NO_FILE)
        | attrs["do_not_lend"].to_numpy()
    )
    from scipy.special import ndtr

    e = eta[rows]
    p_approve = np.where(fails, 0.0, ndtr((LEGACY_CENTER + 1.0 / LEGACY_PDO_FACTOR - e) / 0.45))
    panel_idx = cal.panel_index
    macro = unemployment(cal).reindex(panel_idx).to_numpy()
    book_month = cal.experiment_month + 1
    h0 = default_baseline(6)
    sums: dict[str, dict[str, float]] = {}
    uplift = {}
    for a in ARMS:
        s = ARM_RESPONSE[a]
        shift = (
            s["intercept"]
            + s.get("score_z", 0.0) * score_z[rows]
            + s.get("young", 0.0) * young[rows]
            + s.get("risk_z", 0.0) * risk_z[rows]
        )
        p_r = _sigmoid(common + shift)
        uplift[a] = p_r
        p_app = p_r * P_APPLY
        p_ok = p_app * p_approve
        p_book = p_ok * P_BOOK
        p_act1 = _sigmoid(np.log(P_ACTIVATE / (1 - P_ACTIVATE)) + CASHBACK_ACTIVATION * (a == "cashback"))
        p_act = p_book * p_act1
        e_spend = np.exp(np.log(250) + 0.5 * np.log1p(pre / 100) + 0.7**2 / 2) * (
            1.10 if a == "cashback" else 1.0
        )
        apr = ARM_OFFER[a][0]
        eta_c = (
            np.log(-np.log1p(-0.012))
            + CLOSURE_BETA["cashback_arm"] * (a == "cashback")
            + CLOSURE_BETA["age_per_10y"] * (attrs["age"].to_numpy() - 40) / 10
            + CLOSURE_BETA["existing_relationship"] * attrs["existing_relationship"].to_numpy()
            + CLOSURE_BETA["apr_pp_above_18"] * (apr - 18)
        )
        p_c = p_act1 * _cloglog_p(eta_c) + (1 - p_act1) * _cloglog_p(eta_c + CLOSURE_BETA["inactive"])
        surv, onset3 = np.ones(len(rows)), np.zeros(len(rows))
        for t in range(1, 4):
            eta_t = (
                np.log(-np.log1p(-h0[t - 1]))
                + e
                + MACRO_GAMMA * (macro[book_month + t - 1] - 4.5)
                + TRAP_EARLY_LOG_HR * (a == "no_fee_high_limit")
            )
            p_d = _cloglog_p(eta_t)
            onset3 += surv * p_d
            surv = surv * (1 - p_d) * (1 - p_c)
        p_early = onset3 + surv * np.minimum(0.012 * np.exp(0.5 * (e - RISK_Z_CENTER)), 0.5)
        sums[a] = {
            "responded": p_r.sum(),
            "applied": p_app.sum(),
            "approved": p_ok.sum(),
            "booked": p_book.sum(),
            "activated": p_act.sum(),
            "spend_90d": (p_act * e_spend).sum(),
            "early_dpd30_3m_x_booking": (p_book * p_early).sum(),
            "n": float(len(rows)),
        }
    up = pd.DataFrame({f"p_response_{a}": v for a, v in uplift.items()})
    up.insert(0, "customer_id", cust["customer_id"].to_numpy()[rows])
    return sums, up


# --- aggregate tables: weekly channel spend and the monthly market panel ---------------------------

WEEKLY_SPEND = {
    "branch": 20_000,
    "telemarketing": 15_000,
    "direct_mail": 25_000,
    "email": 2_000,
    "sms": 3_000,
    "paid_social": 12_000,
    "search": 18_000,
    "partners": 30_000,
}
N_WEEKS = 104


def _channel_params(rng: np.random.Generator) -> dict[str, dict[str, float]]:
    out = {}
    for ch in CHANNELS:
        theta = float(np.round(rng.uniform(0.2, 0.6), 3))
        level = WEEKLY_SPEND[ch] / (1 - theta)
        out[ch] = {
            "decay": theta,
            "half_saturation": float(np.round(level * rng.uniform(0.6, 1.4), 0)),
            "shape": float(np.round(rng.uniform(1.0, 2.5), 3)),
            "top": float(np.round(rng.uniform(50, 400), 1)),
            "base": float(np.round(rng.uniform(5, 30), 1)),
        }
    return out


def _channel_spend(rng: np.random.Generator, cal: Calendar, params: dict) -> pd.DataFrame:
    weeks = pd.date_range(pd.Timestamp(cal.start) + pd.offsets.Week(weekday=0), periods=N_WEEKS, freq="W-MON")
    rows = []
    for ch in CHANNELS:
        p = params[ch]
        plan = WEEKLY_SPEND[ch] * (1 + 0.5 * np.sin(2 * np.pi * np.arange(N_WEEKS) / 26 + rng.uniform(0, 6)))
        on = rng.random(N_WEEKS) > 0.2  # flighting: a fifth of weeks dark, so curves are identifiable
        spend = np.round(plan * on * np.exp(rng.normal(0, 0.35, N_WEEKS)) * rng.uniform(0.3, 1.8, N_WEEKS), 0)
        mean = p["base"] + p["top"] * hill(adstock(spend, p["decay"]), p["half_saturation"], p["shape"])
        bookings = rng.poisson(mean)
        rows.append(
            pd.DataFrame(
                {
                    "week_start": weeks,
                    "channel": ch,
                    "spend": spend.astype(float),
                    "bookings": bookings.astype(np.int64),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


SEGMENT_SHARE = {"student": 0.04, "young_professional": 0.18, "mass": 0.45, "affluent": 0.23, "senior": 0.10}
SEGMENT_GROWTH = {
    "student": 0.002,
    "young_professional": 0.007,
    "mass": 0.003,
    "affluent": 0.005,
    "senior": 0.001,
}
MARKET = {
    "balance_start": 50e9,
    "monthly_growth": 0.004,
    "level_change": -0.08,
    "slope_change": -0.002,
    "price_gap_pp": -0.12,
    "share_logit_intercept": -2.2,
    "seasonal_amplitude": 0.03,
}


def policy_rate(idx: pd.DatetimeIndex) -> np.ndarray:
    """Policy rate path (percent): low, a cut to 0.25 at the 2020 break, hikes in 2022–23, cuts from 2024-09."""
    t = idx.to_numpy()
    r = np.full(len(idx), 0.75)
    r[t >= np.datetime64("2020-03-01")] = 0.25
    hikes = pd.date_range("2022-03-01", "2023-08-01", freq="2MS")
    for i, d in enumerate(hikes):
        r[t >= np.datetime64(d)] = 0.25 + 4.25 * (i + 1) / len(hikes)
    for i, d in enumerate(pd.date_range("2024-09-01", "2025-09-01", freq="3MS")):
        r[t >= np.datetime64(d)] = 4.5 - 0.25 * (i + 1)
    return np.round(r, 3)


def _market(rng: np.random.Generator, cal: Calendar) -> pd.DataFrame:
    idx = cal.months(cal.market_start, cal.observe_end)
    n = len(idx)
    t = np.arange(n)
    kb = idx.get_loc(pd.Timestamp(cal.market_break))
    after = (t >= kb).astype(float)
    season = MARKET["seasonal_amplitude"] * np.cos(2 * np.pi * (idx.month.to_numpy() - 12) / 12)
    pr = policy_rate(idx)
    moves = {}
    for name, base in (("competitor_a_apr", 19.5), ("competitor_b_apr", 21.0), ("competitor_c_apr", 23.5)):
        jumps = np.cumsum(np.where(rng.random(n) < 0.06, rng.normal(0, 0.8, n), 0.0))
        moves[name] = np.round(base + 0.8 * pr + jumps, 2)
    own_jumps = np.cumsum(np.where(rng.random(n) < 0.08, rng.normal(0, 0.8, n), 0.0))
    own_apr = np.round(20.9 + 0.8 * pr + own_jumps, 2)
    gap = own_apr - np.mean(np.column_stack(list(moves.values())), axis=1)
    macro = unemployment(cal).reindex(idx).to_numpy()
    rows = []
    for seg, share in SEGMENT_SHARE.items():
        log_b = (
            np.log(MARKET["balance_start"] * share)
            + SEGMENT_GROWTH[seg] * t
            + season
            + MARKET["level_change"] * after
            + MARKET["slope_change"] * after * (t - kb)
            + rng.normal(0, 0.01, n)
        )
        bal = np.exp(log_b)
        new_acc = rng.poisson(bal / 4_000 * 0.02 * (1 + 2 * season))
        ar = np.zeros(n)
        e = rng.normal(0, 0.03, n)
        for i in range(1, n):
            ar[i] = 0.6 * ar[i - 1] + e[i]
        share_own = _sigmoid(MARKET["share_logit_intercept"] + MARKET["price_gap_pp"] * gap + ar)
        rows.append(
            pd.DataFrame(
                {
                    "month": idx,
                    "segment": seg,
                    "market_balance": np.round(bal, 0),
                    "new_accounts": new_acc.astype(np.int64),
                    "own_share": np.round(share_own, 5),
                    "own_balance": np.round(bal * share_own, 0),
                    "own_apr": own_apr,
                    **moves,
                    "policy_rate": pr,
                    "unemployment_pct": np.round(macro, 3),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


# --- assembling the world -------------------------------------------------------------------------


def _check_size(n_customers: int, random_state: int) -> None:
    if not isinstance(n_customers, int | np.integer) or isinstance(n_customers, bool) or n_customers < 1_000:
        raise ParameterError("n_customers", "an integer ≥ 1000", n_customers)
    if not isinstance(random_state, int | np.integer) or isinstance(random_state, bool) or random_state < 0:
        raise ParameterError("random_state", "a non-negative integer", random_state)


def iter_blocks(n_customers: int, random_state: int, cal: Calendar, campaigns: pd.DataFrame):
    """Yield each block's tables with global ids assigned (customers, contacts, applications in order)."""
    next_contact, next_app = 1, 1
    for k, start in enumerate(range(0, n_customers, BLOCK)):
        ids = np.arange(start + 1, min(start + BLOCK, n_customers) + 1)
        rng = np.random.default_rng(np.random.SeedSequence([random_state, k]))
        b = _block(cal, campaigns, rng, ids, next_app)
        con = b["contacts"]
        con["contact_id"] = np.arange(next_contact, next_contact + len(con), dtype=np.int64)
        apps = b["applications"]
        crow = apps.pop("_contact_row").to_numpy()
        apps.pop("_row")
        apps["contact_id"] = pd.array(np.where(crow >= 0, next_contact + crow, -1), dtype="Int64")
        apps.loc[apps["contact_id"] < 0, "contact_id"] = pd.NA
        b["uplift"].insert(0, "contact_id", con["contact_id"].to_numpy()[b["exp_contact_index"]])
        next_contact += len(con)
        next_app += b["n_apps"]
        yield b


def _truth(
    random_state, n_customers, cal, exp_sums, apps_truth_stats, channel_params, ranking
) -> dict[str, Any]:
    rates = {a: {s: exp_sums[a][s] / exp_sums[a]["n"] for s in STAGES} for a in ARMS}
    early = {a: exp_sums[a]["early_dpd30_3m_x_booking"] / exp_sums[a]["booked"] for a in ARMS}
    return {
        "schema_version": SCHEMA_VERSION,
        "random_state": random_state,
        "n_customers": n_customers,
        "calendar": {k: getattr(cal, k) for k in cal.__dataclass_fields__},
        "admission_rules": ADMISSION_RULES,
        "legacy_cutoff": LEGACY_CUTOFF,
        "special_codes": {"bureau_score": {"no_file": NO_FILE, "thin_file": THIN_FILE}},
        "scorecard": {
            "coefficients_log_hazard": DEFAULT_BETA,
            "feature_ranking": ranking,
            "note": "risk rises with positive coefficients; ranking by |beta| x sd over applications",
        },
        "hazards": {
            "default": {
                "beta": DEFAULT_BETA,
                "hazard_ratio": {k: float(np.exp(v)) for k, v in DEFAULT_BETA.items()},
                "baseline_monthly": default_baseline(48).round(6).tolist(),
                "macro": MACRO_GAMMA,
                "trap_early": TRAP_EARLY_LOG_HR,
                "onset_to_states": "30 DPD at onset, 60 at +1, 90+ at +2..+4, charge-off at +5",
            },
            "closure": {
                "beta": CLOSURE_BETA,
                "baseline_monthly": 0.012,
                "hazard_ratio": {k: float(np.exp(v)) for k, v in CLOSURE_BETA.items()},
            },
            "prepayment": {
                "beta": PREPAY_BETA,
                "baseline_monthly": 0.02,
                "hazard_ratio": {k: float(np.exp(v)) for k, v in PREPAY_BETA.items()},
            },
        },
        "experiment": {
            "id": EXPERIMENT_ID,
            "arms": ARMS,
            "control": "control",
            "trap_arm": "no_fee_high_limit",
            "n_contacts": int(exp_sums["control"]["n"]),
            "rates": rates,
            "lifts": {a: {s: rates[a][s] - rates["control"][s] for s in STAGES} for a in ARMS[1:]},
            "early_dpd30_3m": early,
            "response_log_odds_shift": ARM_RESPONSE,
            "activation_log_odds_cashback": CASHBACK_ACTIVATION,
        },
        "applications": apps_truth_stats,
        "channel_response": channel_params,
        "market": {
            **MARKET,
            "break_date": cal.market_break,
            "segment_share": SEGMENT_SHARE,
            "segment_monthly_growth": SEGMENT_GROWTH,
        },
        "macro": {
            "series": "unemployment_pct",
            "baseline": 4.5,
            "shock_date": cal.macro_shock,
            "shock_pp": 3.0,
        },
    }


class _Acc:
    """Running sums across blocks (experiment truth, applicants' true outcomes, feature spread)."""

    def __init__(self):
        self.exp = {a: {} for a in ARMS}
        self.n_apps = self.bad_all = self.n_booked = self.bad_booked = 0
        self.fsum = self.fsq = None

    def add(self, b):
        for a, d in b["experiment_sums"].items():
            for k, v in d.items():
                self.exp[a][k] = self.exp[a].get(k, 0.0) + float(v)
        ta, apps = b["truth_applications"], b["applications"]
        self.n_apps += len(ta)
        self.bad_all += int(ta["bad_12m_true"].sum())
        bk = apps["booked"].to_numpy()
        self.n_booked += int(bk.sum())
        self.bad_booked += int(ta["bad_12m_true"].to_numpy()[bk].sum())
        x = default_features(apps)
        s, q = x.sum(), (x**2).sum()
        self.fsum = s if self.fsum is None else self.fsum + s
        self.fsq = q if self.fsq is None else self.fsq + q

    def stats(self):
        return {
            "n": self.n_apps,
            "through_the_door_bad_rate": self.bad_all / max(self.n_apps, 1),
            "n_booked": self.n_booked,
            "booked_bad_rate": self.bad_booked / max(self.n_booked, 1),
            "bad_definition": "90+ DPD reached by 12 months on book",
        }

    def ranking(self):
        mean = self.fsum / self.n_apps
        sd = np.sqrt(np.maximum(self.fsq / self.n_apps - mean**2, 0))
        imp = {k: abs(DEFAULT_BETA[k]) * float(sd[k]) for k in DEFAULT_BETA}
        return sorted(imp, key=imp.get, reverse=True)


def simulate_bank(
    n_customers: int = 100_000, random_state: int = 1, calendar: Calendar | None = None
) -> BankWorld:
    """Generate the simulated bank in memory (see the module docstring). Deterministic for a random_state.

    ``n_customers`` ≥ 1000. Beyond a few million customers use :func:`write_bank`, which streams blocks to
    Parquet with bounded memory.
    """
    _check_size(n_customers, random_state)
    cal = calendar or Calendar()
    campaigns = _campaigns(cal)
    acc = _Acc()
    parts: dict[str, list[pd.DataFrame]] = {
        k: []
        for k in ("customers", "contacts", "applications", "performance", "truth_applications", "uplift")
    }
    for b in iter_blocks(n_customers, random_state, cal, campaigns):
        acc.add(b)
        for k in parts:
            parts[k].append(b[k])
    g = np.random.default_rng(np.random.SeedSequence([random_state, 10**9]))
    ch_params = _channel_params(g)
    spend = _channel_spend(g, cal, ch_params)
    market = _market(g, cal)
    cat = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
    truth = _truth(random_state, n_customers, cal, acc.exp, acc.stats(), ch_params, acc.ranking())
    return BankWorld(
        cat["customers"],
        campaigns,
        cat["contacts"],
        cat["applications"],
        cat["performance"],
        spend,
        market,
        truth,
        {"applications": cat["truth_applications"], "uplift": cat["uplift"]},
    )


def write_bank(
    out: str | Path,
    n_customers: int = 100_000,
    random_state: int = 1,
    calendar: Calendar | None = None,
    chunk_size: int = 1_000_000,
    progress=None,
) -> Path:
    """Write the simulated bank to ``out/``: one Parquet folder per table (a file per chunk), ``truth.json``
    and ``truth/`` tables. Memory is bounded by ``chunk_size`` customers. Returns ``out``.

    ``progress(done, total)`` is called after each chunk.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_size(n_customers, random_state)
    if chunk_size < BLOCK or chunk_size % BLOCK:
        raise ParameterError("chunk_size", f"a multiple of {BLOCK}", chunk_size)
    cal = calendar or Calendar()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    campaigns = _campaigns(cal)
    acc = _Acc()
    names = ("customers", "contacts", "applications", "performance")
    tnames = ("truth_applications", "uplift")
    for d in names:
        (out / d).mkdir(exist_ok=True)
        for old in (out / d).glob("*.parquet"):
            old.unlink()
    for d in tnames:
        (out / "truth" / d).mkdir(parents=True, exist_ok=True)
        for old in (out / "truth" / d).glob("*.parquet"):
            old.unlink()
    buf: dict[str, list[pd.DataFrame]] = {k: [] for k in names + tnames}
    per_chunk = chunk_size // BLOCK
    done, part = 0, 0

    def flush():
        nonlocal part
        for k, v in buf.items():
            if v:
                folder = out / k if k in names else out / "truth" / k
                pq.write_table(
                    pa.Table.from_pandas(pd.concat(v, ignore_index=True), preserve_index=False),
                    folder / f"part-{part:05d}.parquet",
                )
                v.clear()
        part += 1

    for i, b in enumerate(iter_blocks(n_customers, random_state, cal, campaigns), start=1):
        acc.add(b)
        for k in buf:
            buf[k].append(b[k])
        done += len(b["customers"])
        if i % per_chunk == 0:
            flush()
            if progress:
                progress(done, n_customers)
    if any(buf.values()):
        flush()
        if progress:
            progress(done, n_customers)
    g = np.random.default_rng(np.random.SeedSequence([random_state, 10**9]))
    ch_params = _channel_params(g)
    for name, df in (
        ("campaigns", campaigns),
        ("channel_spend", _channel_spend(g, cal, ch_params)),
        ("market", _market(g, cal)),
    ):
        (out / name).mkdir(exist_ok=True)
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), out / name / "part-00000.parquet")
    truth = _truth(random_state, n_customers, cal, acc.exp, acc.stats(), ch_params, acc.ranking())
    (out / "truth.json").write_text(json.dumps(truth, indent=2, default=_json_default))
    return out


def _json_default(o):
    if isinstance(o, np.integer | np.floating):
        return o.item()
    if isinstance(o, pd.Timestamp):
        return o.date().isoformat()
    raise TypeError(type(o))
