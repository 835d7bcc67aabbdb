"""Optimal binning: the exact best merge of ordered pre-bins under constraints, by dynamic programming.

Given per-pre-bin event and total counts (from :func:`cmlib.engine.bin_counts`, so a table of any size
reduces to a few dozen rows), :func:`optimal_partition` returns the contiguous grouping of pre-bins that
maximises information value subject to: a monotonic event-rate pattern (ascending, descending, the better
of the two, peak or valley), at most ``max_bins`` bins, a minimum share of rows per bin and minimum event
and non-event counts per bin. The optimum is exact (no heuristic, no MIP solver): IV is a sum over bins,
so the best partition ending in bin [i, j) extends the best valid partition ending at i.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from cmlib import engine
from cmlib.base import BaseEstimator, check_is_fitted
from cmlib.errors import DataError, ParameterError
from cmlib.validation import check_binary, require_columns
from cmlib.vocab import special_label

PATTERNS = ("ascending", "descending", "auto", "peak", "valley", "none")


def bin_iv(
    events: float, total: float, all_events: float, all_nonevents: float, smoothing: float = 0.5
) -> float:
    """Information value contributed by one bin: (e − n)·ln(e / n) with e, n the bin's shares of all events
    and non-events; ``smoothing`` (added to both counts) keeps a pure bin finite."""
    e = (events + smoothing) / (all_events + smoothing)
    n = (total - events + smoothing) / (all_nonevents + smoothing)
    return float((e - n) * np.log(e / n))


def strong_and_significant(
    events: float,
    total: float,
    all_events: float,
    all_total: float,
    alpha: float | None,
    min_odds_ratio: float = 2.0,
) -> bool:
    """Whether a small bin's event rate differs from the rest of the sample enough to keep it on its own:
    a two-sided two-proportion z-test at level ``alpha`` *and* an odds ratio against the rest of at least
    ``min_odds_ratio`` (or at most its inverse). ``alpha=None`` switches the exception off."""
    if alpha is None or total <= 0 or total >= all_total:
        return False
    e2, t2 = all_events - events, all_total - total
    p1, p2, p = events / total, e2 / t2, all_events / all_total
    se = np.sqrt(p * (1 - p) * (1 / total + 1 / t2))
    if se == 0:
        return False
    z = (p1 - p2) / se
    odds = ((events + 0.5) / (total - events + 0.5)) / ((e2 + 0.5) / (t2 - e2 + 0.5))
    return bool(math.erfc(abs(z) / math.sqrt(2)) < alpha and abs(np.log(odds)) >= np.log(min_odds_ratio))


def optimal_partition(
    events: Sequence[float],
    totals: Sequence[float],
    monotonic: str = "auto",
    max_bins: int = 8,
    min_bin_share: float = 0.05,
    min_events: int = 1,
    min_nonevents: int = 1,
    smoothing: float = 0.5,
    rare_alpha: float | None = None,
    rare_min_odds_ratio: float = 2.0,
) -> list[int]:
    """Edges of the IV-maximising partition of ordered pre-bins: ``[0, c1, …, n]``, bin k = pre-bins
    ``edges[k]:edges[k+1]``. Event rates of consecutive bins must rise strictly (ascending), fall strictly
    (descending), rise then fall (peak) or fall then rise (valley); ``auto`` takes the better of ascending
    and descending; ``none`` imposes nothing. Raises DataError when no partition satisfies the constraints
    (for instance too few events for the minimum per bin).

    The minimum bin share is a default, not a law: with ``rare_alpha`` set, a bin below it is still allowed
    when its event rate differs from the rest significantly and strongly (:func:`strong_and_significant`) —
    a rare but strong flag keeps its own bin instead of vanishing into its neighbour."""
    ev = np.asarray(events, float)
    tot = np.asarray(totals, float)
    if len(ev) != len(tot) or len(ev) == 0:
        raise ParameterError("events/totals", "two non-empty sequences of equal length", (len(ev), len(tot)))
    if (ev < 0).any() or (tot < ev).any():
        raise DataError.single(
            "bin_counts", "n_event", "0 ≤ events ≤ rows in every pre-bin", int(((ev < 0) | (tot < ev)).sum())
        )
    if monotonic not in PATTERNS:
        raise ParameterError("monotonic", f"one of {PATTERNS}", monotonic)
    if max_bins < 1:
        raise ParameterError("max_bins", "an integer ≥ 1", max_bins)
    if monotonic == "auto":
        best = None
        for pat in ("ascending", "descending"):
            try:
                edges = optimal_partition(
                    ev,
                    tot,
                    pat,
                    max_bins,
                    min_bin_share,
                    min_events,
                    min_nonevents,
                    smoothing,
                    rare_alpha,
                    rare_min_odds_ratio,
                )
            except DataError:
                continue
            iv = _partition_iv(ev, tot, edges, smoothing)
            if best is None or iv > best[0] + 1e-12:
                best = (iv, edges)
        if best is None:
            raise DataError.single(
                "bin_counts", "n_event", "a partition meeting the binning constraints", int(tot.sum())
            )
        return best[1]
    n = len(ev)
    E, T = ev.sum(), tot.sum()
    NE = T - E
    ce, ct = np.concatenate([[0.0], np.cumsum(ev)]), np.concatenate([[0.0], np.cumsum(tot)])

    def ok(i: int, j: int) -> bool:
        e, t = ce[j] - ce[i], ct[j] - ct[i]
        if e < min_events or t - e < min_nonevents:
            return False
        return t >= min_bin_share * T - 1e-9 or strong_and_significant(
            e, t, E, T, rare_alpha, rare_min_odds_ratio
        )

    def rate(i: int, j: int) -> float:
        return (ce[j] - ce[i]) / (ct[j] - ct[i])

    def value(i: int, j: int) -> float:
        return bin_iv(ce[j] - ce[i], ct[j] - ct[i], E, NE, smoothing)

    # phase 0: still rising (peak) / falling (valley) or the only phase; phase 1: after the turn
    def allowed(prev: float, cur: float, phase: int) -> list[int]:
        if monotonic == "none":
            return [0]
        if monotonic == "ascending":
            return [0] if cur > prev else []
        if monotonic == "descending":
            return [0] if cur < prev else []
        up = cur > prev
        down = cur < prev
        first_dir, second_dir = (up, down) if monotonic == "peak" else (down, up)
        out = []
        if phase == 0 and first_dir:
            out.append(0)
        if second_dir:
            out.append(1)  # turning (or continuing after the turn)
        return out

    NEG = -np.inf
    # best[b][(i, j, phase)] = best IV of a partition of [0, j) into b bins whose last bin is [i, j)
    best: list[dict] = [dict() for _ in range(max_bins + 1)]
    back: list[dict] = [dict() for _ in range(max_bins + 1)]
    for j in range(1, n + 1):
        if ok(0, j):
            best[1][(0, j, 0)] = value(0, j)
    for b in range(2, max_bins + 1):
        for (k, i, ph), v in best[b - 1].items():
            if i == n:
                continue
            r_prev = rate(k, i)
            for j in range(i + 1, n + 1):
                if not ok(i, j):
                    continue
                for nph in allowed(r_prev, rate(i, j), ph):
                    if ph == 1 and nph == 0:
                        continue
                    key = (i, j, nph)
                    cand = v + value(i, j)
                    if cand > best[b].get(key, NEG) + 1e-15:
                        best[b][key] = cand
                        back[b][key] = (k, i, ph)
    finals = [(v, b, key) for b in range(1, max_bins + 1) for key, v in best[b].items() if key[1] == n]
    if not finals:
        raise DataError.single(
            "bin_counts",
            "n_event",
            "a partition meeting the binning constraints "
            f"(min share {min_bin_share}, min events {min_events}, pattern {monotonic})",
            int(T),
        )
    # prefer fewer bins on ties (simpler), then the first found
    v, b, key = max(finals, key=lambda f: (round(f[0], 12), -f[1]))
    edges = [n]
    while b >= 1:
        i, j, ph = key
        edges.append(i)
        if b == 1:
            break
        key = back[b][key]
        b -= 1
    return sorted(set(edges))


def _partition_iv(ev: np.ndarray, tot: np.ndarray, edges: Sequence[int], smoothing: float = 0.5) -> float:
    E, T = ev.sum(), tot.sum()
    return sum(
        bin_iv(ev[a:b].sum(), tot[a:b].sum(), E, T - E, smoothing)
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    )


def _binned_gini(tab: pd.DataFrame) -> float:
    """Gini (2·AUC − 1) of a feature's WoE as a score for good vs bad, ties within a bin counted half."""
    t = tab[tab["n"] > 0].sort_values("woe", kind="stable")
    good, bad = t["n_nonevent"].to_numpy(float), t["n_event"].to_numpy(float)
    G, B = good.sum(), bad.sum()
    if G == 0 or B == 0:
        return 0.0
    bad_before = np.concatenate([[0.0], np.cumsum(bad)[:-1]])
    auc = float(np.sum(good / G * (bad_before + 0.5 * bad) / B))
    return 2 * auc - 1


