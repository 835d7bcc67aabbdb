"""cmlib.optimize — channel economics (one section of the package; the package re-exports every name)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlib import engine
from cmlib.base import TableResult
from cmlib.errors import DataError
from cmlib.validation import require_columns


def channel_funnel(contacts, campaigns: pd.DataFrame, backend: str = "duckdb") -> pd.DataFrame:
    """Per channel: spend (cost per contact × contacts + each campaign's fixed cost), contacts, responses,
    approvals and bookings — counted by :mod:`cmlib.engine` per campaign, so ``contacts`` may be a table
    of any size."""
    require_columns(campaigns, ["campaign_id", "channel", "cost_per_contact", "fixed_cost"], "campaigns")
    counts = engine.funnel_counts(
        contacts, ["responded", "approved", "booked"], by=["campaign_id"], backend=backend
    )
    m = counts.merge(
        campaigns[["campaign_id", "channel", "cost_per_contact", "fixed_cost"]],
        on="campaign_id",
        how="left",
        validate="one_to_one",
    )
    if m["channel"].isna().any():
        raise DataError.single(
            "contacts", "campaign_id", "a campaign listed in campaigns", int(m["channel"].isna().sum())
        )
    m["spend"] = m["n"] * m["cost_per_contact"] + m["fixed_cost"]
    out = m.groupby("channel", sort=True).agg(
        spend=("spend", "sum"),
        contacts=("n", "sum"),
        responses=("n_responded", "sum"),
        approvals=("n_approved", "sum"),
        bookings=("n_booked", "sum"),
    )
    return out.reset_index()


def channel_economics(
    funnel: pd.DataFrame,
    expected_bad_rate: pd.Series | float,
    npv_per_good: float | None = None,
    loss_per_bad: float | None = None,
    value_per_booking: pd.Series | float | None = None,
) -> TableResult:
    """Per channel, from a funnel table with columns ``channel``, ``spend``, ``contacts``, ``responses``,
    ``approvals``, ``bookings``: rates named by their denominators (responses per contact, approvals per
    response, bookings per approval), the expected ``bad_rate_12m`` (90+ DPD within 12 months), cost per
    acquisition (spend / bookings), cost per good account
    (spend / expected good bookings, goods = bookings × (1 − bad rate)), and NPV per unit spent =
    (bookings · ``value_per_booking`` − spend) / spend when the value of a booking (net of its expected loss,
    per channel or one number) is given — the account-value model's — else
    (goods · npv_per_good − bads · loss_per_bad − spend) / spend."""
    if value_per_booking is None and (npv_per_good is None or loss_per_bad is None):
        from cmlib.errors import ParameterError

        raise ParameterError(
            "value_per_booking", "a value per booking, or npv_per_good and loss_per_bad", None
        )
    need = ["channel", "spend", "contacts", "responses", "approvals", "bookings"]
    require_columns(funnel, need, "channel funnel")
    f = funnel.set_index("channel")
    bad = (
        expected_bad_rate.reindex(f.index)
        if isinstance(expected_bad_rate, pd.Series)
        else pd.Series(float(expected_bad_rate), index=f.index)
    )
    out = pd.DataFrame(index=f.index)
    out["spend"] = f["spend"]
    out["cost_per_contact"] = f["spend"] / f["contacts"]
    # each rate names its denominator: the same words mean other shares in other reports
    out["responses_per_contact"] = f["responses"] / f["contacts"]
    out["approvals_per_response"] = f["approvals"] / f["responses"]
    out["bookings_per_approval"] = f["bookings"] / f["approvals"]
    out["bookings"] = f["bookings"]
    out["bad_rate_12m"] = bad  # the scorecard's definition: 90+ days past due within 12 months on book
    goods = f["bookings"] * (1 - bad)
    out["cost_per_acquisition"] = f["spend"] / f["bookings"]
    out["cost_per_good_account"] = f["spend"] / goods
    if value_per_booking is not None:
        vpb = (
            value_per_booking.reindex(f.index)
            if isinstance(value_per_booking, pd.Series)
            else pd.Series(float(value_per_booking), index=f.index)
        )
        out["value_per_booking"] = vpb
        out["npv_per_unit_spent"] = (f["bookings"] * vpb - f["spend"]) / f["spend"]
    else:
        value = goods * npv_per_good - f["bookings"] * bad * loss_per_bad
        out["npv_per_unit_spent"] = (value - f["spend"]) / f["spend"]
    return TableResult(out.replace([np.inf, -np.inf], np.nan))


def weekly_economics(
    weekly: pd.DataFrame, value_per_booking: pd.Series | float, by: str = "channel"
) -> TableResult:
    """Per channel from a weekly spend table alone (``channel``, ``spend``, ``bookings``; one row per week and
    channel): ``weeks``, total ``spend`` and ``bookings`` over them, ``weekly_spend`` (mean a week),
    ``cost_per_acquisition`` (spend / bookings), ``value_per_booking`` (one number, or per channel) and
    ``npv_per_unit_spent`` = (bookings · value − spend) / spend, the same return :func:`channel_economics`
    computes from contacts — without the funnel's rates or a bad rate, which a spend table does not hold."""
    require_columns(weekly, [by, "spend", "bookings"], "channel_spend")
    g = weekly.groupby(by, sort=True)
    out = pd.DataFrame({"weeks": g.size(), "spend": g["spend"].sum(), "bookings": g["bookings"].sum()})
    out.index.name = "channel"
    out["weekly_spend"] = out["spend"] / out["weeks"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["cost_per_acquisition"] = out["spend"] / out["bookings"].where(out["bookings"] > 0)
        vpb = (
            value_per_booking.reindex(out.index)
            if isinstance(value_per_booking, pd.Series)
            else pd.Series(float(value_per_booking), index=out.index)
        )
        out["value_per_booking"] = vpb
        out["npv_per_unit_spent"] = (out["bookings"] * vpb - out["spend"]) / out["spend"].where(
            out["spend"] > 0
        )
    return TableResult(out)


def spend_value_per_booking(
    weekly: pd.DataFrame,
    discounted_margin: float,
    bad_rate: float,
    exposure_at_default: float,
    lgd: float | None = None,
) -> tuple[pd.Series, str]:
    """Value of a booked account per channel for a weekly spend table alone, and how it was set: the
    bookings-weighted mean of the table's ``value_per_booking`` when it has one, else the stated flat
    economics for every channel: ``discounted_margin`` − ``bad_rate`` × ``exposure_at_default`` × ``lgd``
    (the account-value fallback; money in the table's currency)."""
    from cmlib.finance import DEFAULT_LGD

    require_columns(weekly, ["channel", "bookings"], "channel_spend")
    channels = sorted(weekly["channel"].unique())
    if "value_per_booking" in weekly:
        w = weekly.assign(_v=weekly["value_per_booking"] * weekly["bookings"]).groupby("channel")
        v = (w["_v"].sum() / w["bookings"].sum().where(w["bookings"].sum() > 0)).reindex(channels)
        return v.rename("value_per_booking"), "the table's value per booking, weighted by bookings"
    lgd = DEFAULT_LGD if lgd is None else lgd
    flat = float(discounted_margin) - float(bad_rate) * float(exposure_at_default) * float(lgd)
    how = (
        f"flat economics: margin {discounted_margin:,.0f} − bad rate {bad_rate:.1%} × exposure "
        f"{exposure_at_default:,.0f} × LGD {lgd:.0%}"
    )
    return pd.Series(flat, index=pd.Index(channels, name="channel"), name="value_per_booking"), how


def losing_channels(economics: pd.DataFrame, weekly_spend: pd.Series) -> pd.Series:
    """The channels that lose money at today's spend: their weekly value net of spend (negative), most
    negative first. A channel loses when its average return per unit spent (``npv_per_unit_spent`` of
    :func:`channel_economics`, credit losses counted) is below zero; the weekly figure is that return times
    the channel's weekly spend (money a week, the spend's currency). Empty when no channel loses."""
    require_columns(economics.reset_index(), ["npv_per_unit_spent"], "channel economics")
    r = economics["npv_per_unit_spent"]
    r = r[r < 0]
    return (r * pd.Series(weekly_spend).reindex(r.index)).dropna().sort_values().rename("net_value_per_week")


def reconcile_cost_per_booking(
    funnel: pd.DataFrame, weekly: pd.DataFrame, alpha: float = 0.05
) -> TableResult:
    """Cost per booking by channel from the contact funnel (:func:`channel_funnel`) against the weekly
    spend table the response curves are fitted on (``channel``, ``spend``, ``bookings``): both should describe
    one bank. Returns per channel both costs, their ratio (weekly / funnel) with a 1 − ``alpha`` interval
    treating both booking counts as Poisson (log ratio ± z·√(1/B₁ + 1/B₂)), and ``agrees`` when the interval
    holds 1. A channel that disagrees means the budget allocation and the channel economics price different
    banks."""
    from scipy.stats import norm

    require_columns(funnel, ["channel", "spend", "bookings"], "channel funnel")
    require_columns(weekly, ["channel", "spend", "bookings"], "channel_spend")
    f = funnel.set_index("channel")[["spend", "bookings"]]
    w = weekly.groupby("channel")[["spend", "bookings"]].sum().reindex(f.index)
    out = pd.DataFrame(index=f.index)
    out["funnel_cost_per_booking"] = f["spend"] / f["bookings"]
    out["weekly_cost_per_booking"] = w["spend"] / w["bookings"]
    out["ratio"] = out["weekly_cost_per_booking"] / out["funnel_cost_per_booking"]
    half = norm.ppf(1 - alpha / 2) * np.sqrt(1 / f["bookings"] + 1 / w["bookings"])
    out["ratio_ci_low"] = out["ratio"] * np.exp(-half)
    out["ratio_ci_high"] = out["ratio"] * np.exp(half)
    out["agrees"] = (out["ratio_ci_low"] <= 1) & (out["ratio_ci_high"] >= 1)
    return TableResult(out.replace([np.inf, -np.inf], np.nan))
