"""cmlib.monitoring — data sources: the simulated bank's monitoring feed or the user's own weekly tables."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

#: what the compliance monitors read of each customer
CUSTOMER_COLUMNS = ["customer_id", "segment", "protected_group", "do_not_contact"]


@dataclass
class MonitoringData:
    """The tables notebook 06 reads: ``contacts`` (one row per contact, funnel flags), ``plan`` (weekly
    targets per campaign and channel), ``complaints``, ``survey``, ``cells`` (each campaign and channel's terms
    and costs), ``customers`` (permissions, do-not-contact, segment, protected group) and the simulator's
    ``truth`` (None for user data)."""

    contacts: pd.DataFrame
    plan: pd.DataFrame
    complaints: pd.DataFrame
    survey: pd.DataFrame
    cells: pd.DataFrame
    customers: pd.DataFrame
    truth: dict | None = None


def monitoring_data(
    data_source: str, n_customers: int = 100_000, random_state: int = 1, columns: dict | None = None
) -> MonitoringData:
    """``"synthetic"``: the simulated bank's monitoring feed, drawn for its customers; a folder written by
    ``cmlib data generate`` or laid out the same way (``monitoring_contacts/``, ``monitoring_plan/``,
    ``complaints/``, ``survey/``, ``monitoring_campaigns/``, ``customers/``, each a folder of Parquet files); a
    DuckDB file with those tables; or ``spark:<database>``, whose tables have those names.
    Every table is validated. ``columns`` maps the contacts table's roles (the monitoring_contacts columns)
    to the user's own column names."""
    from cmlib.data import bank, load, validate
    from cmlib.data.io import as_mapped_table
    from cmlib.data.synthetic import MONITORING_TABLES, simulate_monitoring
    from cmlib.vocab import CHANNEL_PERMISSION

    perms = sorted({p for p in CHANNEL_PERMISSION.values() if p})
    if data_source == "synthetic":
        world = bank(n_customers, random_state)
        mon = cached_monitoring(n_customers, random_state) or simulate_monitoring(
            world.customers, random_state
        )
        return MonitoringData(
            mon.contacts,
            mon.plan,
            mon.complaints,
            mon.survey,
            mon.campaigns,
            world.customers[[*CUSTOMER_COLUMNS, *perms]],
            mon.truth,
        )
    from pathlib import Path

    from cmlib.data.io import DUCKDB_SUFFIXES
    from cmlib.errors import ParameterError

    p = Path(str(data_source))
    if p.is_file() and p.suffix not in DUCKDB_SUFFIXES:  # one table cannot hold the feed's six
        expected = (
            "a folder of the feed's tables (monitoring_contacts/, monitoring_plan/, …) or a DuckDB file"
        )
        raise ParameterError("data_source", expected, str(data_source))
    database = str(data_source).startswith("spark:")  # a Spark database: its tables carry the tables' names

    def read(table: str, validate: bool = True) -> pd.DataFrame:
        return load(f"{data_source}.{table}" if database else data_source, table=table, validate=validate)

    t = {k: read(v) for k, v in MONITORING_TABLES.items() if k != "contacts"}
    t["contacts"] = as_mapped_table(
        read("monitoring_contacts", validate=False), "monitoring_contacts", columns, "monitoring_contacts"
    )
    customers = read("customers", validate=False)
    validate(customers, "contact_rules")
    return MonitoringData(
        t["contacts"],
        t["plan"],
        t["complaints"],
        t["survey"],
        t["campaigns"],
        customers[[*CUSTOMER_COLUMNS, *perms]],
    )


def cached_monitoring(n_customers: int, random_state: int):
    """The monitoring feed of a cached bank (written with it by ``cmlib run``), or None: the same tables and
    truth as :func:`~cmlib.data.synthetic.simulate_monitoring` on the bank's customers (tested)."""
    import json

    from cmlib.data.cache import cache_path, is_complete
    from cmlib.data.synthetic import MONITORING_TABLES, MONITORING_TRUTH, MonitoringWorld

    path = cache_path(n_customers, random_state)
    if not (is_complete(path) and (path / MONITORING_TRUTH).is_file()):
        return None
    tables = {k: pd.read_parquet(path / v) for k, v in MONITORING_TABLES.items()}
    return MonitoringWorld(**tables, truth=json.loads((path / MONITORING_TRUTH).read_text()))
