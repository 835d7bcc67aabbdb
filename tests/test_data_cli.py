"""``cmlib data`` end to end: generate, list, validate, and readable errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd


def cmlib(*args):
    return subprocess.run([sys.executable, "-m", "cmlib", *args], capture_output=True, text=True, timeout=300)


def test_generate_validate_list(tmp_path):
    out = tmp_path / "world"
    r = cmlib("data", "generate", "--customers", "5000", "--random-state", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "customers" in r.stdout and "5,000 rows" in r.stdout and "5,000/5,000 customers" in r.stderr
    truth = json.loads((out / "truth.json").read_text())
    assert truth["random_state"] == 2 and truth["n_customers"] == 5000
    assert len(pd.read_parquet(out / "customers")) == 5000
    r = cmlib("data", "validate", str(out), "--table", "applications")
    assert r.returncode == 0 and "valid" in r.stdout
    r = cmlib("data", "list")
    assert r.returncode == 0 and "lending_club" in r.stdout and "9857" in r.stdout


def test_validate_bad_file_exits_2_naming_table_column_rule_count(tmp_path):
    df = pd.DataFrame({"customer_id": [1, 2, 2], "age": [30, 12, 40]})
    df.to_csv(tmp_path / "c.csv", index=False)
    r = cmlib("data", "validate", str(tmp_path / "c.csv"), "--table", "customers")
    assert r.returncode == 2
    assert (
        "table 'customers'" in r.stderr
        and "column 'income' breaks rule 'required column is missing'" in r.stderr
    )
    assert "column 'age' breaks rule '>= 18' in 1 row(s)" in r.stderr
    assert "Traceback" not in r.stderr
    r = cmlib("data", "validate", str(tmp_path / "c.csv"), "--table", "nope")
    assert r.returncode == 2 and "'table'" in r.stderr and "customers" in r.stderr
    r = cmlib("data", "generate", "--customers", "10", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "n_customers" in r.stderr


def test_a_bank_larger_than_the_free_disk_is_refused_before_writing(tmp_path):
    """#16: `cmlib data generate --customers 1000000000000` would write for days; refused at once with the
    estimate and the free space (exit 2), nothing written."""
    r = subprocess.run(
        [sys.executable, "-m", "cmlib", "data", "generate", "--customers", "1000000000000", "--out", str(tmp_path / "b")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2 and "fits the free disk" in r.stderr and "GB free" in r.stderr, r.stderr
    assert not (tmp_path / "b").exists()
