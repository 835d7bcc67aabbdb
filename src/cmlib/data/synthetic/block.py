"""cmlib.data.synthetic — contacts, applications and performance for one block of customers (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cmlib.data.synthetic.campaigns import EXPERIMENT_ID, EXPERIMENT_SHARE
from cmlib.data.synthetic.customers import _cloglog_p, _customers, _sigmoid
from cmlib.data.synthetic.dates import Calendar, unemployment
from cmlib.data.synthetic.truth import (
    ADMISSION_RULES,
    ARM_OFFER,
    ARM_RESPONSE,
    CASHBACK_ACTIVATION,
    CHANNEL_REACH,
    CHANNEL_RESPONSE,
    CHARGE_OFF_AFTER_ONSET,
    CLOSURE_BETA,
    DEEP_CURE_SHARE,
    FUNDING_COST_MONTHLY,
    INTERCHANGE_RATE,
    MACRO_GAMMA,
    P_ACTIVATE,
    P_APPLY,
    P_BOOK,
    PREPAY_BETA,
    PROPENSITY_LOG_ODDS,
    RETENTION_TEST,
    TRAP_EARLY_LOG_HR,
    UTILISATION_DELINQUENT,
    UTILISATION_PER_MOB,
    UTILISATION_START,
    VALUE_DISCOUNT_RATE,
    VALUE_HORIZON_MONTHS,
    default_baseline,
)
from cmlib.vocab import (
    ARMS,
    CHANNEL_PERMISSION,
    CHANNELS,
    NO_FILE,
)

RISK_Z_CENTER, RISK_Z_SCALE = 0.85, 1.15  # fixed centring of risk_eta so blocks share one definition


LEGACY_CENTER = 1.25  # the legacy score is 600 at this log-hazard shift (about 60% approved)


LEGACY_PDO_FACTOR = 50 / np.log(2)


LEGACY_CUTOFF = 600


ORGANIC_APPLY = 0.12  # chance a customer applies unprompted during the campaign window


SPEND_SIGMA_90D, SPEND_SIGMA_MONTH = 0.7, 0.3  # log-normal noise of 90-day and monthly card spend


def _block(
    cal: Calendar, campaigns: pd.DataFrame, rng: np.random.Generator, ids: np.ndarray
) -> dict[str, Any]:
    """One block of customers (``ids``) and everything that happens to them, from ``rng``; applications
    (accounts) are numbered from 0 within the block, :func:`~cmlib.data.synthetic.world.iter_blocks` shifts
    them to the bank's numbering."""
    cust, lat = _customers(rng, ids)
    n = len(cust)
    eta, prop, score_z = lat["risk_eta"], lat["propensity"], lat["score_z"]
    risk_z = (eta - RISK_Z_CENTER) / RISK_Z_SCALE
    young = cust["age"].to_numpy() < 35
    rel = cust["existing_relationship"].to_numpy()
    dnc = cust["do_not_contact"].to_numpy()
    n_months = cal.campaign_months

    # business-as-usual waves: Poisson number of contacts per eligible customer and channel
    pieces = []
    for ci, ch in enumerate(CHANNELS):
        perm = CHANNEL_PERMISSION[ch]
        eligible = ~dnc & (cust[perm].to_numpy() if perm else True)
        k = rng.poisson(CHANNEL_REACH[ch] * n_months, n) * eligible
        idx = np.repeat(np.arange(n), k)
        month = rng.integers(0, n_months, len(idx))
        pieces.append(
            pd.DataFrame(
                {
                    "row": idx,
                    "month": month,
                    "campaign_id": 1000 + 10 * month + ci,
                    "channel": ch,
                    "arm": "",
                    "experiment_id": "",
                }
            )
        )
    # the randomised test: a share of mail-eligible customers, four arms with equal allocation
    eligible = ~dnc & cust["perm_mail"].to_numpy()
    sel = np.flatnonzero(eligible & (rng.random(n) < EXPERIMENT_SHARE))
    arm_idx = rng.integers(0, len(ARMS), len(sel))
    pieces.append(
        pd.DataFrame(
            {
                "row": sel,
                "month": cal.experiment_month,
                "campaign_id": 9001 + arm_idx,
                "channel": "direct_mail",
                "arm": np.array(ARMS)[arm_idx],
                "experiment_id": EXPERIMENT_ID,
            }
        )
    )
    con = pd.concat(pieces, ignore_index=True)
    con = con.sort_values(["month", "row", "campaign_id"], kind="stable").reset_index(drop=True)
    r = con["row"].to_numpy()
    m = len(con)
    arm = con["arm"].to_numpy()
    base = np.log(
        np.array([CHANNEL_RESPONSE[c] for c in CHANNELS])
        / (1 - np.array([CHANNEL_RESPONSE[c] for c in CHANNELS]))
    )
    ch_idx = pd.Categorical(con["channel"], categories=CHANNELS).codes
    # what the bank can see, and a latent taste for offers it cannot (-0.08 centres the propensity terms)
    seen = base[ch_idx] + 0.3 * rel[r] - 0.08
    common = seen + PROPENSITY_LOG_ODDS * prop[r]

    def arm_shift(a: str, rows: np.ndarray) -> np.ndarray:
        s = ARM_RESPONSE[a]
        return (
            s["intercept"]
            + s.get("score_z", 0.0) * score_z[rows]
            + s.get("young", 0.0) * young[rows]
            + s.get("risk_z", 0.0) * risk_z[rows]
        )

    shift = np.zeros(m)
    for a in ARMS[1:]:
        w = arm == a
        shift[w] = arm_shift(a, r[w])
    p_resp = _sigmoid(common + shift)
    responded = rng.random(m) < p_resp
    applied = responded & (rng.random(m) < P_APPLY)
    day = rng.integers(0, 28, m)
    month_start = cal.campaign_index[con["month"].to_numpy()]
    contact_date = month_start + pd.to_timedelta(day, unit="D")

    # applications: from contacts and organic; at most the attributes the bank sees at application
    app_rows = np.flatnonzero(applied)
    org = np.flatnonzero(rng.random(n) < ORGANIC_APPLY)
    org_month = rng.integers(0, n_months, len(org))
    a_cust_row = np.concatenate([r[app_rows], org])
    a_month = np.concatenate([con["month"].to_numpy()[app_rows], org_month])
    a_day = np.concatenate(
        [np.minimum(day[app_rows] + rng.integers(1, 10, len(app_rows)), 27), rng.integers(0, 28, len(org))]
    )
    a_contact = np.concatenate([app_rows, np.full(len(org), -1)])
    a_arm = np.concatenate([arm[app_rows], np.full(len(org), "")])
    camp = campaigns.set_index("campaign_id")
    a_campaign = np.concatenate([con["campaign_id"].to_numpy()[app_rows], np.full(len(org), -1)])
    a_channel = np.concatenate([con["channel"].to_numpy()[app_rows], np.full(len(org), "organic")])
    known = a_campaign >= 0
    offer = np.tile(np.array(ARM_OFFER["control"]), (len(a_campaign), 1))
    offer[known] = camp.loc[
        a_campaign[known], ["apr", "annual_fee", "credit_limit", "reward_rate"]
    ].to_numpy()
    product = np.where(known, camp["product"].reindex(a_campaign).fillna("card").to_numpy(), "card")
    na = len(a_cust_row)
    attrs = cust.iloc[a_cust_row].reset_index(drop=True)
    a_eta = eta[a_cust_row]
    # the bank's current score: a noisy reading of the true risk (25 points double the odds)
    legacy = np.round(600 - LEGACY_PDO_FACTOR * (a_eta + rng.normal(0, 0.45, na) - LEGACY_CENTER) / 2.0)
    reason = np.full(na, "", dtype=object)
    fails = {
        "min_age": attrs["age"].to_numpy() < 21,
        "min_income": attrs["income"].to_numpy() < 12_000,
        "max_dti": attrs["dti"].to_numpy() > 0.55,
        "no_bureau_file": attrs["bureau_score"].to_numpy() == NO_FILE,
        "do_not_lend": attrs["do_not_lend"].to_numpy(),
    }
    for rule in [r_["rule"] for r_ in ADMISSION_RULES][::-1]:  # first failing rule wins
        reason[fails[rule]] = rule
    passes = reason == ""
    reason[passes & (legacy < LEGACY_CUTOFF)] = "score_below_cutoff"
    approved = reason == ""
    booked = approved & (rng.random(na) < P_BOOK)
    is_cash = a_arm == "cashback"
    p_act = _sigmoid(np.log(P_ACTIVATE / (1 - P_ACTIVATE)) + CASHBACK_ACTIVATION * is_cash)
    activated = booked & (rng.random(na) < p_act) & (product == "card") | booked & (product == "loan")
    pre = attrs["pre_spend_monthly"].to_numpy()
    spend_90d = np.where(
        activated & (product == "card"),
        np.round(
            np.exp(np.log(250) + 0.5 * np.log1p(pre / 100) + rng.normal(0, SPEND_SIGMA_90D, na))
            * np.where(is_cash, 1.10, 1.0),
            2,
        ),
        0.0,
    )

    # outcomes of every applicant (declined ones only reach the truth): competing monthly hazards
    book_month = a_month + 1  # first month on book = the month after application
    panel_idx = cal.panel_index
    macro = unemployment(cal).reindex(panel_idx).to_numpy()
    horizon = len(panel_idx) - int(book_month.min()) if na else 0
    h0 = default_baseline(max(horizon, 12) + 1)
    trap = a_arm == "no_fee_high_limit"
    apr = offer[:, 0]
    inactive = ~activated
    log_inc = np.where(
        np.isnan(attrs["income"].to_numpy()),
        0.0,
        np.log(np.maximum(attrs["income"].to_numpy(), 1.0) / 40_000.0),
    )
    eta_close = (
        np.log(-np.log1p(-0.012))
        + CLOSURE_BETA["inactive"] * inactive
        + CLOSURE_BETA["cashback_arm"] * is_cash
        + CLOSURE_BETA["age_per_10y"] * (attrs["age"].to_numpy() - 40) / 10
        + CLOSURE_BETA["existing_relationship"] * attrs["existing_relationship"].to_numpy()
        + CLOSURE_BETA["apr_pp_above_18"] * (apr - 18)
    )
    eta_prepay = (
        np.log(-np.log1p(-0.02))
        + PREPAY_BETA["apr_pp_above_18"] * (apr - 18)
        + PREPAY_BETA["log_income"] * log_inc
    )
    onset = np.zeros(na, dtype=np.int64)  # MOB of default onset (0 = none)
    exit_mob = np.zeros(na, dtype=np.int64)  # MOB of closure/prepayment (0 = none)
    exit_kind = np.full(na, "", dtype=object)
    transient = np.zeros((na, 4), dtype=bool)  # transient 30 DPD at MOB 1..3 (for early delinquency)
    transient_mobs: list[np.ndarray] = []
    alive = np.ones(na, dtype=bool)
    p_trans_base = 0.012 * np.exp(0.5 * (a_eta - RISK_Z_CENTER))
    # the retention test: drawn from a child stream, so the rest of the bank is the same with or without it
    rt = RETENTION_TEST
    g_ret = rng.spawn(1)[0]
    t_ret = panel_idx.get_loc(pd.Timestamp(rt["month"])) - book_month + 1  # month on book at the call
    in_test = booked & (product == "card") & (t_ret >= rt["min_mob"]) & (g_ret.random(na) < rt["share"])
    call = g_ret.random(na) < 0.5
    tested = np.zeros(na, dtype=bool)
    # expected closures within the window under each arm, for every tested account (the true save rate)
    surv_arm = {k: np.ones(na) for k in ("call", "no_call")}
    closed_arm = {k: np.zeros(na) for k in ("call", "no_call")}
    for t in range(1, max(horizon, 12) + 1):
        cal_idx = np.minimum(book_month + t - 1, len(panel_idx) - 1)
        eta_t = (
            np.log(-np.log1p(-h0[t - 1]))
            + a_eta
            + MACRO_GAMMA * (macro[cal_idx] - 4.5)
            + TRAP_EARLY_LOG_HR * (trap & (t <= 6))
        )
        u = rng.random(na)
        p_d = _cloglog_p(eta_t)
        new_def = alive & (u < p_d)
        onset[new_def] = t
        alive &= ~new_def
        tested |= in_test & alive & (t == t_ret)  # open and performing at the start of the call month
        window = tested & (t >= t_ret) & (t < t_ret + rt["months"])
        eta_close_t = eta_close + rt["closure_log_hr"] * (window & call)
        for k, shift in (("call", rt["closure_log_hr"]), ("no_call", 0.0)):
            p_ck = _cloglog_p(eta_close[window] + shift) * (1 - p_d[window])
            closed_arm[k][window] += surv_arm[k][window] * p_ck
            surv_arm[k][window] *= (1 - p_d[window]) * (1 - _cloglog_p(eta_close[window] + shift))
        p_x = np.where(product == "loan", _cloglog_p(eta_prepay), _cloglog_p(eta_close_t))
        x = alive & (rng.random(na) < p_x)
        exit_mob[x] = t
        exit_kind[x] = np.where(product[x] == "loan", "prepaid", "closed")
        alive &= ~x
        tr = alive & (rng.random(na) < np.minimum(p_trans_base, 0.5))
        transient_mobs.append(tr)
        if t <= 3:
            transient[:, t] = tr
    bad_12m_true = (onset > 0) & (onset + 2 <= 12)
    early = ((onset > 0) & (onset <= 3)) | transient[:, 3]
    # some cured episodes reach 60 DPD before curing; drawn from a child stream, so every other draw (and
    # every account's value, which these episodes do not change) is the same with or without them
    g_deep = rng.spawn(1)[0]
    deep_mobs = [tr & (g_deep.random(na) < DEEP_CURE_SHARE) for tr in transient_mobs]

    app_ids = np.arange(na, dtype=np.int64)
    apps = attrs.drop(
        columns=["perm_email", "perm_sms", "perm_phone", "perm_mail", "do_not_contact", "pre_spend_monthly"]
    )
    apps.insert(0, "application_id", app_ids)
    apps.insert(2, "contact_id", pd.array(np.full(na, -1), dtype="Int64"))  # set by the caller
    apps.insert(3, "campaign_id", pd.array(a_campaign, dtype="Int64"))
    apps.insert(4, "channel", a_channel)
    apps.insert(5, "product", product)
    apps.insert(6, "application_date", cal.campaign_index[a_month] + pd.to_timedelta(a_day, unit="D"))
    apps["bank_score"] = legacy.astype(np.int64)
    apps["decision"] = np.where(approved, "approved", "declined")
    apps["decline_reason"] = pd.array(np.where(approved, None, reason), dtype="string")
    apps["booked"] = booked
    apps["bad_12m"] = np.where(booked, bad_12m_true.astype(float), np.nan)
    apps["apr"], apps["credit_limit"] = offer[:, 0], offer[:, 2]
    apps["annual_fee"], apps["reward_rate"] = offer[:, 1], offer[:, 3]
    apps["_row"] = np.arange(na)
    apps["_contact_row"] = a_contact

    perf = _panel(
        rng,
        cal,
        apps,
        booked,
        book_month,
        onset,
        exit_mob,
        exit_kind,
        transient_mobs,
        deep_mobs,
        activated,
        spend_90d,
        offer,
        product,
    )

    # contacts table
    c_app = np.full(m, -1, dtype=np.int64)
    c_app[app_rows] = app_ids[: len(app_rows)]
    fl = {k: np.zeros(m, dtype=bool) for k in ("approved", "booked", "activated")}
    for k, v in (("approved", approved), ("booked", booked), ("activated", activated)):
        fl[k][app_rows] = v[: len(app_rows)]
    c_spend = np.zeros(m)
    c_spend[app_rows] = spend_90d[: len(app_rows)]
    c_early = np.full(m, np.nan)
    c_early[app_rows] = np.where(booked[: len(app_rows)], early[: len(app_rows)].astype(float), np.nan)
    contacts = pd.DataFrame(
        {
            "contact_id": np.zeros(m, dtype=np.int64),  # set globally by the caller
            "customer_id": cust["customer_id"].to_numpy()[r],
            "campaign_id": con["campaign_id"].to_numpy().astype(np.int64),
            "experiment_id": pd.array(
                np.where(con["experiment_id"] == "", None, con["experiment_id"]), dtype="string"
            ),
            "arm": pd.array(np.where(arm == "", None, arm), dtype="string"),
            "channel": con["channel"].to_numpy(),
            "contact_date": contact_date,
            "pre_spend_90d": np.round(
                3 * cust["pre_spend_monthly"].to_numpy()[r] * np.exp(rng.normal(0, 0.25, m)), 2
            ),
            "responded": responded,
            "applied": applied,
            "approved": fl["approved"],
            "booked": fl["booked"],
            "activated": fl["activated"],
            "spend_90d": c_spend,
            "early_dpd30_3m": c_early,
            "application_id": pd.array(np.where(c_app >= 0, c_app, -1), dtype="Int64"),
        }
    )
    contacts.loc[contacts["application_id"] < 0, "application_id"] = pd.NA

    # truth of the experiment: expected per-contacted rate of each stage under each arm, summed
    exp_rows = np.flatnonzero(arm != "")
    exp_truth, uplift = _experiment_truth(cust, eta, score_z, risk_z, young, seen[exp_rows], r[exp_rows], cal)
    # each applicant's true value if booked on its offer (before activation is known: its chance)
    eta_close_0 = eta_close - CLOSURE_BETA["inactive"] * inactive
    e_spend = np.exp(np.log(250) + 0.5 * np.log1p(pre / 100) + SPEND_SIGMA_90D**2 / 2) * np.where(
        is_cash, 1.10, 1.0
    )
    value_if_booked = _booked_value(
        offer, trap, a_eta, eta_close_0, p_act, e_spend, macro, book_month, product == "loan", eta_prepay
    )
    retention = pd.DataFrame(
        {
            "account_id": app_ids[tested],
            "test_month": pd.Timestamp(rt["month"]),
            "arm": np.where(call[tested], "call", "no_call"),
            "call_cost": np.where(call[tested], rt["cost_per_call"], 0.0),
        }
    )
    retention_sums = {
        "n": float(tested.sum()),
        "n_call": float((tested & call).sum()),
        "closed_call": float(closed_arm["call"][tested].sum()),
        "closed_no_call": float(closed_arm["no_call"][tested].sum()),
    }
    truth_apps = pd.DataFrame(
        {
            "application_id": app_ids,
            "bad_12m_true": bad_12m_true,
            "risk_eta": a_eta,
            "default_onset_mob": onset,
            "value_if_booked": value_if_booked,
        }
    )
    return {
        "customers": cust,
        "contacts": contacts,
        "applications": apps,
        "performance": perf,
        "truth_applications": truth_apps,
        "experiment_sums": exp_truth,
        "retention_test": retention,
        "retention_sums": retention_sums,
        "n_apps": na,
        "uplift": uplift,
        "exp_contact_index": exp_rows,
    }


