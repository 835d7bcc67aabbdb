"""cmlib.market — data sources (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.errors import DataError, ParameterError
from cmlib.market.series import select_segments

#: the largest size of a market value the models accept (a balance of 1e15 is a thousand trillion)
MAX_VALUE = 1e15


@dataclass
class MarketData:
    """The monthly market panel the market notebook analyses, the public data set's card (when the source
    is one) and the simulated ``world`` (None otherwise)."""

    name: str
    panel: pd.DataFrame
    card: dict
    world: object = None


def _user_panel(path: str, value_column: str) -> pd.DataFrame:
    """A user's market data: the whole market schema (segments, own share, competitor APRs, macro series) is
    validated as such; a table with less needs only ``month`` and ``value_column`` — size, growth, trend,
    forecast and breaks use the series alone, and the sections that need more are skipped by the notebook."""
    from cmlib.data.io import as_table, load
    from cmlib.data.schemas import TABLES
    from cmlib.validation import numbers, require_columns

    # table="market": a folder cmlib data generate wrote is read from its market/ subfolder, a DuckDB file
    # from its market table; month is parsed as a date (unreadable ones become missing)
    df = load(path, table="market", validate=False)
    name = str(path)
    if set(TABLES["market"]) <= set(df.columns):
        return as_table(df, "market")
    require_columns(df, ["month", value_column], name)
    if df["month"].isna().any():
        raise DataError.single(name, "month", "a date", int(df["month"].isna().sum()))
    x = numbers(df, value_column, name)
    twice = df["month"].duplicated(keep=False)
    if twice.any():  # two values for one month would be summed into one, quietly
        rule = "one row per month (a series without segments)"
        raise DataError.single(
            name, "month", rule, int(twice.sum()), df.loc[twice, "month"].astype(str).head(3).tolist()
        )
    bad = ~np.isfinite(x) | (x.abs() > MAX_VALUE)
    if bad.any():  # inf or 1e300 would reach the forecast's linear algebra as a solver error
        rule = f"a finite number of at most {MAX_VALUE:.0e} in size"
        raise DataError.single(
            name, value_column, rule, int(bad.sum()), df.loc[bad, value_column].head(3).tolist()
        )
    return df.assign(**{value_column: x})


def market_data(
    data_source: str,
    n_customers: int = 100_000,
    random_state: int = 1,
    value_column: str = "market_balance",
    start_month: str = "",
    end_month: str = "",
    segments: Sequence[str] = (),
) -> MarketData:
    """Load the market panel: ``"synthetic"`` (the simulated bank's market), ``"debitcards"`` (fpp2, Iceland's
    monthly debit-card use, real data; its series becomes ``value_column``) or a path (market schema); keep the
    months from ``start_month`` to ``end_month`` (ISO dates, empty = the data's ends) and ``segments``."""
    # imported here so that `import cmlib.market` does not load the simulator
    from cmlib.data import bank, load_public

    world, card = None, {}
    if data_source == "synthetic":
        world = bank(n_customers, random_state)
        panel = world.market
    elif data_source == "debitcards":
        pub = load_public("debitcards")
        card = pub.card
        panel = pub.frame.rename(columns={"debit_card_use_million_isk": value_column})
    else:
        panel = _user_panel(data_source, value_column)
    for name, v in (("start_month", start_month), ("end_month", end_month)):
        if v and pd.isna(pd.to_datetime(v, errors="coerce")):
            raise ParameterError(name, "an ISO date (YYYY-MM-DD) or empty", v)
    keep = (panel["month"] >= (start_month or panel["month"].min())) & (
        panel["month"] <= (end_month or panel["month"].max())
    )
    return MarketData(data_source, select_segments(panel[keep], segments), card, world)
