"""cmlib.experiments — a test read out from per-arm sums, as a warehouse query returns them (one section of
the package; the package re-exports every name).

Every readout in this package needs only per-arm (n, mean, M2) and, for CUPED and ratio metrics, co-moments.
A warehouse can return those as sums in one ``GROUP BY arm`` query, so the rows never leave it::

    SELECT arm, COUNT(*) AS n,
           SUM(booked) AS sum_booked, SUM(booked * booked) AS sumsq_booked,
           COUNT(early_dpd30_3m) AS n_early_dpd30_3m, SUM(early_dpd30_3m) AS sum_early_dpd30_3m,
           SUM(early_dpd30_3m * early_dpd30_3m) AS sumsq_early_dpd30_3m,
           SUM(spend_90d * pre_spend_90d) AS sumxy_spend_90d_pre_spend_90d, ...
    FROM contacts WHERE experiment_id = 'EXP01' GROUP BY arm          -- add segment or a date to the GROUP BY

:class:`ArmSums` holds such a table; :func:`arm_sums` computes it from rows on DuckDB or Spark. Columns:
the arm, ``n`` (rows), and per metric ``sum_<m>`` and ``sumsq_<m>`` (Σm, Σm²) with ``n_<m>`` when the metric
is missing on some rows (its non-missing rows; default ``n``); per pair of metrics ``sumxy_<y>_<x>`` (Σy·x,
both present on every row). Any other column is a group (a segment, a contact date) that the readouts
which need it (segment lifts, sequential looks) split by, and the others sum over.

Second moments from sums (Σm² − (Σm)²/n) lose digits when the mean is large against the spread; with money
in units and counts in millions the loss is far below the readouts' precision (tested against the rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cmlib.errors import DataError, ParameterError

_PREFIXES = ("sum_", "sumsq_", "sumxy_", "n_")


@dataclass
class ArmSums:
    """Per-arm (and per-group) sums of a test's metrics: the readouts' input when the rows stay in the
    warehouse. ``frame``: one row per arm (× group) with the columns of the module docstring; ``arm``: the
    arm column; ``table``: the name errors use."""

    frame: pd.DataFrame
    arm: str = "arm"
    table: str = "contacts"

    def __post_init__(self):
        f = self.frame
        t = self.table
        for c in (self.arm, "n"):
            if c not in f.columns:
                raise DataError.single(t, c, "required column is missing", len(f))
        if f[self.arm].isna().any():
            raise DataError.single(t, self.arm, "an arm on every row of sums", int(f[self.arm].isna().sum()))
        num = [c for c in f.columns if c == "n" or c.startswith(_PREFIXES)]
        for c in num:
            x = pd.to_numeric(f[c], errors="coerce")
            bad = x.isna() & f[c].notna()
            if bad.any():
                raise DataError.single(t, c, "a number", int(bad.sum()), f.loc[bad, c].head(3).tolist())
        counts = [c for c in num if c == "n" or c.startswith("n_")]
        for c in counts:
            x = pd.to_numeric(f[c])
            if (x < 0).any() or (x != np.round(x)).any():
                raise DataError.single(
                    t, c, "a whole number of rows ≥ 0", int(((x < 0) | (x != np.round(x))).sum())
                )
        for m in self.metrics:
            if f"sumsq_{m}" not in f.columns:
                raise DataError.single(t, f"sumsq_{m}", "required column is missing (Σ of squares)", len(f))
            n, s, q = self._count(f, m), pd.to_numeric(f[f"sum_{m}"]), pd.to_numeric(f[f"sumsq_{m}"])
            # Cauchy–Schwarz: Σm² ≥ (Σm)²/n for sums of the same rows
            with np.errstate(divide="ignore", invalid="ignore"):
                short = q < (s * s / n.where(n > 0)).fillna(0) * (1 - 1e-9) - 1e-9
            if short.any():
                raise DataError.single(
                    t, f"sumsq_{m}", "Σm² ≥ (Σm)² / n (sums of the same rows)", int(short.sum())
                )
        self.frame = f.copy()
        for c in num:
            self.frame[c] = pd.to_numeric(f[c]).astype("int64" if c in counts else float)

    @property
    def metrics(self) -> list[str]:
        """The metrics the table has sums of."""
        return [c[4:] for c in self.frame.columns if c.startswith("sum_")]

    @property
    def groups(self) -> list[str]:
        """Columns besides the arm that split the sums (segments, dates)."""
        return [c for c in self.frame.columns if c not in (self.arm, "n") and not c.startswith(_PREFIXES)]

    @property
    def n_rows(self) -> int:
        """Rows (contacts) the sums cover."""
        return int(self.frame["n"].sum())

    def has(self, *metrics: str) -> bool:
        return all(m in self.metrics for m in metrics)

    def has_pairs(self, pairs: Sequence[tuple[str, str]]) -> bool:
        cols = set(self.frame.columns)
        return all(f"sumxy_{y}_{x}" in cols or f"sumxy_{x}_{y}" in cols for y, x in pairs)

    @staticmethod
    def _count(f: pd.DataFrame, m: str) -> pd.Series:
        return pd.to_numeric(f[f"n_{m}"] if f"n_{m}" in f.columns else f["n"]).astype(float)

    def filter(self, mask) -> ArmSums:
        """The sums of the rows of ``frame`` where ``mask`` holds (e.g. contact dates up to a look)."""
        return ArmSums(self.frame[np.asarray(mask, bool)].reset_index(drop=True), self.arm, self.table)

    def counts(self) -> pd.Series:
        """Rows per arm."""
        return self.frame.groupby(self.arm, sort=True)["n"].sum().astype(int)

    def require(
        self, metrics: Sequence[str] = (), pairs: Sequence[tuple[str, str]] = (), by: Sequence[str] = ()
    ):
        """DataError naming what the readout needs and the sums lack."""
        missing = [f"sum_{m}" for m in metrics if m not in self.metrics]
        missing += [f"sumxy_{y}_{x}" for y, x in pairs if not self.has_pairs([(y, x)])]
        missing += [g for g in by if g not in self.groups and g != self.arm]
        if missing:
            raise DataError(
                self.table,
                [
                    {"column": c, "rule": "required column is missing from the sums", "n_rows": None}
                    for c in missing
                ],
            )

    def moments(
        self, columns: Sequence[str], by: Sequence[str] | None = None, pairs: Sequence[tuple[str, str]] = ()
    ) -> pd.DataFrame:
        """:func:`cmlib.engine.moments`'s output (per group of ``by``, default the arm) from the sums."""
        by = [self.arm] if by is None else list(by)
        self.require(columns, pairs, by)
        cols = [c for c in self.frame.columns if c == "n" or c.startswith(_PREFIXES)]
        g = self.frame.groupby(by, sort=True)[cols].sum()
        out = pd.DataFrame(index=g.index)
        for c in columns:
            n = self._count(g, c)
            s, q = g[f"sum_{c}"], g[f"sumsq_{c}"]
            out[f"n_{c}"] = n.astype("int64")
            with np.errstate(divide="ignore", invalid="ignore"):
                out[f"mean_{c}"] = s / n.where(n > 0)
                out[f"m2_{c}"] = (q - s * s / n.where(n > 0)).clip(lower=0.0)
            out[f"sum_{c}"] = s
        for y, x in pairs:
            for m in (y, x):
                if f"n_{m}" in g.columns and not np.allclose(g[f"n_{m}"], g["n"]):
                    raise DataError.single(
                        self.table, f"n_{m}", "no missing values in a metric of a pair (CUPED, ratio)", None
                    )
            n = g["n"]
            xy = g[f"sumxy_{y}_{x}"] if f"sumxy_{y}_{x}" in g.columns else g[f"sumxy_{x}_{y}"]
            k = f"{y}_{x}"
            out[f"n_{k}"] = n.astype("int64")
            out[f"mean_{y}_{x}"] = g[f"sum_{y}"] / n
            out[f"mean_{x}_{y}"] = g[f"sum_{x}"] / n
            out[f"m2x_{k}"] = (g[f"sumsq_{x}"] - g[f"sum_{x}"] ** 2 / n).clip(lower=0.0)
            out[f"c_{k}"] = xy - g[f"sum_{y}"] * g[f"sum_{x}"] / n
        return out.reset_index()