def _panel(
    rng,
    cal,
    apps,
    booked,
    book_month,
    onset,
    exit_mob,
    exit_kind,
    transient_mobs,
    deep_mobs,
    activated,
    spend_90d,
    offer,
    product,
) -> pd.DataFrame:
    """Monthly rows of booked accounts from booking to charge-off, closure, prepayment or observation end.
    A cured episode of arrears is 30 DPD for a month (``transient_mobs``), or 30 then 60 DPD (``deep_mobs``,
    if the account still performs the month after); default onset is 30, 60, then 90+ DPD to charge-off."""
    panel_idx = cal.panel_index
    b = np.flatnonzero(booked)
    if len(b) == 0:
        return _empty_panel()
    last_obs = len(panel_idx) - 1 - book_month[b] + 1  # MOB of the last observed month
    end_default = np.where(onset[b] > 0, onset[b] + CHARGE_OFF_AFTER_ONSET, np.iinfo(np.int64).max)
    end_exit = np.where(exit_mob[b] > 0, exit_mob[b], np.iinfo(np.int64).max)
    n_rows = np.minimum(np.minimum(end_default, end_exit), last_obs)
    acc = np.repeat(b, n_rows)
    mob = np.concatenate([np.arange(1, k + 1) for k in n_rows]) if len(n_rows) else np.zeros(0, int)
    on = onset[acc]
    since = np.where(on > 0, mob - on, -1)
    state = np.full(len(acc), "current", dtype=object)
    tmat = np.stack(transient_mobs, axis=1) if transient_mobs else np.zeros((len(booked), 1), bool)
    tr = tmat[acc, np.minimum(mob - 1, tmat.shape[1] - 1)]
    state[tr] = "dpd30"
    state[since == 0] = "dpd30"
    state[since == 1] = "dpd60"
    state[(since >= 2) & (since < CHARGE_OFF_AFTER_ONSET)] = "dpd90"
    state[since == CHARGE_OFF_AFTER_ONSET] = "charged_off"
    ex = (exit_mob[acc] == mob) & (since < 0)
    state[ex] = exit_kind[acc][ex]
    dmat = np.stack(deep_mobs, axis=1) if deep_mobs else np.zeros((len(booked), 1), bool)
    prev = mob - 2  # the episode's first month, as a column of dmat
    deep = (prev >= 0) & (prev < dmat.shape[1]) & dmat[acc, np.clip(prev, 0, dmat.shape[1] - 1)]
    state[deep & (state == "current")] = "dpd60"
    dpd = (
        pd.Series(state)
        .map(
            {
                "current": 0,
                "dpd30": 30,
                "dpd60": 60,
                "dpd90": 90,
                "charged_off": 180,
                "closed": 0,
                "prepaid": 0,
            }
        )
        .to_numpy()
    )
    limit = offer[acc, 2]
    apr = offer[acc, 0]
    is_loan = product[acc] == "loan"
    util0 = np.clip(UTILISATION_START + 0.05 * rng.standard_normal(len(b)), 0.05, 0.9)[
        np.searchsorted(b, acc)
    ]
    bal_card = (
        limit
        * np.clip(util0 + UTILISATION_PER_MOB * mob + UTILISATION_DELINQUENT * (since >= 0), 0, 1.1)
        * activated[acc]
    )
    bal_loan = limit * np.clip(1 - mob / 60.0, 0, 1)
    balance = np.round(np.where(is_loan, bal_loan, bal_card), 2)
    balance[np.isin(state, ["closed", "prepaid"])] = 0.0
    exited = np.isin(state, ["closed", "prepaid"])
    spend = np.where(
        ~is_loan & activated[acc] & (since < 0) & ~exited,
        np.round(spend_90d[acc] / 3 * np.exp(rng.normal(0, SPEND_SIGMA_MONTH, len(acc))), 2),
        0.0,
    )
    fee, reward = offer[acc, 1], offer[acc, 3]
    # the fee is charged while the account performs; interest accrues on delinquent balances too
    margin = np.round(
        balance * (apr / 1200 - FUNDING_COST_MONTHLY)
        + (INTERCHANGE_RATE - reward) * spend
        + np.where((since < 0) & ~exited, fee / 12, 0.0),
        2,
    )
    margin[state == "charged_off"] = -balance[state == "charged_off"]
    return pd.DataFrame(
        {
            "account_id": apps["application_id"].to_numpy()[acc],
            "customer_id": apps["customer_id"].to_numpy()[acc],
            "month": panel_idx[book_month[acc] + mob - 1],
            "mob": mob.astype(np.int64),
            "product": product[acc],
            "state": state.astype(str),
            "dpd": dpd.astype(np.int64),
            "balance": balance,
            "spend": spend,
            "margin": margin,
            "credit_limit": limit,
        }
    )