# --- a scikit-learn style binner ------------------------------------------------------------------

import pandas as pd  # noqa: E402  (kept beside the estimator that needs it)


class WoEBinner(BaseEstimator):
    """Bin every feature optimally and replace values by the weight of evidence of their bin.

    scikit-learn conventions: ``__init__`` stores parameters, ``fit(X, y)`` returns self, fitted state ends
    with ``_``. Numeric features are pre-binned at ``n_prebins`` quantiles (through :mod:`cmlib.engine`, so
    counts come from the engine), then merged by :func:`optimal_partition`; missing values and each value
    of ``special_codes[feature]`` get their own bins; categoricals are ordered by event rate, levels under
    ``min_bin_share`` pooled into ``"(rare)"``, and unseen levels at transform map to the missing bin (WoE 0,
    average risk, when there were no missing values at fit).
    A rare numeric bin or categorical level keeps its own bin when its event rate is significantly
    (``rare_alpha``) and strongly (odds ratio ≥ ``rare_min_odds_ratio``) different from the rest; set
    ``rare_alpha=None`` for a strict minimum share. ``user_splits={feature: [b1, b2, …]}`` overrides the
    optimiser for a numeric feature (manual breaks: bins [-inf, b1), [b1, b2), …, [bk, inf)).
    WoE = ln(share of non-events / share of events) per bin (positive = safer), with ``smoothing``.
    ``backend``: where the counts run — ``"duckdb"`` (a frame is counted in numpy, a table by DuckDB) or
    ``"spark"`` (a frame is registered in Spark and every count is a Spark aggregate; the bins are the same,
    tested, since Spark's ``percentile`` is exact).
    """

    def __init__(
        self,
        n_prebins: int = 20,
        max_bins: int = 6,
        min_bin_share: float = 0.03,
        min_events: int = 5,
        monotonic: str = "auto",
        special_codes: dict | None = None,
        smoothing: float = 0.5,
        rare_alpha: float | None = 0.001,
        rare_min_odds_ratio: float = 2.0,
        user_splits: dict | None = None,
        backend: str = "duckdb",
    ):
        self.n_prebins = n_prebins
        self.max_bins = max_bins
        self.min_bin_share = min_bin_share
        self.min_events = min_events
        self.monotonic = monotonic
        self.special_codes = special_codes
        self.smoothing = smoothing
        self.rare_alpha = rare_alpha
        self.rare_min_odds_ratio = rare_min_odds_ratio
        self.user_splits = user_splits
        self.backend = backend

    def _woe(self, e: float, t: float) -> float:
        s = self.smoothing
        return float(
            np.log(((t - e + s) / (self.total_nonevents_ + s)) / ((e + s) / (self.total_events_ + s)))
        )

    def fit(self, X, y) -> WoEBinner:
        """Fit on a pandas frame ``X`` with labels ``y`` (1 = event), or on any engine source (an Ibis table,
        a Parquet file or folder) with ``y`` the name of its 0/1 target column — then every count is an
        engine aggregate and the rows never reach Python."""

        table_name = "training data"
        backend = self.backend
        engine.connect(backend)  # an unknown backend is a ParameterError before anything is counted
        if isinstance(X, pd.DataFrame):
            y = check_binary(pd.DataFrame({"target": np.asarray(y)}), "target", table_name)
            if len(X) != len(y):
                raise ParameterError("y", f"{len(X)} labels", len(y))
            target, features = "_target", list(X.columns)
            # a flag is a 0/1 number: bins [-inf, 1) and [1, inf), scored the same way in SQL
            flags = {f: X[f].astype(float) for f in features if pd.api.types.is_bool_dtype(X[f])}
            t = X.assign(**flags, _target=y.to_numpy())  # stays in memory: the engine counts frames in numpy
            n, n_event = len(y), float(y.sum())  # check_binary has checked the values and both classes
            if backend != "duckdb":
                t = engine.table(t, backend)
        else:
            if not isinstance(y, str):
                raise ParameterError(
                    "y", "the target column's name when X is a table or path", type(y).__name__
                )
            t = engine.table(X, backend)
            target, features = y, [c for c in t.columns if c != y]
            require_columns(t, [target], table_name)
            tv = t[target]
            r0 = engine.execute(
                t.aggregate(
                    n=t.count(),
                    n_event=tv.cast("float64").sum(),
                    n_null_target=tv.isnull().sum().cast("int64"),
                    n_bad_target=(~tv.cast("float64").isin([0.0, 1.0])).sum().cast("int64"),
                ),
                backend,
            ).iloc[0]
            n, n_event = int(r0["n"]), float(r0["n_event"] or 0)
            if int(r0["n_null_target"] or 0):
                raise DataError.single(
                    table_name, target, "binary target has no missing values", int(r0["n_null_target"])
                )
            if int(r0["n_bad_target"] or 0):
                raise DataError.single(table_name, target, "binary target in {0, 1}", int(r0["n_bad_target"]))
            if n_event in (0, n):
                raise DataError.single(table_name, target, "both classes present", n)
        prof = engine.column_profile(t, features, backend)
        self.total_events_ = n_event
        self.total_nonevents_ = float(n - n_event)
        self.tables_: dict[str, pd.DataFrame] = {}
        self.features_ = features
        numeric, categorical = [], []
        for f, p in prof.iterrows():
            if p["n_values"] == 0:
                raise DataError.single(table_name, f, "not all missing", n)
            if p["min"] == p["max"]:
                raise DataError.single(table_name, f, "at least two distinct values", n)
            (numeric if p["numeric"] else categorical).append(f)
        specials = {f: list((self.special_codes or {}).get(f, [])) for f in numeric}
        manual = {
            f: sorted(float(b) for b in self.user_splits[f]) for f in numeric if f in (self.user_splits or {})
        }
        # few values (flags, counts): one pre-bin per value; else quantile pre-bins — a handful of queries in all
        few = [
            f
            for f in numeric
            if f not in manual and prof.loc[f, "n_distinct"] <= self.n_prebins + len(specials[f])
        ]
        edges = dict(manual)
        for f, vals in engine.distinct_values_many(t, few, backend).items():
            vals = [v for v in vals if v not in specials[f]]
            if len(vals) <= self.n_prebins:  # the approximate count can be a little off: check exactly
                edges[f] = vals[1:]
        edges.update(
            engine.quantile_edges_many(
                t, {f: specials[f] for f in numeric if f not in edges}, self.n_prebins, backend
            )
        )
        # categoricals are counted as text by bin_counts_many on either path
        counts = engine.bin_counts_many(
            t, target, {f: (edges[f], specials[f]) for f in numeric}, categorical, backend
        )
        for f in features:
            if f in numeric:
                pre = counts[f]
                main = pre[pre["bin_index"] >= 0].reset_index(drop=True)
                cut = (
                    list(range(len(main) + 1))
                    if f in manual
                    else optimal_partition(
                        main["n_event"],
                        main["n"],
                        self.monotonic,
                        self.max_bins,
                        self.min_bin_share,
                        self.min_events,
                        1,
                        self.smoothing,
                        self.rare_alpha,
                        self.rare_min_odds_ratio,
                    )
                )
                rows = []
                for a, b in zip(cut[:-1], cut[1:], strict=True):
                    g = main.iloc[a:b]
                    rows.append(
                        {
                            "bin": f"[{g['lower'].iloc[0]:g}, {g['upper'].iloc[-1]:g})",
                            "lower": g["lower"].iloc[0],
                            "upper": g["upper"].iloc[-1],
                            "n": g["n"].sum(),
                            "n_event": g["n_event"].sum(),
                        }
                    )
                for r in pre[pre["bin_index"] < 0].itertuples():
                    rows.append(
                        {"bin": r.bin, "lower": np.nan, "upper": np.nan, "n": r.n, "n_event": r.n_event}
                    )
                tab = pd.DataFrame(rows)
            else:
                cnt = counts[f]
                miss = cnt[cnt["bin"] == "missing"]
                cnt = cnt[cnt["bin"] != "missing"]
                rare = (cnt["n"] < self.min_bin_share * n) & ~np.array(
                    [
                        (e >= self.min_events)
                        and strong_and_significant(
                            e, m, n_event, n, self.rare_alpha, self.rare_min_odds_ratio
                        )
                        for e, m in zip(cnt["n_event"], cnt["n"], strict=True)
                    ],
                    dtype=bool,
                )
                pooled = (
                    pd.DataFrame(
                        [
                            {
                                "bin": "(rare)",
                                "n": cnt.loc[rare, "n"].sum(),
                                "n_event": cnt.loc[rare, "n_event"].sum(),
                            }
                        ]
                    )
                    if rare.any()
                    else cnt.head(0)
                )
                tab = pd.concat([cnt.loc[~rare, ["bin", "n", "n_event"]], pooled], ignore_index=True)
                tab["levels"] = [[b] if b != "(rare)" else cnt.loc[rare, "bin"].tolist() for b in tab["bin"]]
                tab = self._merge_levels(tab, n_event, n)
                tab = pd.concat(
                    [
                        tab,
                        pd.DataFrame(
                            [
                                {
                                    "bin": "missing",
                                    "n": int(miss["n"].sum()),
                                    "n_event": int(miss["n_event"].sum()),
                                    "levels": [],
                                }
                            ]
                        ),
                    ],
                    ignore_index=True,
                )
            if "missing" not in set(tab["bin"]):
                tab = pd.concat(
                    [tab, pd.DataFrame([{"bin": "missing", "n": 0, "n_event": 0}])], ignore_index=True
                )
            tab["n_nonevent"] = tab["n"] - tab["n_event"]
            tab["event_rate"] = tab["n_event"] / tab["n"].where(tab["n"] > 0)
            # an empty bin (no missing values at fit) is neutral: WoE 0, the population's average risk
            tab["woe"] = [
                self._woe(e, t) if t > 0 else 0.0 for e, t in zip(tab["n_event"], tab["n"], strict=True)
            ]
            e_sh = (tab["n_event"] + self.smoothing) / (self.total_events_ + self.smoothing)
            n_sh = (tab["n_nonevent"] + self.smoothing) / (self.total_nonevents_ + self.smoothing)
            tab["iv"] = np.where(tab["n"] > 0, (n_sh - e_sh) * np.log(n_sh / e_sh), 0.0)
            self.tables_[f] = tab
        self.iv_ = pd.Series(
            {f: float(t["iv"].sum()) for f, t in self.tables_.items()}, name="iv"
        ).sort_values(ascending=False)
        self.gini_ = pd.Series({f: _binned_gini(t) for f, t in self.tables_.items()}, name="gini").reindex(
            self.iv_.index
        )
        return self

    def _merge_levels(self, tab: pd.DataFrame, n_event: float, n: float) -> pd.DataFrame:
        """Order a categorical's level groups by event rate and merge neighbours optimally (the same exact
        DP as numeric pre-bins, ascending), so ``max_bins`` and ``min_events`` hold for categoricals too.
        When the constraints cannot be met the groups stay as they are."""
        tab = (
            tab.assign(_rate=tab["n_event"] / tab["n"])
            .sort_values("_rate", kind="stable")
            .reset_index(drop=True)
        )
        if len(tab) <= 1:
            return tab.drop(columns="_rate")
        try:
            cut = optimal_partition(
                tab["n_event"], tab["n"], "ascending", self.max_bins, 0.0, self.min_events, 1, self.smoothing
            )
        except DataError:
            return tab.drop(columns="_rate")
        rows = []
        for a, b in zip(cut[:-1], cut[1:], strict=True):
            g = tab.iloc[a:b]
            rows.append(
                {
                    "bin": ", ".join(g["bin"]) if b - a > 1 else g["bin"].iloc[0],
                    "n": g["n"].sum(),
                    "n_event": g["n_event"].sum(),
                    "levels": [lv for lvs in g["levels"] for lv in lvs],
                }
            )
        return pd.DataFrame(rows)

    def _check(self, X: pd.DataFrame, features: list[str]) -> None:
        unknown = [c for c in X.columns if c not in self.tables_]
        if unknown:
            raise DataError(
                "scoring data",
                [{"column": c, "rule": "a feature seen at fit", "n_rows": len(X)} for c in unknown],
            )
        require_columns(X, features, "scoring data")

    def transform(self, X: pd.DataFrame, features: list[str] | None = None) -> pd.DataFrame:
        """WoE of each value's bin (unseen categorical levels and missing values → the missing bin's WoE).
        ``features``: only these (default: every fitted feature); a column not seen at fit is an error."""
        check_is_fitted(self, "tables_")
        features = self.features_ if features is None else list(features)
        self._check(X, features)
        # one float block filled column by column (setting frame columns one by one copies each of them),
        # the columns in threads: each writes its own column
        out = np.empty((len(X), len(features)), dtype=float, order="F")

        def one(j: int) -> None:
            f = features[j]
            tab, col = self.tables_[f], X[f]
            woe_missing = float(tab.loc[tab["bin"] == "missing", "woe"].iloc[0])
            if "lower" in tab and tab["lower"].notna().any():
                num = tab[tab["lower"].notna()]
                x = pd.to_numeric(col, errors="coerce").to_numpy(float, na_value=np.nan)
                idx = np.zeros(len(x), dtype=np.intp)
                for u in num["upper"].to_numpy()[
                    :-1
                ]:  # bin = number of upper bounds ≤ x (few passes, no search)
                    idx += x >= u
                vals = num["woe"].to_numpy()[idx]
                for code in (self.special_codes or {}).get(f, []):
                    lab = special_label(code)
                    w = tab.loc[tab["bin"] == lab, "woe"]
                    vals = np.where(x == code, float(w.iloc[0]) if len(w) else woe_missing, vals)
                out[:, j] = np.where(np.isnan(x), woe_missing, vals)
            else:
                m = {lv: w for lv_list, w in zip(tab["levels"], tab["woe"], strict=True) for lv in lv_list}
                # map each distinct level once (codes), not every row's string; levels compare as text
                codes, levels = pd.factorize(col.astype("string"))
                lut = np.array([m.get(str(c), woe_missing) for c in levels] + [woe_missing], dtype=float)
                out[:, j] = lut[codes]  # code −1 (missing) picks the last entry

        engine.in_threads(one, range(len(features)))
        return pd.DataFrame(out, index=X.index, columns=features, copy=False)

    def fit_transform(self, X: pd.DataFrame, y) -> pd.DataFrame:
        return self.fit(X, y).transform(X)
