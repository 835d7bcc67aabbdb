"""Reading user and generated data: Parquet (file or folder), CSV, a DuckDB file, or a Spark table.

``load(source, table=...)`` returns pandas, validated against the table's schema before any analysis;
``open_table`` returns a lazy Ibis table for :mod:`cmlib.engine` when the data are too big for pandas.
Nothing here writes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cmlib import engine
from cmlib.data import schemas
from cmlib.errors import DataError, ParameterError
from cmlib.memory import read_parquet
from cmlib.validation import require_columns

DUCKDB_SUFFIXES = {".duckdb", ".db", ".ddb"}


def _resolve(source: str | Path, table: str | None) -> tuple[str, Path | str]:
    if isinstance(source, str) and source.startswith("spark:"):
        return "spark", source.split(":", 1)[1]
    p = Path(source)
    if not p.exists():
        raise ParameterError("source", "an existing Parquet/CSV/DuckDB path or spark:<table>", str(source))
    if p.is_dir():
        sub = bool(table) and (p / table).is_dir()
        if sub:
            p = p / table  # a world written by `cmlib data generate`
        if not list(p.glob("*.parquet")):
            expected = (
                f"Parquet files in its {table}/ folder"
                if sub
                else "a folder with Parquet files" + (f" (or a {table}/ subfolder of them)" if table else "")
            )
            raise ParameterError("source", expected, str(source))
        return "parquet_dir", p
    if p.suffix == ".parquet":
        return "parquet", p
    if p.suffix in {".csv", ".txt"} or p.name.endswith(".csv.gz"):
        return "csv", p
    if p.suffix in DUCKDB_SUFFIXES:
        return "duckdb", p
    raise ParameterError(
        "source", "a .parquet, .csv or .duckdb file, a Parquet folder, or spark:<table>", str(p)
    )


def _parse_dates(df: pd.DataFrame, table: str | None) -> pd.DataFrame:
    if table in schemas.TABLES:
        for col, spec in schemas.TABLES[table].items():
            if (
                spec.kind == "date"
                and col in df.columns
                and not pd.api.types.is_datetime64_any_dtype(df[col])
            ):
                raw = df[col]
                parsed = pd.to_datetime(raw, errors="coerce")
                # a value that is there but is no date: say so, rather than let it fail 'not null' later
                bad = parsed.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
                if bad.any():
                    raise DataError.single(
                        table, col, "a date such as 2024-01-31", int(bad.sum()), raw[bad].head(3).tolist()
                    )
                df[col] = parsed
    return df


def load(
    source: str | Path,
    table: str | None = None,
    *,
    validate: bool = True,
    duckdb_table: str | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Read ``source`` into pandas and validate it as ``table`` (a name of :data:`schemas.TABLES`).

    ``duckdb_table`` names the table inside a DuckDB file (default: ``table``). A bad input raises one
    :class:`DataError` naming the table, each failing column, the rule and the offending-row count.
    """
    kind, where = _resolve(source, table)
    problem = unreadable(where) if kind in ("parquet", "parquet_dir", "csv") else None
    if problem:
        raise DataError.single(table or Path(str(source)).name, "*", problem, None)
    if kind in ("parquet", "parquet_dir"):
        df = read_parquet(where, columns=columns)
    elif kind == "csv":
        try:
            df = pd.read_csv(where, usecols=columns)
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError.single(
                table or Path(str(source)).name,
                "*",
                f"a readable CSV ({type(exc).__name__}: {str(exc)[:120]})",
                None,
            ) from None
    elif kind == "duckdb":
        import duckdb

        name = duckdb_table or table
        if not name:
            raise ParameterError("duckdb_table", "the table to read from the DuckDB file", None)
        with duckdb.connect(str(where), read_only=True) as con:
            names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
            if name not in names:
                raise DataError.single(
                    str(name), "*", f"table exists in {Path(where).name}", 0, sorted(names)[:5]
                )
            sel = ", ".join(f'"{c}"' for c in columns) if columns else "*"
            df = con.execute(f'SELECT {sel} FROM "{name}"').df()
    else:
        df = engine.spark_table(str(where)).to_pandas()
    # a CSV's header as written: pandas has renamed a repeated name x.1 by now
    refuse_repeated_names(
        header_columns(where) if kind == "csv" else df.columns, table or Path(str(source)).name
    )
    df = _parse_dates(df, table)
    return as_table(df, table) if validate and table is not None else df


def refuse_repeated_names(names, table: str) -> None:
    """A DataError naming every column name that appears more than once (and how often): a reader would
    quietly use one of them, or leak the other (a second target column) into a model."""
    names = pd.Series(list(map(str, names)), dtype=object)
    twice = names[names.duplicated()].unique()
    if len(twice):
        raise DataError(
            table,
            [
                {
                    "column": c,
                    "rule": f"one column of this name (it appears {int((names == c).sum())} times)",
                    "n_rows": None,
                }
                for c in twice
            ],
        )