def _empty_panel() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": pd.Series(dtype=np.int64),
            "customer_id": pd.Series(dtype=np.int64),
            "month": pd.Series(dtype="datetime64[ns]"),
            "mob": pd.Series(dtype=np.int64),
            "product": pd.Series(dtype=object),
            "state": pd.Series(dtype=object),
            "dpd": pd.Series(dtype=np.int64),
            "balance": pd.Series(dtype=float),
            "spend": pd.Series(dtype=float),
            "margin": pd.Series(dtype=float),
            "credit_limit": pd.Series(dtype=float),
        }
    )


#: the funnel as the contacts table records it (the truth's lifts use the same names)
STAGES = ["responded", "applied", "approved", "booked", "activated", "spend_90d"]


def _experiment_truth(cust, eta, score_z, risk_z, young, seen, rows, cal):
    """Expected per-contacted rate of every funnel stage under every arm for the experiment's contacts
    (sums, to be divided by the count once all blocks are in), and each contact's response probability
    under each arm (the per-customer uplift) and its true value: P(booked | contacted with the arm) × the
    expected value of the booked account under the arm's terms (:func:`_booked_value`).

    Every probability is conditional on what the bank can observe about the customer (``seen``: the
    response log-odds without the latent propensity): the latent N(0, 1) taste for offers is integrated out
    by Gauss–Hermite quadrature. So the per-customer truth is the conditional average effect that a targeting
    model can at best learn, and an oracle ranking by it is the best any targeting on the bank's data can do.
    """
    pre = cust["pre_spend_monthly"].to_numpy()[rows]
    inc = cust["income"].to_numpy()[rows]
    attrs = cust.iloc[rows]
    fails = (
        (attrs["age"].to_numpy() < 21)
        | (inc < 12_000)
        | (attrs["dti"].to_numpy() > 0.55)
        | (attrs["bureau_score"].to_numpy() == NO_FILE)
        | attrs["do_not_lend"].to_numpy()
    )
    from scipy.special import ndtr

    e = eta[rows]
    p_approve = np.where(fails, 0.0, ndtr((LEGACY_CENTER + 1.0 / LEGACY_PDO_FACTOR - e) / 0.45))
    panel_idx = cal.panel_index
    macro = unemployment(cal).reindex(panel_idx).to_numpy()
    book_month = cal.experiment_month + 1
    h0 = default_baseline(6)
    sums: dict[str, dict[str, float]] = {}
    uplift, value, booking = {}, {}, {}
    nodes, weights = np.polynomial.hermite.hermgauss(20)
    weights = weights / np.sqrt(np.pi)  # E[f(Z)], Z ~ N(0, 1) = Σ w f(√2 x) / √π
    for a in ARMS:
        s = ARM_RESPONSE[a]
        shift = (
            s["intercept"]
            + s.get("score_z", 0.0) * score_z[rows]
            + s.get("young", 0.0) * young[rows]
            + s.get("risk_z", 0.0) * risk_z[rows]
        )
        p_r = _sigmoid(seen[:, None] + shift[:, None] + PROPENSITY_LOG_ODDS * np.sqrt(2) * nodes) @ weights
        uplift[a] = p_r
        p_app = p_r * P_APPLY
        p_ok = p_app * p_approve
        p_book = p_ok * P_BOOK
        p_act1 = _sigmoid(np.log(P_ACTIVATE / (1 - P_ACTIVATE)) + CASHBACK_ACTIVATION * (a == "cashback"))
        p_act = p_book * p_act1
        e_spend = np.exp(np.log(250) + 0.5 * np.log1p(pre / 100) + SPEND_SIGMA_90D**2 / 2) * (
            1.10 if a == "cashback" else 1.0
        )
        apr = ARM_OFFER[a][0]
        eta_c = (
            np.log(-np.log1p(-0.012))
            + CLOSURE_BETA["cashback_arm"] * (a == "cashback")
            + CLOSURE_BETA["age_per_10y"] * (attrs["age"].to_numpy() - 40) / 10
            + CLOSURE_BETA["existing_relationship"] * attrs["existing_relationship"].to_numpy()
            + CLOSURE_BETA["apr_pp_above_18"] * (apr - 18)
        )
        p_c = p_act1 * _cloglog_p(eta_c) + (1 - p_act1) * _cloglog_p(eta_c + CLOSURE_BETA["inactive"])
        surv, onset3 = np.ones(len(rows)), np.zeros(len(rows))
        for t in range(1, 4):
            eta_t = (
                np.log(-np.log1p(-h0[t - 1]))
                + e
                + MACRO_GAMMA * (macro[book_month + t - 1] - 4.5)
                + TRAP_EARLY_LOG_HR * (a == "no_fee_high_limit")
            )
            p_d = _cloglog_p(eta_t)
            onset3 += surv * p_d
            surv = surv * (1 - p_d) * (1 - p_c)
        p_early = onset3 + surv * np.minimum(0.012 * np.exp(0.5 * (e - RISK_Z_CENTER)), 0.5)
        v_book = _booked_value(
            np.array(ARM_OFFER[a]), a == "no_fee_high_limit", e, eta_c, p_act1, e_spend, macro, book_month
        )
        value[a] = p_book * v_book
        booking[a] = p_book
        sums[a] = {
            "responded": p_r.sum(),
            "applied": p_app.sum(),
            "approved": p_ok.sum(),
            "booked": p_book.sum(),
            "activated": p_act.sum(),
            "spend_90d": (p_act * e_spend).sum(),
            "early_dpd30_3m_x_booking": (p_book * p_early).sum(),
            "value": value[a].sum(),
            "n": float(len(rows)),
        }
    up = pd.DataFrame(
        {
            **{f"p_response_{a}": v for a, v in uplift.items()},
            **{f"p_booked_{a}": v for a, v in booking.items()},
            **{f"value_{a}": v for a, v in value.items()},
        }
    )
    up.insert(0, "customer_id", cust["customer_id"].to_numpy()[rows])
    return sums, up