def arm_sums(
    data: Any,
    arm: str,
    metrics: Sequence[str],
    pairs: Sequence[tuple[str, str]] = (),
    by: Sequence[str] = (),
    backend: str = "duckdb",
    table: str = "contacts",
) -> ArmSums:
    """The sums an :class:`ArmSums` holds, computed from rows in the engine (DuckDB or Spark: only the sums
    come back) — the query a warehouse would run. Booleans count as 0/1; a missing value is left out of its
    metric's sums and counted in ``n_<m>``."""
    from cmlib import engine
    from cmlib.validation import require_columns

    t = engine.table(data, backend)
    require_columns(t, [arm, *metrics, *(c for p in pairs for c in p), *by], table)
    t = t.filter(t[arm].notnull())
    aggs: dict[str, Any] = {"n": t.count().cast("int64")}
    for m in metrics:
        x = t[m].cast("float64")
        aggs[f"n_{m}"] = x.count().cast("int64")
        aggs[f"sum_{m}"] = x.sum()
        aggs[f"sumsq_{m}"] = (x * x).sum()
    for y, x in pairs:
        aggs[f"sumxy_{y}_{x}"] = (t[y].cast("float64") * t[x].cast("float64")).sum()
    keys = [arm, *by]
    raw = engine.execute(t.group_by(keys).aggregate(**aggs).order_by(keys), backend)
    for m in metrics:  # a metric with no missing rows needs no count of its own
        if (raw[f"n_{m}"] == raw["n"]).all():
            raw = raw.drop(columns=f"n_{m}")
    raw = raw.fillna({c: 0.0 for c in raw.columns if c.startswith(("sum_", "sumsq_", "sumxy_"))})
    return ArmSums(raw.reset_index(drop=True), arm, table)


def is_sums(data: Any) -> bool:
    """Whether ``data`` is a table of per-arm sums rather than rows."""
    return isinstance(data, ArmSums)


def looks_like_sums(columns: Sequence[str]) -> bool:
    """A table read from a file holds sums when it has ``n`` and at least one ``sum_<metric>`` column."""
    cols = set(map(str, columns))
    return "n" in cols and any(c.startswith("sum_") for c in cols)


def check_arm(sums: ArmSums, arm: str) -> None:
    if arm != sums.arm:
        raise ParameterError("arm", f"the sums' arm column '{sums.arm}'", arm)
