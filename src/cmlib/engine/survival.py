"""cmlib.engine — survival (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd

from cmlib.engine.core import _as_float, _columns_exist, execute_numeric, table


def survival_counts(
    data: Any,
    duration: str,
    event: str,
    by: Sequence[str] = (),
    entry: str | None = None,
    backend: str = "duckdb",
) -> pd.DataFrame:
    """Events and at-risk counts per distinct time (and group) — the input of Kaplan–Meier, Nelson–Aalen
    and discrete-time hazard models.

    ``duration`` is the exit time, ``event`` 1 for the event and 0 for censoring. With ``entry`` (left
    truncation, an account observed from a later month) a subject is at risk at time t when
    ``entry < t ≤ duration``. Columns: ``time``, ``n_event``, ``n_censored``, ``n_entry``, ``at_risk``.
    An in-memory frame is counted in numpy (:func:`group_counts`), with the same result.
    """
    # rows and events per exit time, entries per entry time: GROUP BY on the engine, a count in numpy for a frame
    ex = group_counts(data, [*by, duration], event, backend).rename(columns={duration: "time", "n": "n_exit"})
    ent = None
    if entry:
        ent = (
            group_counts(data, [*by, entry], backend=backend)
            .rename(columns={entry: "time", "n": "n_entry"})
            .sort_values([*by, "time"])
        )
    groups = [((), ex)] if not by else list(ex.groupby(list(by), sort=True))
    out = []
    for key, g in groups:
        g = g.sort_values("time")
        e = None
        if ent is not None:
            e = (
                ent
                if not by
                else ent.merge(
                    pd.DataFrame([key] if isinstance(key, tuple) else [[key]], columns=list(by)), on=list(by)
                )
            )
            e = (e["time"].to_numpy(), e["n_entry"].to_numpy())
        r = _risk_table(g["time"].to_numpy(), g["n_exit"].to_numpy(), g["n_event"].to_numpy(), e)
        for k, col in enumerate(by):
            r.insert(k, col, key[k] if isinstance(key, tuple) else key)
        out.append(r)
    return out[0] if len(out) == 1 else pd.concat(out, ignore_index=True)


def group_counts(
    data: Any, by: Sequence[str], event: str | None = None, backend: str = "duckdb"
) -> pd.DataFrame:
    """Rows (``n``) and, with ``event``, the sum of that 0/1 column (``n_event``) per distinct combination of
    ``by`` (NULL is a key value of its own); only combinations that occur, in no particular order.

    An in-memory frame is counted in numpy: whole-number key columns with a small range are used as they are,
    other key columns are factorised, and the combinations counted by one ``bincount`` — the same counts as the
    engine's GROUP BY (tested), without handing the rows to DuckDB."""
    by = list(by)
    cols = by + ([event] if event else [])
    if isinstance(data, pd.DataFrame):
        _columns_exist(data, cols, "durations")
        res = _group_counts_frame(data, by, event)
        if res is not None:
            return res
    t = table(data, backend)
    _columns_exist(t, cols, "durations")
    aggs = {"n": ibis._.count().cast("int64")}
    if event:
        aggs["n_event"] = t[event].cast("int64").sum().fill_null(0).cast("int64")
    return execute_numeric(t.group_by(by).aggregate(**aggs), backend)


def _group_counts_frame(df: pd.DataFrame, by: list[str], event: str | None) -> pd.DataFrame | None:
    codes, values, size = [], [], 1
    for c in by:
        x = df[c].to_numpy()
        if x.dtype.kind in "iub" and len(x):
            x = x.view(np.int8) if x.dtype.kind == "b" else x
            lo, hi = int(x.min()), int(x.max())
            if 0 <= lo and hi < 1_000_000:
                lo = (
                    0  # small non-negative whole numbers (months on book, flags) are their own codes: no copy
                )
            if hi - lo < 1_000_000:
                # x − lo stays in x's range when lo ≥ 0; a negative lo could overflow a narrow type
                codes.append(x if lo == 0 else x - lo if lo > 0 else np.subtract(x, lo, dtype=np.int32))
                values.append(np.arange(lo, hi + 1).astype(df[c].to_numpy().dtype))
                size *= hi - lo + 1
                continue
        code, uniq = pd.factorize(df[c], sort=True, use_na_sentinel=False)
        codes.append(code)
        values.append(uniq)
        size *= max(len(uniq), 1)
    if size > 50_000_000:  # too many combinations for a dense count: let the engine group them
        return None
    w = None
    if event:
        w = df[event].to_numpy()
        if w.dtype.kind not in "iub":
            w = _as_float(df[event])
            w = np.where(np.isnan(w), 0.0, w)
    pairs = w is not None and w.dtype.kind in "iub" and w.min() >= 0 and w.max() <= 1
    # one integer key per combination (mixed radix), times 2 plus the event when the event is 0/1: a
    # single bincount then gives rows and events (intp, the type bincount counts in: no hidden copy)
    radix = [len(v) for v in values] + ([2] if pairs else [])
    key = np.multiply(codes[0], radix[1] if len(radix) > 1 else 1, dtype=np.intp)
    for i, code in enumerate(codes[1:], start=1):
        key += code
        if i + 1 < len(radix):
            key *= radix[i + 1]
    if pairs:
        key += w
        both = np.bincount(key, minlength=2 * size)
        n, n_ev = both[0::2] + both[1::2], both[1::2]
    else:
        n = np.bincount(key, minlength=size)
        n_ev = None if w is None else np.bincount(key, weights=w, minlength=size)
    at = np.flatnonzero(n)
    out, rest = {}, at.copy()
    for c, v in zip(reversed(by), reversed(values), strict=True):  # decode the mixed-radix key
        out[c] = v.take(rest % len(v))  # an array or an Index: both take positions
        rest //= len(v)
    counts = {"n": n[at].astype(np.int64)} | (
        {"n_event": np.rint(n_ev[at]).astype(np.int64)} if event else {}
    )
    return pd.DataFrame({c: out[c] for c in by} | counts)


def _risk_table(
    times: np.ndarray, n_exit: np.ndarray, n_event: np.ndarray, entries: tuple[np.ndarray, np.ndarray] | None
) -> pd.DataFrame:
    """The :func:`survival_counts` table of one group from exits per sorted time and, with left
    truncation, entries per sorted entry time: at risk at t = entered before t − exited before t."""
    n_exit = np.asarray(n_exit, dtype=np.int64)
    n_event = np.asarray(n_event, dtype=np.int64)
    if entries is None:
        n_entry = np.zeros(len(times), dtype=np.int64)
        at_risk = np.cumsum(n_exit[::-1])[::-1]
    else:
        e_t, e_n = np.asarray(entries[0], dtype=float), np.asarray(entries[1], dtype=np.int64)
        cum = np.concatenate([[0], np.cumsum(e_n)])
        left, right = np.searchsorted(e_t, times, "left"), np.searchsorted(e_t, times, "right")
        n_entry = cum[right] - cum[left]
        at_risk = cum[left] - (np.cumsum(n_exit) - n_exit)
    return pd.DataFrame(
        {
            "time": np.asarray(times, dtype=float),
            "n_event": n_event,
            "n_censored": n_exit - n_event,
            "n_entry": n_entry,
            "at_risk": at_risk,
        }
    )
