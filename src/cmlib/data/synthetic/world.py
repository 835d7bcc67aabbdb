"""cmlib.data.synthetic — assembling the world (one section of the package; the package re-exports every name)."""

from __future__ import annotations

import json
import os
import signal
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cmlib.data.synthetic.aggregates import (
    BANK_CUSTOMERS,
    MARKET,
    SEGMENT_GROWTH,
    SEGMENT_SHARE,
    _channel_funnel,
    _channel_spend,
    _market,
)
from cmlib.data.synthetic.block import LEGACY_CUTOFF, STAGES, _block
from cmlib.data.synthetic.campaigns import EXPERIMENT_ID, _campaigns
from cmlib.data.synthetic.customers import default_features
from cmlib.data.synthetic.dates import Calendar
from cmlib.data.synthetic.monitoring import (
    CUSTOMER_INPUTS,
    MONITORING_TABLES,
    MONITORING_TRUTH,
    simulate_monitoring,
)
from cmlib.data.synthetic.truth import (
    ADMISSION_RULES,
    ARM_RESPONSE,
    BLOCK,
    CASHBACK_ACTIVATION,
    CHARGE_OFF_AFTER_ONSET,
    CLOSURE_BETA,
    DEFAULT_BETA,
    FUNDING_COST_MONTHLY,
    GUARDRAIL_RELATIVE_MARGIN,
    INTERCHANGE_RATE,
    MACRO_GAMMA,
    PREPAY_BETA,
    PROPENSITY_LOG_ODDS,
    RETENTION_TEST,
    SCHEMA_VERSION,
    TRAP_EARLY_LOG_HR,
    UTILISATION_DELINQUENT,
    UTILISATION_PER_MOB,
    UTILISATION_START,
    VALUE_DISCOUNT_RATE,
    VALUE_HORIZON_MONTHS,
    BankWorld,
    default_baseline,
)
from cmlib.errors import ParameterError
from cmlib.memory import release_memory
from cmlib.process import die_with_parent
from cmlib.vocab import (
    ARMS,
    NO_FILE,
    THIN_FILE,
)

#: the truth tables: their name in ``BankWorld.truth_tables`` → their key in a block and folder under ``truth/``
TRUTH_TABLES = {"applications": "truth_applications", "uplift": "uplift"}


def _check_size(n_customers: int, random_state: int) -> None:
    if not isinstance(n_customers, int | np.integer) or isinstance(n_customers, bool) or n_customers < 1_000:
        raise ParameterError("n_customers", "an integer ≥ 1000", n_customers)
    if not isinstance(random_state, int | np.integer) or isinstance(random_state, bool) or random_state < 0:
        raise ParameterError("random_state", "a non-negative integer", random_state)


#: the bank size from which :func:`write_bank` draws blocks in parallel
PARALLEL_FROM = 400_000


def _raw_block(args) -> dict[str, Any]:
    """One block drawn from its own random stream, with application ids from 0 (a worker's task: the ids
    before it are known only once the earlier blocks are drawn, so :func:`iter_blocks` shifts them)."""
    n_customers, random_state, k, cal, campaigns = args
    start = k * BLOCK
    ids = np.arange(start + 1, min(start + BLOCK, n_customers) + 1)
    return _block(cal, campaigns, np.random.default_rng(np.random.SeedSequence([random_state, k])), ids)


