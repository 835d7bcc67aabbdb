"""Pandera schemas for every table of the simulated bank and for user data of the same kind.

A table is described once, as plain column specs (:class:`Col`), from which the pandera schema is built;
``data/README.md`` documents the same columns for people. :func:`validate` collects every failure
(pandera's lazy mode) and raises one :class:`~cmlib.errors.DataError` naming the table, each failing
column, the rule and the number of offending rows, with a few example values.

Extra columns are allowed (user data often carry more); dtypes are checked by content, not by pandas
dtype name, so a CSV read with object columns or nullable dtypes validates the same as Parquet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from cmlib import vocab as syn
from cmlib.errors import DataError
from cmlib.validation import check_binary, require_columns  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class Col:
    """One column: kind (int, float, bool, str, date, or id: a key stored as whole numbers or as text),
    nullability, range, allowed values, uniqueness."""

    kind: str
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    isin: tuple | None = None
    unique: bool = False
    doc: str = ""


def _kind_check(kind: str) -> pa.Check:
    def numeric(s: pd.Series) -> pd.Series:
        if pd.api.types.is_bool_dtype(s):
            return pd.Series(False, index=s.index)
        return pd.to_numeric(s, errors="coerce").notna() | s.isna()

    def integer(s: pd.Series) -> pd.Series:
        if pd.api.types.is_bool_dtype(s):
            return pd.Series(False, index=s.index)
        v = pd.to_numeric(s, errors="coerce")
        return (v.notna() & (v.astype("float64") % 1 == 0)) | s.isna()

    def boolean(s: pd.Series) -> pd.Series:
        if pd.api.types.is_bool_dtype(s):
            return pd.Series(True, index=s.index)
        return s.isna() | s.isin([0, 1, True, False])

    def string(s: pd.Series) -> pd.Series:
        if pd.api.types.is_string_dtype(s) and not pd.api.types.is_object_dtype(s):
            return pd.Series(True, index=s.index)
        return s.isna() | s.map(lambda v: isinstance(v, str))

    def date(s: pd.Series) -> pd.Series:
        if pd.api.types.is_datetime64_any_dtype(s):
            return pd.Series(True, index=s.index)
        return pd.to_datetime(s, errors="coerce").notna() | s.isna()

    def identifier(s: pd.Series) -> pd.Series:
        # a key as warehouses store them: whole numbers or text ("C-00123"); never blank text or a fraction
        if pd.api.types.is_integer_dtype(s):
            return pd.Series(True, index=s.index)
        return s.isna() | s.map(
            lambda v: (
                (isinstance(v, str) and v.strip() != "")
                or (isinstance(v, int | np.integer) and not isinstance(v, bool))
                or (isinstance(v, float | np.floating) and float(v).is_integer())
            )
        )

    fn = {"float": numeric, "int": integer, "bool": boolean, "str": string, "date": date, "id": identifier}[
        kind
    ]
    return pa.Check(fn, error=f"type {kind}", name=f"type_{kind}")


def _column(name: str, c: Col) -> pa.Column:
    checks = [_kind_check(c.kind)]
    if c.min is not None:
        checks.append(
            pa.Check(
                lambda s, lo=c.min: pd.to_numeric(s, errors="coerce").ge(lo) | s.isna(),
                error=f">= {c.min}",
                name=f"min_{c.min}",
            )
        )
    if c.max is not None:
        checks.append(
            pa.Check(
                lambda s, hi=c.max: pd.to_numeric(s, errors="coerce").le(hi) | s.isna(),
                error=f"<= {c.max}",
                name=f"max_{c.max}",
            )
        )
    if c.isin is not None:
        checks.append(
            pa.Check(
                lambda s, vals=c.isin: s.isin(vals) | s.isna(),
                error=f"in {list(c.isin)}",
                name="allowed_values",
            )
        )
    return pa.Column(checks=checks, nullable=c.nullable, unique=c.unique, required=True, name=name)


B = syn.NO_FILE
TABLES: dict[str, dict[str, Col]] = {
    "customers": {
        "customer_id": Col("int", unique=True, min=1, doc="customer key"),
        "age": Col("int", min=18, max=120, doc="years"),
        "income": Col("float", nullable=True, min=0, doc="annual gross income; missing = not stated"),
        "employment_type": Col("str", isin=tuple(syn.EMPLOYMENT)),
        "employment_years": Col(
            "float", nullable=True, min=0, doc="years with employer; missing if not employed"
        ),
        "housing": Col("str", isin=tuple(syn.HOUSING)),
        "dti": Col("float", min=0, max=5, doc="debt-to-income, fraction"),
        "bureau_score": Col(
            "int", min=300, max=B, doc=f"300-850; {syn.NO_FILE} = no file, {syn.THIN_FILE} = thin"
        ),
        "inquiries_6m": Col("int", min=0),
        "utilisation": Col("float", nullable=True, min=0, max=5, doc="revolving utilisation, fraction"),
        "existing_relationship": Col("bool"),
        "tenure_with_bank_months": Col("int", min=0),
        "region": Col("str"),
        "segment": Col("str"),
        "protected_group": Col("str", doc="for fair-lending checks only; never a model input"),
        "perm_email": Col("bool"),
        "perm_sms": Col("bool"),
        "perm_phone": Col("bool"),
        "perm_mail": Col("bool"),
        "do_not_contact": Col("bool"),
        "do_not_lend": Col("bool"),
        "pre_spend_monthly": Col("float", min=0),
    },
    "campaigns": {
        "campaign_id": Col("int", unique=True),
        "experiment_id": Col("str", nullable=True),
        "arm": Col("str", nullable=True),
        "channel": Col("str", isin=tuple(syn.CHANNELS)),
        "product": Col("str", isin=("card", "loan")),
        "start_date": Col("date"),
        "end_date": Col("date"),
        "cost_per_contact": Col("float", min=0),
        "fixed_cost": Col("float", min=0),
        "apr": Col("float", min=0, max=100, doc="percent a year"),
        "annual_fee": Col("float", min=0),
        "credit_limit": Col("float", min=0),
        "reward_rate": Col("float", min=0, max=1),
    },
    "contacts": {
        "contact_id": Col("id", unique=True),
        "customer_id": Col("id"),
        "campaign_id": Col("id"),
        "experiment_id": Col("str", nullable=True),
        "arm": Col("str", nullable=True),
        "channel": Col("str"),
        "contact_date": Col("date"),
        "pre_spend_90d": Col("float", min=0),
        "responded": Col("bool"),
        "applied": Col("bool"),
        "approved": Col("bool"),
        "booked": Col("bool"),
        "activated": Col("bool"),
        "spend_90d": Col("float", min=0),
        "early_dpd30_3m": Col("float", nullable=True, isin=(0.0, 1.0)),
        "application_id": Col("int", nullable=True),
    },
    "applications": {
        "application_id": Col("int", unique=True),
        "customer_id": Col("int"),
        "contact_id": Col("int", nullable=True),
        "campaign_id": Col("int", nullable=True),
        "channel": Col("str"),
        "product": Col("str", isin=("card", "loan")),
        "application_date": Col("date"),
        "age": Col("int", min=18, max=120),
        "income": Col("float", nullable=True, min=0),
        "employment_type": Col("str"),
        "employment_years": Col("float", nullable=True, min=0),
        "housing": Col("str"),
        "dti": Col("float", min=0, max=5),
        "bureau_score": Col("int", min=300, max=B),
        "inquiries_6m": Col("int", min=0),
        "utilisation": Col("float", nullable=True, min=0, max=5),
        "existing_relationship": Col("bool"),
        "region": Col("str"),
        "segment": Col("str"),
        "protected_group": Col("str"),
        "bank_score": Col("int"),
        "decision": Col("str", isin=("approved", "declined")),
        "decline_reason": Col("str", nullable=True),
        "booked": Col("bool"),
        "bad_12m": Col("float", nullable=True, isin=(0.0, 1.0)),
        "apr": Col("float", min=0, max=100),
        "credit_limit": Col("float", min=0),
        "annual_fee": Col("float", min=0),
        "reward_rate": Col("float", min=0, max=1),
    },
    "performance": {
        "account_id": Col("int"),
        "customer_id": Col("int"),
        "month": Col("date"),
        "mob": Col("int", min=1),
        "product": Col("str"),
        "state": Col("str", isin=tuple(syn.STATES)),
        "dpd": Col("int", min=0),
        "balance": Col("float", min=0),
        "spend": Col("float", min=0),
        "margin": Col("float"),
        "credit_limit": Col("float", min=0),
    },
    "channel_spend": {
        "week_start": Col("date"),
        "channel": Col("str"),
        "spend": Col("float", min=0),
        "bookings": Col("int", min=0),
    },
    "market": {
        "month": Col("date"),
        "segment": Col("str"),
        "market_balance": Col("float", min=0),
        "new_accounts": Col("int", min=0),
        "own_share": Col("float", min=0, max=1),
        "own_balance": Col("float", min=0),
        "own_apr": Col("float", min=0, max=100),
        "competitor_a_apr": Col("float", min=0, max=100),
        "competitor_b_apr": Col("float", min=0, max=100),
        "competitor_c_apr": Col("float", min=0, max=100),
        "policy_rate": Col("float", min=-5, max=100),
        "unemployment_pct": Col("float", min=0, max=100),
    },
    "retention_test": {
        "account_id": Col("int"),
        "test_month": Col("date"),
        "arm": Col("str", isin=("call", "no_call")),
        "call_cost": Col("float", min=0),
    },
    # the weekly campaign-monitoring feed (notebook 06); contact_rules: what it reads of the customers table
    "contact_rules": {
        "customer_id": Col("int", unique=True),
        "segment": Col("str", nullable=True),
        "protected_group": Col("str", nullable=True),
        "do_not_contact": Col("bool"),
        **{p: Col("bool") for p in sorted({p for p in syn.CHANNEL_PERMISSION.values() if p})},
    },
    "monitoring_campaigns": {
        "campaign": Col("str"),
        "channel": Col("str", isin=tuple(syn.CHANNELS)),
        "apr_advertised": Col("float", min=0, max=100),
        "apr_max_disclosed": Col("float", min=0, max=100),
        "cost_per_contact": Col("float", min=0),
        "fixed_weekly_cost": Col("float", min=0),
    },
    "monitoring_plan": {
        "week": Col("date"),
        "campaign": Col("str"),
        "channel": Col("str", isin=tuple(syn.CHANNELS)),
        "contacts": Col("float", min=0),
        "responses": Col("float", min=0),
        "bookings": Col("float", min=0),
        "spend": Col("float", min=0),
    },
    "monitoring_contacts": {
        "contact_id": Col("int", unique=True),
        "week": Col("date"),
        "campaign": Col("str"),
        "channel": Col("str", isin=tuple(syn.CHANNELS)),
        "customer_id": Col("int"),
        "responded": Col("bool"),
        "applied": Col("bool"),
        "approved": Col("bool"),
        "booked": Col("bool"),
        "activated": Col("bool"),
        "spend_90d": Col("float", nullable=True, min=0),
        "early_dpd30": Col("bool", nullable=True),
        "apr_charged": Col("float", nullable=True, min=0, max=100),
        "cost": Col("float", min=0),
    },
    "complaints": {
        "complaint_id": Col("int", unique=True),
        "date": Col("date"),
        "customer_id": Col("int"),
        "campaign": Col("str"),
        "channel": Col("str", isin=tuple(syn.CHANNELS)),
        "reason": Col("str", isin=tuple(syn.COMPLAINT_REASONS)),
        "days_to_resolve": Col("float", nullable=True, min=0),
    },
    "survey": {
        "response_id": Col("int", unique=True),
        "week": Col("date"),
        "customer_id": Col("int"),
        "campaign": Col("str"),
        "channel": Col("str", isin=tuple(syn.CHANNELS)),
        "segment": Col("str"),
        "score": Col("int", min=0, max=10),
    },
}
#: columns whose combination must be unique (a panel has one row per account and month)
KEYS = {
    "retention_test": ["account_id"],
    "performance": ["account_id", "month"],
    "channel_spend": ["week_start", "channel"],
    "market": ["month", "segment"],
    "monitoring_campaigns": ["campaign", "channel"],
    "monitoring_plan": ["week", "campaign", "channel"],
}


def schema(table: str) -> pa.DataFrameSchema:
    """The pandera schema of ``table`` (one of :data:`TABLES`)."""
    if table not in TABLES:
        from cmlib.errors import ParameterError

        raise ParameterError("table", f"one of {sorted(TABLES)}", table)
    cols = {n: _column(n, c) for n, c in TABLES[table].items()}
    return pa.DataFrameSchema(cols, strict=False, unique=KEYS.get(table), name=table)


def _failures(err: SchemaErrors, df: pd.DataFrame) -> list[dict]:
    fc = err.failure_cases
    out = []
    for (col, check), g in fc.groupby([fc["column"].fillna(""), fc["check"].astype(str)], sort=False):
        if check == "column_in_dataframe":
            for missing in g["failure_case"]:
                out.append(
                    {
                        "column": str(missing),
                        "rule": "required column is missing",
                        "n_rows": len(df),
                        "examples": [],
                    }
                )
            continue
        if check == "multiple_fields_uniqueness" or not col:
            n = int(g["index"].nunique()) if g["index"].notna().any() else len(g)
            out.append(
                {
                    "column": "+".join(KEYS.get(err.schema.name, [])) or col,
                    "rule": "unique key",
                    "n_rows": n,
                    "examples": [],
                }
            )
            continue
        rule = {"not_nullable": "not null", "field_uniqueness": "unique"}.get(check, check)
        rule = rule.replace("type_", "type ").replace("allowed_values", "allowed values")
        n = int(g["index"].nunique()) if g["index"].notna().any() else len(g)
        ex = [v.item() if isinstance(v, np.generic) else v for v in g["failure_case"].head(3).tolist()]
        out.append({"column": col, "rule": rule, "n_rows": n, "examples": ex})
    return out


def validate(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Check ``df`` against the schema of ``table``; return it unchanged, or raise one DataError listing
    every failing column with its rule and offending-row count. An empty table is an error."""
    if len(df) == 0:
        raise DataError.single(table, "*", "table is not empty", 0)
    try:
        schema(table).validate(df, lazy=True)
    except SchemaErrors as err:
        raise DataError(table, _failures(err, df)) from None
    return df
