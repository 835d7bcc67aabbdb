"""cmlib.experiments — data sources (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass
class ExperimentData:
    """The contacts of one experiment (with the customer's ``segment`` on the simulated bank), each arm's
    product ``terms`` and cost per contact (from the campaigns table; None when the source has none), the
    simulator's ``truth`` (None for user data)."""

    name: str
    contacts: pd.DataFrame
    truth: dict | None = None
    terms: pd.DataFrame | None = None


def arm_terms(campaigns: pd.DataFrame, experiment_id: str) -> pd.DataFrame:
    """One row per arm of ``experiment_id`` (index = arm): APR (% a year), annual fee, credit limit, reward
    rate and cost per contact, read from the campaigns table."""
    from cmlib.finance import TERMS

    c = campaigns[campaigns["experiment_id"] == experiment_id].dropna(subset=["arm"])
    return c.drop_duplicates("arm").set_index("arm")[[*TERMS, "cost_per_contact"]].astype(float)


def experiment_data(
    data_source: str, experiment_id: str, n_customers: int = 100_000, random_state: int = 1
) -> ExperimentData:
    """Load the contacts of ``experiment_id``: ``"synthetic"`` (the simulated bank's randomised offer test) or
    a path to contact-level data (contacts schema)."""
    # imported here so that `import cmlib.experiments` does not load the simulator
    from cmlib.data import bank, load

    truth = terms = None
    if data_source == "synthetic":
        world = bank(n_customers, random_state)
        contacts = world.contacts.merge(
            world.customers[["customer_id", "segment"]], on="customer_id", how="left"
        )
        truth = world.truth
        terms = arm_terms(world.campaigns, experiment_id)
    else:
        contacts = load(data_source, table="contacts")
    return ExperimentData(data_source, contacts[contacts["experiment_id"] == experiment_id], truth, terms)
