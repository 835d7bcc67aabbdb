"""cmlib.data.synthetic — customers (one section of the package; the package re-exports every name)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlib.data.synthetic.truth import DEFAULT_BETA
from cmlib.vocab import (
    EMPLOYMENT,
    HOUSING,
    NO_FILE,
    REGIONS,
    THIN_FILE,
)


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