def _booked_value(
    offer,
    trap,
    risk_eta,
    eta_close,
    p_activate,
    e_spend_90d,
    macro,
    book_month,
    is_loan=None,
    eta_prepay=None,
) -> np.ndarray:
    """True expected value of an account booked on ``offer`` (rows of apr %, annual fee, limit, reward rate)
    in ``book_month``, per row: the margin of each month it performs (as the panel books it), the interest
    accrued while it is delinquent and −balance at charge-off, discounted at VALUE_DISCOUNT_RATE over
    VALUE_HORIZON_MONTHS. Cards: activated and inactive accounts (no balance, no spend, higher closure) are
    valued apart and averaged; loans amortise over 60 months and leave by prepayment (``eta_prepay``)."""
    n = len(risk_eta)
    apr, fee, limit, reward = (np.broadcast_to(np.asarray(offer, float)[..., i], (n,)) for i in range(4))
    loan = np.zeros(n, bool) if is_loan is None else np.asarray(is_loan, bool)
    trap = np.broadcast_to(np.asarray(trap, bool), (n,))
    book_month = np.broadcast_to(np.asarray(book_month), (n,))
    horizon = VALUE_HORIZON_MONTHS
    h0 = default_baseline(horizon)
    disc = (1 + VALUE_DISCOUNT_RATE) ** (-np.arange(0, horizon + CHARGE_OFF_AFTER_ONSET + 2) / 12)
    spend_m = np.where(loan, 0.0, e_spend_90d / 3 * np.exp(SPEND_SIGMA_MONTH**2 / 2))
    carry = apr / 1200 - FUNDING_COST_MONTHLY
    p_activate = np.where(loan, 1.0, np.broadcast_to(p_activate, (n,)))

    def balance(t, arrears):
        card = limit * (UTILISATION_START + UTILISATION_PER_MOB * t + UTILISATION_DELINQUENT * arrears)
        return np.where(loan, limit * np.clip(1 - t / 60.0, 0, 1), card)

    # each month's balances and default probability depend on neither the activation state nor the month of
    # onset: computed once, not in every pass of the loops below (the same numbers; the builder spent a
    # third of its time here)
    performing = {t: balance(t, 0) for t in range(1, horizon + 1)}
    arrears = {t: balance(t, 1) for t in range(1, horizon + 1)}
    p_default = {}
    for t in range(1, horizon + 1):
        cal_idx = np.minimum(book_month + t - 1, len(macro) - 1)
        p_default[t] = _cloglog_p(
            np.log(-np.log1p(-h0[t - 1]))
            + risk_eta
            + MACRO_GAMMA * (macro[cal_idx] - 4.5)
            + TRAP_EARLY_LOG_HR * (trap & (t <= 6))
        )

    total = np.zeros(n)
    for active, weight in ((1.0, p_activate), (0.0, 1 - p_activate)):
        p_exit = _cloglog_p(eta_close + CLOSURE_BETA["inactive"] * (1 - active))
        if eta_prepay is not None:
            p_exit = np.where(loan, _cloglog_p(eta_prepay), p_exit)
        alive = np.ones(n)
        v = np.zeros(n)
        for t in range(1, horizon + 1):
            p_d = p_default[t]
            onset = alive * p_d
            alive = alive * (1 - p_d) * (1 - p_exit)
            v += (
                disc[t]
                * alive
                * (performing[t] * active * carry + active * spend_m * (INTERCHANGE_RATE - reward) + fee / 12)
            )
            for j in range(CHARGE_OFF_AFTER_ONSET + 1):  # arrears: interest accrues, then the write-off
                if t + j > horizon:
                    break
                bad = arrears[t + j] * active
                v += disc[t + j] * onset * (-bad if j == CHARGE_OFF_AFTER_ONSET else bad * carry)
        total += weight * v
    return total
