"""Shared fixtures. Small worlds come from ``simulate_bank(n_customers=5_000)`` (DESIGN.md §8)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def pytest_collection_modifyitems(config, items):
    """Spark tests skip without pyspark, unless REQUIRE_SPARK=1 (set by .ci/run) makes that a failure; browser
    tests skip without Chromium, unless REQUIRE_BROWSER=1 (set by .ci/run, which installs Chromium)."""
    from cmlib.report.browser import find_chromium

    if find_chromium() is None and os.environ.get("REQUIRE_BROWSER") != "1":
        skip_browser = pytest.mark.skip(
            reason="no Chromium on PATH (apt-get install chromium, or REQUIRE_BROWSER=1)"
        )
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip_browser)
    try:
        import pyspark  # noqa: F401

        have_spark = True
    except ImportError:
        have_spark = False
    if have_spark or os.environ.get("REQUIRE_SPARK") == "1":
        return
    skip = pytest.mark.skip(reason="pyspark not installed (install the spark extra, or REQUIRE_SPARK=1)")
    for item in items:
        if "spark" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def bank():
    """A mid-sized simulated bank (200,000 customers, about 31,000 applications and 15,700 booked accounts):
    enough bads (about 750) for scorecard truth checks; built once per session (about 1 s)."""
    from cmlib.data.synthetic import simulate_bank

    return simulate_bank(200_000, random_state=3)
