"""cmlib.monitoring — plan–do–check–act: next week's forecast, written for the next run, and last week's
forecast against what happened.

The forecast of a campaign and channel for a week: the plan's contacts for that week × the response rate of
the ``history_weeks`` before it × their bookings per response; spend is the plan's. Each run writes its
forecast of the following week (:func:`forecast_document`); the next run reads it from the last good run and
explains the miss (:func:`forecast_variance`): how much came from the contacts sent, from the response rate
and from bookings per response (an exact decomposition, :func:`~cmlib.monitoring.kpis.decompose`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlib.artefacts import artefact_document, check_artefact
from cmlib.monitoring.kpis import decompose

FORECAST_KIND, FORECAST_VERSION = "monitoring_forecast", 1
CELL = ["campaign", "channel"]
FACTORS = ["contacts", "response_rate", "bookings_per_response"]


def weekly_forecast(
    weekly: pd.DataFrame, plan: pd.DataFrame, week, history_weeks: int = 8, since: dict | None = None
) -> pd.DataFrame:
    """Per campaign and channel planned for ``week``: contacts (the plan's), response rate and bookings per
    response (pooled over the ``history_weeks`` weeks before ``week``), expected responses and bookings, and
    the plan's spend. ``weekly`` from :func:`~cmlib.monitoring.kpis.weekly_funnel`. ``since``: {channel: the
    start week of a shift an alarm dated} — that channel's rates come only from the weeks since, so a standing
    drop is not averaged with the weeks before it."""
    week = pd.Timestamp(week)
    base = week - pd.Timedelta(weeks=history_weeks)
    start = pd.Series(base, index=weekly.index)
    for ch, wk in (since or {}).items():
        if base < pd.Timestamp(wk) < week:  # a shift that began within the window, before the forecast week
            start[weekly["channel"] == ch] = pd.Timestamp(wk)
    hist = weekly[(weekly["week"] < week) & (weekly["week"] >= start)]
    h = hist.groupby(CELL, observed=True)[["contacts", "responded", "booked"]].sum()
    p = plan[pd.to_datetime(plan["week"]) == week].set_index(CELL)
    f = pd.DataFrame(index=p.index)
    f["contacts"] = p["contacts"].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        f["response_rate"] = (h["responded"] / h["contacts"]).reindex(f.index)
        f["bookings_per_response"] = (h["booked"] / h["responded"]).reindex(f.index)
    f["responses"] = f["contacts"] * f["response_rate"]
    f["bookings"] = f["responses"] * f["bookings_per_response"]
    f["spend"] = p["spend"].astype(float)
    return f


def forecast_document(as_of, forecast_week, forecast: pd.DataFrame) -> dict:
    """The artefact a run writes for the next: its week, the week forecast and the forecast per cell."""
    cells = forecast.reset_index().replace({np.nan: None}).to_dict(orient="records")
    return artefact_document(
        FORECAST_KIND,
        FORECAST_VERSION,
        as_of_week=pd.Timestamp(as_of).date().isoformat(),
        forecast_week=pd.Timestamp(forecast_week).date().isoformat(),
        cells=cells,
    )


def read_forecast(doc: dict) -> tuple[pd.Timestamp, pd.DataFrame]:
    """(forecast week, forecast per cell) from a checked artefact document."""
    d = check_artefact(doc, FORECAST_KIND, FORECAST_VERSION, ["forecast_week", "cells"])
    f = pd.DataFrame(d["cells"])
    return pd.Timestamp(d["forecast_week"]), f.set_index(CELL)


def forecast_variance(forecast: pd.DataFrame, actual: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast against what happened in the forecast week: per cell the forecast and actual bookings and
    their difference; for the whole week, the difference split into contacts sent, response rate and bookings
    per response (exact: the contributions add up to actual − forecast). ``actual``: that week's rows of
    :func:`~cmlib.monitoring.kpis.weekly_funnel`. Returns (per cell, decomposition of the total)."""
    a = actual.groupby(CELL, observed=True)[["contacts", "responded", "booked"]].sum()
    cells = pd.DataFrame(
        {
            "forecast_bookings": forecast["bookings"],
            "actual_bookings": a["booked"].reindex(forecast.index).fillna(0),
            "forecast_contacts": forecast["contacts"],
            "actual_contacts": a["contacts"].reindex(forecast.index).fillna(0),
        }
    )
    cells["difference"] = cells["actual_bookings"] - cells["forecast_bookings"]
    f_resp = float((forecast["contacts"] * forecast["response_rate"]).sum())
    before = {
        "contacts": float(forecast["contacts"].sum()),
        "response_rate": f_resp / float(forecast["contacts"].sum()),
        "bookings_per_response": float(forecast["bookings"].sum()) / f_resp,
    }
    after = {
        "contacts": float(a["contacts"].sum()),
        "response_rate": float(a["responded"].sum()) / float(a["contacts"].sum()),
        "bookings_per_response": float(a["booked"].sum()) / float(a["responded"].sum()),
    }
    return cells, decompose(before, after, FACTORS).summary


def previous_forecast(
    artefact,
    weekly: pd.DataFrame,
    plan: pd.DataFrame,
    week,
    history_weeks: int = 8,
    since: dict | None = None,
    on_unreadable=None,
):
    """Last week's forecast of ``week``: the one the last good run wrote (``artefact``: a path or None) when it
    forecast this week, else the same forecast recomputed from the data before ``week`` (what that run would
    have written). Returns (forecast per cell, where it came from). ``on_unreadable(reason)`` is called when
    the artefact exists but cannot be read (the report's fallback line, so the console and index show it)."""
    from cmlib.artefacts import read_artefact
    from cmlib.errors import ArtefactError

    week = pd.Timestamp(week)
    why = "no earlier run's forecast found"
    if artefact is not None:
        try:
            fw, f = read_forecast(read_artefact(artefact, FORECAST_KIND, FORECAST_VERSION))
            if fw == week:
                from pathlib import Path

                run = Path(artefact).resolve().parent.parent.name  # <run>/artefacts/<file>
                return f, f"the forecast written by the last good run ({run})"
            why = f"the last good run forecast the week of {fw.date()}, not this one"
        except ArtefactError as exc:
            why = f"the last good run's forecast could not be read ({exc})"
            if on_unreadable is not None:
                on_unreadable(f"{why}; recomputed from the data before this week")
    return weekly_forecast(
        weekly, plan, week, history_weeks
    ), f"recomputed from the data before this week ({why})"
