"""The ``cmlib`` command: ``run`` (notebooks → reports), ``data`` (generate, list, validate),
``notebooks`` (what can be run and with which parameters).

Exit codes: 0 success; 1 a notebook failed (or an unexpected bug, with a traceback); 2 bad input —
a :class:`~cmlib.errors.CmlibError` printed as one readable line.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from cmlib.errors import CmlibError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cmlib", description="Credit Marketing Lab")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser(
        "run",
        help="execute notebooks with papermill and publish HTML reports",
        description="Execute notebooks (all of notebooks/ when none is named) and publish "
        "reports/<run-id>/ and reports/index.html.",
    )
    r.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="name, file or path; default: all")
    r.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="set a parameter (NAME, or NOTEBOOK.NAME for one notebook); repeatable",
    )
    r.add_argument("-f", "--params-file", metavar="FILE", help="YAML parameter set, e.g. params/smoke.yaml")
    r.add_argument("--jobs", type=int, default=1, help="notebooks run in parallel (default 1)")
    r.add_argument("--with-code", action="store_true", help="keep code cells in the HTML")
    r.add_argument("--out", default="reports", help="reports folder (default reports/)")
    r.add_argument("--notebooks-dir", default="notebooks", help="where notebooks live (default notebooks/)")
    r.add_argument("--cell-timeout", type=int, default=1800, help="seconds per cell (default 1800)")

    n = sub.add_parser("notebooks", help="list notebooks and their parameters")
    n.add_argument("--notebooks-dir", default="notebooks")

    d = sub.add_parser("data", help="generate, list or validate data")
    dsub = d.add_subparsers(dest="data_command", required=True)
    g = dsub.add_parser("generate", help="write the simulated bank to Parquet with its truth")
    g.add_argument("--customers", type=int, default=100_000, help="number of customers (default 100000)")
    g.add_argument(
        "--random-state",
        "--seed",
        dest="random_state",
        type=int,
        default=1,
        help="random state of the simulated bank (default 1)",
    )
    g.add_argument("--out", default="data/synthetic", help="output folder (default data/synthetic)")
    g.add_argument("--chunk-size", type=int, default=1_000_000, help="customers per chunk (bounds memory)")
    dsub.add_parser("list", help="public data sets and their cards")
    v = dsub.add_parser("validate", help="validate a Parquet/CSV/DuckDB file against a table schema")
    v.add_argument("path")
    v.add_argument("--table", required=True, help="customers, contacts, applications, performance, …")
    return p


def _cmd_notebooks(args) -> int:
    from pathlib import Path

    from cmlib.report.params import read_spec

    for path in sorted(Path(args.notebooks_dir).glob("*.ipynb")):
        spec = read_spec(path)
        extra = []
        if spec.consumes:
            extra.append(f"reads {', '.join(spec.consumes)}")
        if spec.produces:
            extra.append(f"writes {', '.join(spec.produces)}")
        print(f"{spec.name}" + (f"  ({'; '.join(extra)})" if extra else ""))
        for prm in spec.parameters.values():
            print(f"    {prm.name:<24} {prm.kind:<6} = {prm.default!r:<24} {prm.help}")
        if spec.roles:
            print("  roles of your own table's columns (data_source a path):")
            for role, what in spec.roles.items():
                print(f"    {role:<24} {what}")
    return 0


def _cmd_data(args) -> int:
    from cmlib.data import cli as data_cli

    return data_cli.main(args)


def main(argv: list[str] | None = None) -> int:
    from cmlib.report._execute import skip_slow_optional_imports

    skip_slow_optional_imports()
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            from cmlib.report.runner import main_run

            return main_run(args)
        if args.command == "notebooks":
            return _cmd_notebooks(args)
        if args.command == "data":
            return _cmd_data(args)
    except CmlibError as exc:
        print(f"cmlib: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cmlib: interrupted", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        return 1
    return 0  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