def as_table(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Validate a frame already read (``load(..., validate=False)``) as ``table``, dates parsed as ``load``
    parses them: for a reader that must look at the data before it knows which table it is."""
    refuse_repeated_names(df.columns, table)
    df = _parse_dates(df, table)
    if table in schemas.TABLES:
        schemas.validate(df, table)
        # numbers stored as text ("1250" in a Parquet string column) pass the schema's number rules: read them
        # as numbers here, or a later sum concatenates them and a mean fails on a string dtype
        as_text = [
            c
            for c, spec in schemas.TABLES[table].items()
            if spec.kind in ("float", "int") and c in df.columns and not pd.api.types.is_numeric_dtype(df[c])
        ]
        if as_text:
            df = df.assign(**{c: pd.to_numeric(df[c]) for c in as_text})
    elif len(df) == 0:
        raise DataError.single(table, "*", "table is not empty", 0)
    return df


def as_mapped_table(
    df: pd.DataFrame, table: str, columns: dict | None = None, name: str | None = None
) -> pd.DataFrame:
    """:func:`as_table` for a user's table whose columns have names of their own: ``columns`` maps the
    table's column names (its roles) to the user's (``{"week": "send_week", "cost": "unit_cost"}``). The
    mapped columns are renamed before validation, and every error names the user's column, not the role."""
    roles = {str(k): str(v) for k, v in dict(columns or {}).items()}
    known = list(schemas.TABLES[table])
    unknown = sorted(set(roles) - set(known))
    if unknown:
        raise ParameterError("columns", f"roles among the {table} columns ({', '.join(known)})", unknown)
    name = name or table
    require_columns(df, list(roles.values()), name)
    # a column of the role's own name that another column replaces is not the one meant: drop it
    replaced = [r for r, c in roles.items() if r != c and r in df.columns and r not in roles.values()]
    out = df.drop(columns=replaced).rename(columns={c: r for r, c in roles.items()})
    try:
        return as_table(out, table)
    except DataError as exc:
        raise DataError(
            name, [{**f, "column": roles.get(f["column"], f["column"])} for f in exc.failures]
        ) from None


def open_table(source: str | Path, table: str | None = None, backend: str = "duckdb"):
    """A lazy Ibis table over ``source`` (Parquet file/folder, CSV, DuckDB file table or spark:<table>)."""

    kind, where = _resolve(source, table)
    if kind == "spark":
        return engine.spark_table(str(where))
    if kind == "duckdb":
        import ibis

        return ibis.duckdb.connect(str(where), read_only=True, **engine.DUCKDB_CONFIG).table(table)
    return engine.table(where, backend=backend)


def unreadable(path: str | Path) -> str | None:
    """Why a user's file or folder cannot be read as a table, from its first bytes and Parquet footers alone
    (a binary file named .csv, a CSV that is not UTF-8, a header without rows, a damaged Parquet file), or
    None when it looks readable. Cheap enough for the runner's pre-flight."""
    import pyarrow.parquet as pq

    path = Path(path)
    if path.is_file() and (path.suffix.lower() in {".csv", ".txt"} or path.name.lower().endswith(".csv.gz")):
        if path.name.lower().endswith(".gz"):
            return None
        head = path.open("rb").read(1 << 16)
        if b"\x00" in head:
            return f"{path.name} is binary, not a CSV text file"
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
                return f"{path.name} is not UTF-8 text (byte {head[exc.start]:#04x} at position {exc.start}): save it as UTF-8"
            text = head[: exc.start].decode("utf-8")
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) < 2 and len(head) < (1 << 16):
            return f"{path.name} has a header but no rows"
        return None
    files = (
        [path] if path.is_file() and path.suffix.lower() == ".parquet" else sorted(path.rglob("*.parquet"))
    )
    for f in files[:200]:
        try:
            pq.read_schema(f)
        except Exception:  # pyarrow raises several kinds for a damaged footer
            return f"{f.relative_to(path.parent)} is not a readable Parquet file"
    return None


def header_columns(path: str | Path) -> list[str] | None:
    """The column names of a CSV file or a Parquet file or folder, from its header or schema alone, as written
    (duplicates kept: pandas would rename them); None for anything else (a DuckDB file, a folder of tables)."""
    import csv

    path = Path(path)
    try:
        if path.is_file() and path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8", errors="replace") as f:
                return next(csv.reader(f), [])
        files = (
            [path] if path.is_file() and path.suffix.lower() == ".parquet" else sorted(path.glob("*.parquet"))
        )
        if files:
            import pyarrow.parquet as pq

            return list(pq.read_schema(files[0]).names)
    except (OSError, ValueError):
        return None
    return None
