"""Schema errors name the table, column, rule and offending-row count (cmlib/data/schemas.py, io.py)."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from cmlib.data import check_binary, load, validate
from cmlib.data import synthetic as syn
from cmlib.errors import DataError, ParameterError


@pytest.fixture(scope="module")
def world():
    return syn.simulate_bank(n_customers=5_000, random_state=11)


def test_missing_column(world):
    with pytest.raises(DataError) as e:
        validate(world.customers.drop(columns=["income"]), "customers")
    assert str(e.value) == (
        "table 'customers': column 'income' breaks rule 'required column is missing' (the table has 5,000 rows)"
    )


def test_wrong_type_counts_only_bad_rows(world):
    c = world.customers.astype({"age": object})
    c.loc[[0, 1, 2], "age"] = "forty"
    with pytest.raises(DataError, match=r"column 'age' breaks rule 'type int' in 3 row\(s\); e.g. 'forty'"):
        validate(c, "customers")


def test_out_of_range_and_several_failures_in_one_error(world):
    c = world.customers.copy()
    c.loc[:9, "age"] = 7
    c.loc[:1, "dti"] = -0.5
    with pytest.raises(DataError) as e:
        validate(c, "customers")
    msg = str(e.value)
    assert "column 'age' breaks rule '>= 18' in 10 row(s)" in msg
    assert "column 'dti' breaks rule '>= 0' in 2 row(s)" in msg
    assert {f["column"] for f in e.value.failures} == {"age", "dti"}


def test_non_binary_target(world):
    a = world.applications.copy()
    a.loc[a.index[a["bad_12m"].notna()][:4], "bad_12m"] = 2.0
    with pytest.raises(DataError, match=r"'bad_12m' breaks rule 'in \[0.0, 1.0\]' in 4 row\(s\)"):
        validate(a, "applications")
    with pytest.raises(DataError, match=r"'bad' breaks rule 'binary target in \{0, 1\}' in 1 row"):
        check_binary(pd.DataFrame({"bad": [0, 1, 2]}), "bad", "scoring")
    with pytest.raises(DataError, match="both classes present"):
        check_binary(pd.DataFrame({"bad": [0, 0, 0]}), "bad", "scoring")
    # a target without any value: said as such, not 'both classes present in 0 rows' (a #16 probe)
    with pytest.raises(
        DataError, match=r"'bad' breaks rule 'some rows with a value \(all are missing\)' in 3 row"
    ):
        check_binary(pd.DataFrame({"bad": [None, None, None]}), "bad", "scoring", allow_missing=True)
    # one rule found twice (a key checked once per column of it) is said once
    twice = {"column": "month+segment", "rule": "unique key", "n_rows": 330}
    assert str(DataError("market", [twice, dict(twice)])).count("unique key") == 1


def test_flags_are_read_as_people_write_them():
    words = pd.DataFrame({"bad": ["Yes", "no", " TRUE", "false", "1", "0", "y", "N", None]})
    got = check_binary(words, "bad", "scoring", allow_missing=True)
    assert got.iloc[:8].tolist() == [1, 0, 1, 0, 1, 0, 1, 0] and np.isnan(got.iloc[8])
    assert check_binary(pd.DataFrame({"bad": [True, False]}), "bad", "scoring").tolist() == [1, 0]
    with pytest.raises(
        DataError, match=r"'bad' breaks rule 'a flag: 0/1, true/false or yes/no' in 2 row\(s\)"
    ):
        check_binary(pd.DataFrame({"bad": ["yes", "maybe", "no", "2"]}), "bad", "scoring")


def test_duplicate_keys(world):
    c = pd.concat([world.customers, world.customers.head(3)], ignore_index=True)
    with pytest.raises(DataError, match=r"column 'customer_id' breaks rule 'unique' in 6 row\(s\)"):
        validate(c, "customers")
    p = pd.concat([world.performance, world.performance.head(2)], ignore_index=True)
    with pytest.raises(DataError, match=r"account_id\+month' breaks rule 'unique key'"):
        validate(p, "performance")


def test_empty_table(world):
    with pytest.raises(DataError, match="table 'contacts'.*not empty"):
        validate(world.contacts.head(0), "contacts")


def test_null_where_not_allowed(world):
    c = world.contacts.copy()
    c.loc[:4, "spend_90d"] = np.nan
    with pytest.raises(DataError, match=r"'spend_90d' breaks rule 'not null' in 5 row\(s\)"):
        validate(c, "contacts")


def test_load_reads_parquet_csv_duckdb_and_validates(world, tmp_path):
    cust = world.customers
    cust.to_parquet(tmp_path / "c.parquet")
    cust.to_csv(tmp_path / "c.csv", index=False)
    with duckdb.connect(str(tmp_path / "bank.duckdb")) as con:
        con.register("cust_df", cust)
        con.execute("CREATE TABLE customers AS SELECT * FROM cust_df")
    for src in ("c.parquet", "c.csv", "bank.duckdb"):
        df = load(tmp_path / src, table="customers")
        assert len(df) == len(cust) and df["income"].isna().sum() == cust["income"].isna().sum()
    camp = world.campaigns
    camp.to_csv(tmp_path / "camp.csv", index=False)
    assert pd.api.types.is_datetime64_any_dtype(load(tmp_path / "camp.csv", table="campaigns")["start_date"])
    bad = cust.assign(age=cust["age"].where(cust.index > 2, 5))
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=r"'customers'.*'age'.*'>= 18' in 3 row"):
        load(tmp_path / "bad.csv", table="customers")
    with pytest.raises(DataError, match="table exists"):
        load(tmp_path / "bank.duckdb", table="contacts")
    with pytest.raises(ParameterError, match="source"):
        load(tmp_path / "nope.parquet", table="customers")


def test_unreadable_files_are_named_before_reading(tmp_path):
    """#16: a binary file named .csv, a CSV in another encoding, a header without rows and a damaged
    Parquet file are each one readable problem (the runner's pre-flight reports it, exit 2), and load()
    raises it as a DataError rather than pandas' or pyarrow's own error."""
    from cmlib.data.io import unreadable

    (tmp_path / "bin.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "latin.csv").write_bytes(
        "month,value\n2020-01-01,caf\xe9\n".encode("latin-1") + b"2020-02-01,2\n" * 5
    )
    (tmp_path / "head.csv").write_text("month,value\n")
    (tmp_path / "ok.csv").write_text("month,value\n2020-01-01,1\n")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    assert "binary" in unreadable(tmp_path / "bin.csv")
    assert "not UTF-8" in unreadable(tmp_path / "latin.csv") and "0xe9" in unreadable(tmp_path / "latin.csv")
    assert "header but no rows" in unreadable(tmp_path / "head.csv")
    assert unreadable(tmp_path / "ok.csv") is None
    assert "not a readable Parquet file" in unreadable(tmp_path / "bad.parquet")
    with pytest.raises(DataError, match="binary, not a CSV"):
        load(tmp_path / "bin.csv")
    pd.DataFrame({"a": [1, 2], "b": [3, 4]}).to_parquet(tmp_path / "dup.parquet")
    raw = pd.read_parquet(tmp_path / "dup.parquet").rename(columns={"b": "a"})
    from cmlib.data.io import as_table

    with pytest.raises(
        DataError, match=r"column 'a' breaks rule 'one column of this name \(it appears 2 times\)'"
    ):
        as_table(raw, "performance")
