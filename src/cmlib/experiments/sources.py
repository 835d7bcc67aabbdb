"""cmlib.experiments — data sources (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from cmlib.experiments.aggregates import ArmSums, is_sums, looks_like_sums


@dataclass
class ExperimentData:
    """The contacts of one experiment, each arm's product ``terms`` and cost per contact (from the campaigns
    table; None when the source has none), the simulator's ``truth`` (None for user data).

    ``contacts`` is what every readout of this package reads: contact-level rows (pandas, with the customer's
    ``segment`` on the simulated bank), an Ibis table on Spark when ``backend="spark"`` (the rows stay in
    Spark; only per-arm sums come back), or :class:`ArmSums` when the source holds per-arm sums."""

    name: str
    contacts: Any
    truth: dict | None = None
    terms: pd.DataFrame | None = None
    backend: str = "duckdb"

    @property
    def aggregated(self) -> bool:
        """The source holds per-arm sums, not rows."""
        return is_sums(self.contacts)

    @property
    def columns(self) -> list[str]:
        """Metrics and columns a readout can use: the rows' columns, or the sums' metrics and groups."""
        c = self.contacts
        return [*c.metrics, *c.groups, c.arm] if is_sums(c) else list(c.columns)

    def has(self, *columns: str) -> bool:
        return set(columns) <= set(self.columns)

    def supports(self, metrics=(), pairs=(), by=()) -> bool:
        """Whether a readout of ``metrics`` (with the co-moments of ``pairs``, split by ``by``) can run: the
        rows have the columns, or the sums have the metrics, the cross-products and the groups."""
        c = self.contacts
        if is_sums(c):
            return c.has(*metrics) and c.has_pairs(list(pairs)) and set(by) <= set(c.groups)
        return self.has(*metrics, *(x for p in pairs for x in p), *by)

    def latest(self, column: str):
        """The last value of ``column`` (e.g. the last contact date), counted where the data are; None when the
        source has no such column."""
        c = self.contacts
        if not self.has(column):
            return None
        if is_sums(c):
            return pd.to_datetime(c.frame[column]).max()
        if isinstance(c, pd.DataFrame):
            return c[column].max()
        return c[column].max().execute()


def arm_terms(campaigns: pd.DataFrame, experiment_id: str) -> pd.DataFrame:
    """One row per arm of ``experiment_id`` (index = arm): APR (% a year), annual fee, credit limit, reward
    rate and cost per contact, read from the campaigns table."""
    from cmlib.finance import TERMS

    c = campaigns[campaigns["experiment_id"] == experiment_id].dropna(subset=["arm"])
    return c.drop_duplicates("arm").set_index("arm")[[*TERMS, "cost_per_contact"]].astype(float)


def experiment_data(
    data_source: str,
    experiment_id: str,
    n_customers: int = 100_000,
    random_state: int = 1,
    backend: str = "duckdb",
    arm: str = "arm",
) -> ExperimentData:
    """Load the contacts of ``experiment_id``: ``"synthetic"`` (the simulated bank's randomised offer test),
    a path to contact-level rows (contacts schema; ids may be whole numbers or text), a path to per-arm sums
    (:class:`ArmSums`: a table with ``n`` and ``sum_<metric>`` columns, e.g. what a warehouse query returns)
    or ``spark:<table>`` (rows in the Spark catalog). With ``backend="spark"`` the rows are aggregated in
    Spark. A column ``experiment_id`` selects the experiment where the source has one."""
    # imported here so that `import cmlib.experiments` does not load the simulator
    from cmlib import engine
    from cmlib.data import bank, load
    from cmlib.data.io import as_mapped_table
    from cmlib.errors import DataError

    engine.connect(backend)  # an unknown backend is a ParameterError before any data is read
    truth = terms = None
    if data_source == "synthetic":
        world = bank(n_customers, random_state)
        contacts = world.contacts.merge(
            world.customers[["customer_id", "segment"]], on="customer_id", how="left"
        )
        truth = world.truth
        terms = arm_terms(world.campaigns, experiment_id)
    elif str(data_source).startswith("spark:"):
        t = engine.spark_table(str(data_source).split(":", 1)[1])
        if "experiment_id" in t.columns:
            t = t.filter(t["experiment_id"] == experiment_id)
        return ExperimentData(data_source, t, None, None, "spark")
    else:
        raw = load(data_source, table="contacts", validate=False)  # a folder's or DuckDB file's contacts
        if looks_like_sums(raw.columns):
            if "experiment_id" in raw.columns:
                raw = raw[raw["experiment_id"].astype(str) == experiment_id].drop(columns="experiment_id")
            if raw.empty:
                raise DataError.single(str(data_source), "experiment_id", f"rows of {experiment_id}", 0)
            return ExperimentData(data_source, ArmSums(raw.reset_index(drop=True), arm), None, None, backend)
        # the arm column under the user's name (arm_column): validated as the schema's arm, then named back
        contacts = as_mapped_table(raw, "contacts", {"arm": arm} if arm != "arm" else None, "contacts")
        contacts = contacts.rename(columns={"arm": arm})
    others = contacts["experiment_id"].dropna().astype(str).unique()
    contacts = contacts[contacts["experiment_id"] == experiment_id]
    if contacts.empty:
        raise DataError.single(
            "contacts", "experiment_id", f"rows of experiment {experiment_id}", 0, sorted(others)[:5]
        )
    if backend != "duckdb":  # registered once: every readout then aggregates in that engine
        contacts = engine.table(contacts, backend)
    return ExperimentData(data_source, contacts, truth, terms, backend)
