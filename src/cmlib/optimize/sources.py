"""cmlib.optimize — data sources (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass

from cmlib.errors import ParameterError

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
    data_source: str, n_customers: int = 100_000, random_state: int = 1, treatment_arm: str | None = None
) -> OptimisationData:
    """Load the bank's tables: ``"synthetic"`` (the simulated bank) or a folder written by
    ``cmlib data generate`` (one table per sub-folder or file). ``treatment_arm``, when given, must be an arm
    of the randomised test (ParameterError otherwise)."""
    # imported here so that `import cmlib.optimize` does not load the simulator
    from cmlib.data import load, simulate_bank

    world = None
    if data_source == "synthetic":
        world = simulate_bank(n_customers=n_customers, random_state=random_state)
        tables = {k: getattr(world, k) for k in TABLES}
    else:
        tables = {k: load(data_source, table=k) for k in TABLES}
    arms = sorted(set(tables["campaigns"]["arm"].dropna().astype(str)) - {"", "control"})
    if treatment_arm is not None and treatment_arm not in arms:
        raise ParameterError("treatment_arm", f"an arm of the randomised test: {arms}", treatment_arm)
    return OptimisationData(data_source, tables, arms, world)
