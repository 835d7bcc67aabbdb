"""``cmlib data generate | list | validate``."""

from __future__ import annotations

import sys
import time

#: Parquet written per simulated customer, all tables (108 MB per million measured, rounded up)
DISK_BYTES_PER_CUSTOMER = 130


def check_disk(out, customers: int) -> None:
    """Refuse, before writing anything, a bank that would not fit on the disk it is written to (1e12
    customers would need about 130 TB): a ParameterError with the estimate and the free space."""
    import shutil
    from pathlib import Path

    from cmlib.errors import ParameterError

    p = Path(out).expanduser().resolve()
    while not p.exists():
        p = p.parent
    if not p.is_dir():  # the folder to write, or a parent of it, is a file
        raise ParameterError("--out", "a folder for the bank (a file is in the way)", str(p))
    free = shutil.disk_usage(p).free
    need = int(customers) * DISK_BYTES_PER_CUSTOMER
    if need > free:
        raise ParameterError(
            "--customers",
            f"a bank that fits the free disk at {p} ({free / 1e9:,.1f} GB free; this needs about {need / 1e9:,.1f} GB)",
            customers,
        )


def main(args) -> int:
    if args.data_command == "generate":
        from cmlib.data.synthetic import write_bank

        t0 = time.perf_counter()

        def progress(done: int, total: int) -> None:
            el = time.perf_counter() - t0
            print(
                f"  {done:,}/{total:,} customers ({done / total:.0%}) in {el:.0f} s",
                file=sys.stderr,
                flush=True,
            )

        check_disk(args.out, args.customers)
        out = write_bank(
            args.out,
            n_customers=args.customers,
            random_state=args.random_state,
            chunk_size=args.chunk_size,
            progress=progress,
        )
        import pyarrow.parquet as pq

        for d in sorted(p for p in out.iterdir() if p.is_dir() and p.name != "truth"):
            rows = sum(pq.ParquetFile(f).metadata.num_rows for f in d.glob("*.parquet"))
            print(f"{d.name:<14} {rows:>12,} rows")
        print(f"truth          {out / 'truth.json'}")
        print(f"wrote {out} in {time.perf_counter() - t0:.1f} s")
        return 0
    if args.data_command == "list":
        import pandas as pd

        from cmlib.data.public import cards

        with pd.option_context("display.width", 200, "display.max_colwidth", 60):
            print(cards().to_string(index=False))
        return 0
    if args.data_command == "validate":
        from cmlib.data.io import load
        from cmlib.data.schemas import schema

        schema(args.table)  # an unknown table name is a parameter error, before reading anything
        df = load(args.path, table=args.table)
        print(f"{args.path}: table '{args.table}' valid ({len(df):,} rows, {df.shape[1]} columns)")
        return 0
    return 2  # pragma: no cover