def iter_blocks(
    n_customers: int, random_state: int, cal: Calendar, campaigns: pd.DataFrame, processes: int = 1
):
    """Yield each block's tables with global ids assigned (customers, contacts, applications in order).

    ``processes`` > 1 draws blocks in that many worker processes (a few blocks ahead of the one yielded):
    each block has its own random stream and the ids are assigned here, in order, so the world is the same
    bits whatever the number of processes (tested)."""
    tasks = [(n_customers, random_state, k, cal, campaigns) for k in range(-(-n_customers // BLOCK))]
    if processes > 1 and len(tasks) > 1:
        import multiprocessing as mp

        # spawned, not forked: a process that already runs threads (DuckDB's, Arrow's, BLAS's) may not fork
        pool = mp.get_context("spawn").Pool(
            min(processes, len(tasks)), initializer=die_with_parent, initargs=(signal.SIGKILL,)
        )
        pending: deque = deque()
        try:

            def drawn():
                for t in tasks:
                    pending.append(pool.apply_async(_raw_block, (t,)))
                    if len(pending) > 2 * processes:  # bounded: the blocks waiting are a few, not the bank
                        yield pending.popleft().get()
                while pending:
                    yield pending.popleft().get()

            yield from _with_ids(drawn())
        finally:
            pool.terminate()
            pool.join()
    else:
        yield from _with_ids(_raw_block(t) for t in tasks)


def _with_ids(blocks):
    """Blocks in order with their contacts numbered on from the last block's and their application (account)
    ids shifted on from the last block's."""
    next_contact, next_app = 1, 1
    for b in blocks:
        con = b["contacts"]
        con["contact_id"] = np.arange(next_contact, next_contact + len(con), dtype=np.int64)
        b["applications"]["application_id"] += next_app
        b["truth_applications"]["application_id"] += next_app
        b["performance"]["account_id"] += next_app
        b["retention_test"]["account_id"] += next_app
        con["application_id"] += next_app  # nullable: a contact with no application stays empty
        apps = b["applications"]
        crow = apps.pop("_contact_row").to_numpy()
        apps.pop("_row")
        apps["contact_id"] = pd.array(np.where(crow >= 0, next_contact + crow, -1), dtype="Int64")
        apps.loc[apps["contact_id"] < 0, "contact_id"] = pd.NA
        b["uplift"].insert(0, "contact_id", con["contact_id"].to_numpy()[b["exp_contact_index"]])
        next_contact += len(con)
        next_app += b["n_apps"]
        yield b


def _truth(
    random_state, n_customers, cal, exp_sums, apps_truth_stats, channel_params, ranking, ret_sums
) -> dict[str, Any]:
    rates = {a: {s: exp_sums[a][s] / exp_sums[a]["n"] for s in STAGES} for a in ARMS}
    early = {a: exp_sums[a]["early_dpd30_3m_x_booking"] / exp_sums[a]["booked"] for a in ARMS}
    value = {a: exp_sums[a]["value"] / exp_sums[a]["n"] for a in ARMS}
    # the offer is worth shipping when it adds value per contact within the bank's risk appetite
    decision = {
        a: "ship"
        if value[a] > value["control"] and early[a] <= early["control"] * (1 + GUARDRAIL_RELATIVE_MARGIN)
        else "do not ship"
        for a in ARMS[1:]
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "random_state": random_state,
        "n_customers": n_customers,
        "calendar": {k: getattr(cal, k) for k in cal.__dataclass_fields__},
        "admission_rules": ADMISSION_RULES,
        "legacy_cutoff": LEGACY_CUTOFF,
        "special_codes": {"bureau_score": {"no_file": NO_FILE, "thin_file": THIN_FILE}},
        "scorecard": {
            "coefficients_log_hazard": DEFAULT_BETA,
            "feature_ranking": ranking,
            "note": "risk rises with positive coefficients; ranking by |beta| x sd over applications",
        },
        "hazards": {
            "default": {
                "beta": DEFAULT_BETA,
                "hazard_ratio": {k: float(np.exp(v)) for k, v in DEFAULT_BETA.items()},
                "baseline_monthly": default_baseline(48).round(6).tolist(),
                "macro": MACRO_GAMMA,
                "trap_early": TRAP_EARLY_LOG_HR,
                "onset_to_states": "30 DPD at onset, 60 at +1, 90+ at +2..+4, charge-off at +5",
            },
            "closure": {
                "beta": CLOSURE_BETA,
                "baseline_monthly": 0.012,
                "hazard_ratio": {k: float(np.exp(v)) for k, v in CLOSURE_BETA.items()},
            },
            "prepayment": {
                "beta": PREPAY_BETA,
                "baseline_monthly": 0.02,
                "hazard_ratio": {k: float(np.exp(v)) for k, v in PREPAY_BETA.items()},
            },
        },
        "experiment": {
            "id": EXPERIMENT_ID,
            "arms": ARMS,
            "control": "control",
            "trap_arm": "no_fee_high_limit",
            "n_contacts": int(exp_sums["control"]["n"]),
            "rates": rates,
            "lifts": {a: {s: rates[a][s] - rates["control"][s] for s in STAGES} for a in ARMS[1:]},
            "early_dpd30_3m": early,
            "response_log_odds_shift": ARM_RESPONSE,
            "latent_propensity_log_odds": PROPENSITY_LOG_ODDS,
            "per_customer_truth": "truth/uplift: each contact's probabilities and value per arm given what the "
            "bank observes; the latent propensity (N(0, 1) x latent_propensity_log_odds on the response "
            "log-odds) is integrated out, so no targeting model can beat an oracle ranking by them",
            "activation_log_odds_cashback": CASHBACK_ACTIVATION,
            "value_per_contact": value,
            "value_lift_per_contact": {a: value[a] - value["control"] for a in ARMS[1:]},
            "guardrail_relative_margin": GUARDRAIL_RELATIVE_MARGIN,
            "decision": decision,
            "decision_rule": "ship when the true value per contact beats control and the true early 30+ DPD "
            "rate is at most guardrail_relative_margin above control's",
        },
        "account_value": {
            "horizon_months": VALUE_HORIZON_MONTHS,
            "annual_discount_rate": VALUE_DISCOUNT_RATE,
            "interchange_rate": INTERCHANGE_RATE,
            "funding_cost_monthly": FUNDING_COST_MONTHLY,
            "lgd": 1.0,
            "charge_off_months_after_onset": CHARGE_OFF_AFTER_ONSET,
            "utilisation": {
                "start": UTILISATION_START,
                "per_month_on_book": UTILISATION_PER_MOB,
                "delinquent_extra": UTILISATION_DELINQUENT,
            },
            "definition": "margin = balance x (APR/12 - funding cost) + spend x (interchange - reward rate) + "
            "annual fee / 12 while performing; interest accrues in arrears; charge-off books -balance",
        },
        "applications": apps_truth_stats,
        "retention_test": {
            **RETENTION_TEST,
            "n_accounts": int(ret_sums["n"]),
            "n_called": int(ret_sums["n_call"]),
            "closure_within_window": {
                "call": ret_sums["closed_call"] / max(ret_sums["n"], 1.0),
                "no_call": ret_sums["closed_no_call"] / max(ret_sums["n"], 1.0),
            },
            "save_rate": (ret_sums["closed_no_call"] - ret_sums["closed_call"]) / max(ret_sums["n"], 1.0),
            "definition": "closure_within_window: expected share of the tested accounts that close within "
            "`months` of the call month under each arm (both counterfactuals for every account); save_rate: "
            "their difference — closures a call prevents per account called",
        },
        "channel_response": channel_params,
        "market": {
            **MARKET,
            "break_date": cal.market_break,
            "segment_share": SEGMENT_SHARE,
            "segment_monthly_growth": SEGMENT_GROWTH,
        },
        "macro": {
            "series": "unemployment_pct",
            "baseline": 4.5,
            "shock_date": cal.macro_shock,
            "shock_pp": 3.0,
        },
    }


class _Acc:
    """Running sums across blocks (experiment truth, applicants' true outcomes, feature spread)."""

    def __init__(self):
        self.exp = {a: {} for a in ARMS}
        self.n_apps = self.bad_all = self.n_booked = self.bad_booked = 0
        self.fsum = self.fsq = None
        self.by_campaign: pd.DataFrame | None = None  # contacts and bookings per campaign
        self.ret = {"n": 0.0, "n_call": 0.0, "closed_call": 0.0, "closed_no_call": 0.0}

    def add(self, b):
        for k, v in b["retention_sums"].items():
            self.ret[k] += v
        c = b["contacts"].groupby("campaign_id")["booked"].agg(n="size", booked="sum")
        self.by_campaign = c if self.by_campaign is None else self.by_campaign.add(c, fill_value=0)
        for a, d in b["experiment_sums"].items():
            for k, v in d.items():
                self.exp[a][k] = self.exp[a].get(k, 0.0) + float(v)
        ta, apps = b["truth_applications"], b["applications"]
        self.n_apps += len(ta)
        self.bad_all += int(ta["bad_12m_true"].sum())
        bk = apps["booked"].to_numpy()
        self.n_booked += int(bk.sum())
        self.bad_booked += int(ta["bad_12m_true"].to_numpy()[bk].sum())
        x = default_features(apps)
        s, q = x.sum(), (x**2).sum()
        self.fsum = s if self.fsum is None else self.fsum + s
        self.fsq = q if self.fsq is None else self.fsq + q

    def aggregates(self, random_state: int, n_customers: int, cal: Calendar, campaigns: pd.DataFrame):
        """The bank-wide weekly ``channel_spend`` (derived from these contacts), its curves, the ``market``."""
        by_campaign = (
            self.by_campaign.reset_index()
            if self.by_campaign is not None
            else pd.DataFrame({"campaign_id": [], "n": [], "booked": []})
        )
        funnel = _channel_funnel(by_campaign, campaigns)
        g = np.random.default_rng(np.random.SeedSequence([random_state, 10**9]))
        spend, curves = _channel_spend(g, cal, funnel, BANK_CUSTOMERS / n_customers)
        market = _market(np.random.default_rng(np.random.SeedSequence([random_state, 10**9 + 1])), cal)
        return spend, curves, market

    def stats(self):
        return {
            "n": self.n_apps,
            "through_the_door_bad_rate": self.bad_all / max(self.n_apps, 1),
            "n_booked": self.n_booked,
            "booked_bad_rate": self.bad_booked / max(self.n_booked, 1),
            "bad_definition": "90+ DPD reached by 12 months on book",
        }

    def ranking(self):
        mean = self.fsum / self.n_apps
        sd = np.sqrt(np.maximum(self.fsq / self.n_apps - mean**2, 0))
        imp = {k: abs(DEFAULT_BETA[k]) * float(sd[k]) for k in DEFAULT_BETA}
        return sorted(imp, key=imp.get, reverse=True)


def simulate_bank(
    n_customers: int = 100_000, random_state: int = 1, calendar: Calendar | None = None
) -> BankWorld:
    """Generate the simulated bank in memory (see the module docstring). Deterministic for a random_state.

    ``n_customers`` ≥ 1000. Beyond a few million customers use :func:`write_bank`, which streams blocks to
    Parquet with bounded memory.
    """
    _check_size(n_customers, random_state)
    cal = calendar or Calendar()
    campaigns = _campaigns(cal)
    acc = _Acc()
    parts: dict[str, list[pd.DataFrame]] = {
        k: []
        for k in (
            "customers",
            "contacts",
            "applications",
            "performance",
            "retention_test",
            "truth_applications",
            "uplift",
        )
    }
    for b in iter_blocks(n_customers, random_state, cal, campaigns):
        acc.add(b)
        for k in parts:
            parts[k].append(b[k])
    spend, ch_params, market = acc.aggregates(random_state, n_customers, cal, campaigns)
    cat = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
    truth = _truth(random_state, n_customers, cal, acc.exp, acc.stats(), ch_params, acc.ranking(), acc.ret)
    return BankWorld(
        cat["customers"],
        campaigns,
        cat["contacts"],
        cat["applications"],
        cat["performance"],
        spend,
        market,
        cat["retention_test"],
        truth,
        {name: cat[key] for name, key in TRUTH_TABLES.items()},
    )


def write_bank(
    out: str | Path,
    n_customers: int = 100_000,
    random_state: int = 1,
    calendar: Calendar | None = None,
    chunk_size: int = 1_000_000,
    progress=None,
) -> Path:
    """Write the simulated bank to ``out/``: one Parquet folder per table (a file per chunk), ``truth.json``
    and ``truth/`` tables. Memory is bounded by ``chunk_size`` customers. Returns ``out``.

    ``progress(done, total)`` is called after each chunk.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_size(n_customers, random_state)
    if chunk_size < BLOCK or chunk_size % BLOCK:
        raise ParameterError("chunk_size", f"a multiple of {BLOCK}", chunk_size)
    cal = calendar or Calendar()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    campaigns = _campaigns(cal)
    acc = _Acc()
    names = ("customers", "contacts", "applications", "performance", "retention_test")
    tnames = tuple(TRUTH_TABLES.values())
    for d in names:
        (out / d).mkdir(exist_ok=True)
        for old in (out / d).glob("*.parquet"):
            old.unlink()
    for d in tnames:
        (out / "truth" / d).mkdir(parents=True, exist_ok=True)
        for old in (out / "truth" / d).glob("*.parquet"):
            old.unlink()
    buf: dict[str, list[pd.DataFrame]] = {k: [] for k in names + tnames}
    per_chunk = chunk_size // BLOCK
    done, part = 0, 0

    def flush():
        nonlocal part
        for k, v in buf.items():
            if v:
                folder = out / k if k in names else out / "truth" / k
                pq.write_table(
                    pa.Table.from_pandas(pd.concat(v, ignore_index=True), preserve_index=False),
                    folder / f"part-{part:05d}.parquet",
                )
                v.clear()
        part += 1

    # blocks drawn on every core when there are enough of them to repay starting the workers (~1 s each)
    processes = (os.cpu_count() or 1) if n_customers >= PARALLEL_FROM else 1
    for i, b in enumerate(iter_blocks(n_customers, random_state, cal, campaigns, processes), start=1):
        acc.add(b)
        for k in buf:
            buf[k].append(b[k])
        done += len(b["customers"])
        if i % per_chunk == 0:
            flush()
            if progress:
                progress(done, n_customers)
    if any(buf.values()):
        flush()
        if progress:
            progress(done, n_customers)
    spend, ch_params, market = acc.aggregates(random_state, n_customers, cal, campaigns)
    for name, df in (("campaigns", campaigns), ("channel_spend", spend), ("market", market)):
        (out / name).mkdir(exist_ok=True)
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), out / name / "part-00000.parquet")
    truth = _truth(random_state, n_customers, cal, acc.exp, acc.stats(), ch_params, acc.ranking(), acc.ret)
    # the weekly monitoring feed, drawn for the customers just written (its own random stream). The chunks'
    # freed pages go back to the system first and only the columns it draws from are read: at 10M customers
    # the feed is the builder's largest step (peak 8.9 GB before, 1.7 GB of it pages already freed)
    release_memory()
    mon = simulate_monitoring(pd.read_parquet(out / "customers", columns=list(CUSTOMER_INPUTS)), random_state)
    for name, df in mon.tables().items():
        folder = out / MONITORING_TABLES[name]
        folder.mkdir(exist_ok=True)
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), folder / "part-00000.parquet")
    (out / MONITORING_TRUTH).write_text(json.dumps(mon.truth, indent=2, default=_json_default))
    (out / "truth.json").write_text(json.dumps(truth, indent=2, default=_json_default))
    return out


def _json_default(o):
    if isinstance(o, np.integer | np.floating):
        return o.item()
    if isinstance(o, pd.Timestamp):
        return o.date().isoformat()
    raise TypeError(type(o))
