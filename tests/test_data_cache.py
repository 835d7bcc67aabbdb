"""The simulated bank built once: the cached copy is the same world, keyed by size, random state and the
generator's version, and a half-written copy is never read."""

from __future__ import annotations

import pandas as pd
import pytest

from cmlib.data import cache
from cmlib.data.synthetic import BLOCK, simulate_bank


def test_cached_bank_equals_the_simulated_one(tmp_path):
    n = BLOCK + 2_000
    path, hit = cache.cached_bank(n, 4, root=tmp_path)
    assert not hit and cache.is_complete(path)
    assert cache.cached_bank(n, 4, root=tmp_path) == (path, True)  # the second call reads, never rewrites
    mem, disk = simulate_bank(n, random_state=4), cache.bank(n, 4, root=tmp_path)
    assert not set(vars(disk)) & {*mem.TABLES, "truth_tables"}  # nothing read before it is used
    assert len(disk.market) == len(mem.market) and "contacts" not in vars(disk)  # one table read, not all
    cols = ["customer_id", "responded"]  # or only some columns of one, the same values
    pd.testing.assert_frame_equal(
        disk.read("contacts", cols), mem.read("contacts", cols).reset_index(drop=True)
    )
    assert "contacts" not in vars(disk)
    for name, df in mem.tables().items():  # same values and the same dtypes
        pd.testing.assert_frame_equal(getattr(disk, name), df.reset_index(drop=True), obj=name)
    up = disk.truth_tables["uplift"]  # each truth table is read when first used, not all at once
    assert list(disk.truth_tables._read) == ["uplift"] and disk.truth_tables["uplift"] is up
    assert list(disk.truth_tables) == list(mem.truth_tables) and len(disk.truth_tables) == len(
        mem.truth_tables
    )
    for name, df in mem.truth_tables.items():
        pd.testing.assert_frame_equal(disk.truth_tables[name], df.reset_index(drop=True), obj=name)
    assert disk.truth == mem.truth
    assert not list(tmp_path.glob(".tmp-*"))  # no temporary folder left behind


def test_the_key_changes_with_parameters_and_generator(tmp_path, monkeypatch):
    a = cache.cache_path(1000, 1, tmp_path)
    assert a != cache.cache_path(1001, 1, tmp_path) and a != cache.cache_path(1000, 2, tmp_path)
    monkeypatch.setattr(cache, "generator_version", lambda: "changed")
    assert cache.cache_path(1000, 1, tmp_path) != a


def test_a_half_written_copy_is_not_read(tmp_path):
    path = cache.cache_path(5_000, 1, tmp_path)
    (path / "customers").mkdir(parents=True)  # as a killed writer would leave it: no COMPLETE marker
    assert not cache.is_complete(path)
    with pytest.raises(FileNotFoundError, match="not a complete cached bank"):
        cache.read_bank(path)
    world = cache.bank(5_000, 1, root=tmp_path)  # falls back to simulating in memory
    assert len(world.customers) == 5_000
    path2, hit = cache.cached_bank(5_000, 1, root=tmp_path)  # and the next build replaces it
    assert path2 == path and not hit and cache.is_complete(path)


def test_the_runner_asks_for_the_banks_its_notebooks_use():
    from pathlib import Path

    from cmlib.report.params import load_params_file, read_spec, validate_parameters
    from cmlib.report.runner import simulated_banks

    root = Path(__file__).resolve().parents[1]
    specs = [read_spec(p) for p in sorted((root / "notebooks").glob("*.ipynb"))]
    smoke = validate_parameters(specs, load_params_file(root / "params" / "smoke.yaml"), specs)
    assert simulated_banks(specs, smoke) == [(50_000, 1)]
    debit = validate_parameters(specs, load_params_file(root / "params" / "debitcards.yaml"), specs)
    assert simulated_banks(specs[:1], debit) == []  # the market notebook on real data needs no bank


def test_older_generators_banks_are_pruned(tmp_path):
    import os

    old = [tmp_path / f"bank-n5000-rs1-old{i}" for i in range(3)]
    for i, p in enumerate(old):
        (p / "customers").mkdir(parents=True)
        os.utime(p, (1_000 + i, 1_000 + i))
    other = tmp_path / "bank-n9000-rs1-old0"  # another size: not touched
    other.mkdir()
    path, hit = cache.cached_bank(5_000, 1, root=tmp_path)
    assert not hit and path.exists() and other.exists()
    assert [p.exists() for p in old] == [
        False,
        False,
        True,
    ]  # the newest older one is kept beside the current
