"""cmlib.optimize — data sources (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass

#: the customer features the uplift models use (numeric, known before the contact)
UPLIFT_FEATURES = [
    "age",
    "income",
    "employment_years",
    "dti",
    "bureau_score",
    "inquiries_6m",
    "utilisation",
    "existing_relationship",
    "tenure_with_bank_months",
    "pre_spend_monthly",
]

#: the bank's tables cost optimisation reads
TABLES = ("customers", "campaigns", "contacts", "applications", "channel_spend")


@dataclass
class OptimisationData:
    """The tables cost optimisation reads (``tables[name]``), the arms of the randomised offer test, and the
    simulated ``world`` (None for user data)."""

    name: str
    tables: dict
    arms: list[str]
    world: object = None


def optimisation_data(
    data_source: str, n_customers: int = 100_000, random_state: int = 1
) -> OptimisationData:
    """Load the bank's tables: ``"synthetic"`` (the simulated bank) or a folder written by
    ``cmlib data generate`` (one table per sub-folder or file)."""
    # imported here so that `import cmlib.optimize` does not load the simulator
    from cmlib.data import bank, load

    world = None
    if data_source == "synthetic":
        world = bank(n_customers, random_state)
        tables = {k: getattr(world, k) for k in TABLES}
    else:
        tables = {k: load(data_source, table=k) for k in TABLES}
    arms = sorted(set(tables["campaigns"]["arm"].dropna().astype(str)) - {"", "control"})
    return OptimisationData(data_source, tables, arms, world)
