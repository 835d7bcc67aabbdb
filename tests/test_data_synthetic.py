"""The simulated bank (cmlib/data/synthetic.py): determinism, schemas, chunked writing, truth recovery."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cmlib.data import schemas
from cmlib.data import synthetic as syn
from cmlib.errors import ParameterError


@pytest.fixture(scope="module")
def small():
    return syn.simulate_bank(n_customers=5_000, random_state=7)


@pytest.fixture(scope="module")
def world():
    """100k customers: large enough that sampling error is small against the effects tested."""
    return syn.simulate_bank(n_customers=100_000, random_state=1)


def test_same_seed_same_tables_other_seed_other_tables(small):
    again = syn.simulate_bank(n_customers=5_000, random_state=7)
    for name, df in small.tables().items():
        pd.testing.assert_frame_equal(df, again.tables()[name], check_exact=True, obj=name)
    assert json.dumps(small.truth, sort_keys=True, default=str) == json.dumps(
        again.truth, sort_keys=True, default=str
    )
    other = syn.simulate_bank(n_customers=5_000, random_state=8)
    assert not other.customers["income"].equals(small.customers["income"])


def test_every_table_passes_its_schema(small):
    for name, df in small.tables().items():
        schemas.validate(df, name)


def test_truth_is_json_and_complete(small):
    t = json.loads(json.dumps(small.truth, default=str))
    assert set(t["experiment"]["lifts"]) == {"lower_apr", "cashback", "no_fee_high_limit"}
    assert t["market"]["break_date"] == "2020-04-01"
    assert set(t["channel_response"]) == set(syn.CHANNELS)
    assert t["hazards"]["default"]["hazard_ratio"]["bureau_score_per_100"] == pytest.approx(np.exp(-1.1))
    assert len(small.truth_tables["applications"]) == len(small.applications)
    assert set(small.truth_tables["uplift"]["contact_id"]) == set(
        small.contacts.loc[small.contacts["experiment_id"].notna(), "contact_id"]
    )


def test_written_in_chunks_equals_in_memory(tmp_path):
    n = syn.BLOCK + 3_000  # two blocks, the second partial
    mem = syn.simulate_bank(n_customers=n, random_state=3)
    syn.write_bank(tmp_path, n_customers=n, random_state=3, chunk_size=syn.BLOCK)
    for name, df in mem.tables().items():
        disk = pd.read_parquet(tmp_path / name)
        pd.testing.assert_frame_equal(
            disk.reset_index(drop=True), df.reset_index(drop=True), check_dtype=False, obj=name
        )
    assert len(list((tmp_path / "customers").glob("*.parquet"))) == 2  # one file per chunk
    truth = json.loads((tmp_path / "truth.json").read_text())
    for arm, rates in mem.truth["experiment"]["rates"].items():
        assert truth["experiment"]["rates"][arm] == pytest.approx(rates, rel=1e-12)


def test_blocks_drawn_by_several_processes_give_the_same_bank(tmp_path, monkeypatch):
    """write_bank draws blocks in worker processes on a large bank; the ids are assigned in order afterwards,
    so every table and truth table is the same bits as one process drawing them (three blocks, two workers)."""
    from cmlib.data import cache
    from cmlib.data.synthetic import world

    n = 2 * syn.BLOCK + 1_000
    monkeypatch.setattr(world, "PARALLEL_FROM", 1)
    monkeypatch.setattr(world.os, "cpu_count", lambda: 2)
    syn.write_bank(tmp_path, n_customers=n, random_state=7)
    (tmp_path / cache.MARKER).write_text("test")
    disk, mem = cache.read_bank(tmp_path), syn.simulate_bank(n_customers=n, random_state=7)
    for name, df in mem.tables().items():
        pd.testing.assert_frame_equal(
            getattr(disk, name), df.reset_index(drop=True), check_exact=True, obj=name
        )
    for name, df in mem.truth_tables.items():
        pd.testing.assert_frame_equal(disk.truth_tables[name], df.reset_index(drop=True), check_exact=True)
    assert disk.truth == mem.truth
    assert disk.applications["application_id"].is_unique and disk.performance["account_id"].min() >= 1


def test_bad_size_and_seed_are_parameter_errors():
    with pytest.raises(ParameterError, match="n_customers"):
        syn.simulate_bank(n_customers=10)
    with pytest.raises(ParameterError, match="random_state"):
        syn.simulate_bank(n_customers=5_000, random_state=-1)
    with pytest.raises(ParameterError, match="chunk_size"):
        syn.write_bank("/tmp/never", n_customers=5_000, chunk_size=123)


def test_ids_are_consistent_across_tables(small):
    assert small.contacts["customer_id"].isin(small.customers["customer_id"]).all()
    apps = small.applications
    linked = apps.dropna(subset=["contact_id"])
    con = small.contacts.set_index("contact_id").loc[linked["contact_id"].astype(int)]
    assert (con["customer_id"].to_numpy() == linked["customer_id"].to_numpy()).all()
    assert con["applied"].all()
    assert set(small.performance["account_id"]) == set(apps.loc[apps["booked"], "application_id"])
    # a declined applicant has no observed outcome; a booked one always does
    assert (
        apps.loc[~apps["booked"], "bad_12m"].isna().all()
        and apps.loc[apps["booked"], "bad_12m"].notna().all()
    )


# --- recovery of the truth at 100k customers --------------------------------------------------------

Z = 4.0  # many checks: |z| < 4 keeps the family-wise false-alarm rate tiny while still catching bias


def test_experiment_funnel_reproduces_true_rates(world):
    c = world.contacts[world.contacts["experiment_id"] == "EXP01"]
    rates = world.truth["experiment"]["rates"]
    for arm, g in c.groupby("arm"):
        for col in ["responded", "applied", "approved", "booked", "activated"]:  # the truth's stage names
            p = rates[arm][col]
            se = np.sqrt(p * (1 - p) / len(g))
            assert abs(g[col].mean() - p) < Z * se, (arm, col, g[col].mean(), p)
        s = g["spend_90d"]
        assert abs(s.mean() - rates[arm]["spend_90d"]) < Z * s.std() / np.sqrt(len(g)), (arm, "spend")


def test_trap_arm_has_worse_early_delinquency(world):
    early = world.truth["experiment"]["early_dpd30_3m"]
    assert early["no_fee_high_limit"] > 1.5 * early["control"]
    assert world.truth["experiment"]["lifts"]["no_fee_high_limit"]["responded"] > 0


def _person_months(world):
    """Rows at risk of default onset (booked accounts up to onset) with the true offset and features."""
    apps = world.applications.set_index("application_id")
    tr = world.truth_tables["applications"].set_index("application_id")
    p = world.performance[["account_id", "month", "mob"]].copy()
    onset = tr.loc[p["account_id"], "default_onset_mob"].to_numpy()
    p = p[(onset == 0) | (p["mob"].to_numpy() <= onset)]
    onset = tr.loc[p["account_id"], "default_onset_mob"].to_numpy()
    p["event"] = (onset == p["mob"].to_numpy()).astype(int)
    h0 = syn.default_baseline(60)
    macro = syn.unemployment(syn.Calendar()).reindex(p["month"]).to_numpy()
    arm_of = world.contacts.dropna(subset=["application_id"]).set_index("application_id")["arm"]
    trap = p["account_id"].map(arm_of).eq("no_fee_high_limit").fillna(False).to_numpy(dtype=bool)
    p["offset"] = (
        np.log(-np.log1p(-h0[p["mob"].to_numpy() - 1]))
        + syn.MACRO_GAMMA * (macro - 4.5)
        + syn.TRAP_EARLY_LOG_HR * (trap & (p["mob"].to_numpy() <= 6))
    )
    x = syn.default_features(apps.loc[p["account_id"]].reset_index())
    return p.reset_index(drop=True), x.reset_index(drop=True)


def test_default_hazard_coefficients_are_recovered(world):
    p, x = _person_months(world)
    beta = world.truth["hazards"]["default"]["beta"]
    varying = [c for c in x.columns if x[c].nunique() > 1]  # no-file applicants are never booked
    known = x.drop(columns=varying).to_numpy() @ np.array([beta[k] for k in x.columns if k not in varying])
    glm = sm.GLM(
        p["event"],
        x[varying],
        family=sm.families.Binomial(sm.families.links.CLogLog()),
        offset=p["offset"] + known,
    ).fit()
    z = {k: (glm.params[k] - beta[k]) / glm.bse[k] for k in varying}
    assert all(abs(v) < Z for v in z.values()), z
    # observed events match the expected count under the true model
    eta = p["offset"] + x.to_numpy() @ np.array([beta[k] for k in x.columns])
    expected = (-np.expm1(-np.exp(eta))).sum()
    assert abs(p["event"].sum() - expected) < Z * np.sqrt(expected)


def test_channel_curves_reproduce_truth(world):
    for ch, g in world.channel_spend.groupby("channel"):
        t = world.truth["channel_response"][ch]
        mean = t["base"] + t["top"] * syn.hill(
            syn.adstock(g["spend"].to_numpy(), t["decay"]), t["half_saturation"], t["shape"]
        )
        z = (g["bookings"].sum() - mean.sum()) / np.sqrt(mean.sum())  # Poisson
        assert abs(z) < Z, (ch, z)
        assert g["spend"].eq(0).mean() > 0.05  # dark weeks exist: the curve is identifiable


def test_channel_spend_and_contacts_describe_one_bank(world):
    """The weekly spend table is the bank-wide view of the same campaigns: per channel its share of spend is
    the contacts' share, and its bookings are what the contacts' cost per booking buys (Poisson error only —
    the curve's level is derived from the contacts, not drawn apart from them)."""
    from cmlib import optimize as op

    funnel = op.channel_funnel(world.contacts, world.campaigns).set_index("channel")
    table = world.channel_spend.groupby("channel")[["spend", "bookings"]].sum()
    share = table["spend"] / table["spend"].sum()
    assert np.allclose(share, (funnel["spend"] / funnel["spend"].sum()).reindex(share.index), rtol=1e-3)
    expected = table["spend"] / (funnel["spend"] / funnel["bookings"]).reindex(table.index)
    z = (table["bookings"] - expected) / np.sqrt(expected)
    assert z.abs().max() < Z, z.round(2).to_dict()
    for ch, t in world.truth["channel_response"].items():
        assert t["cost_per_booking"] == pytest.approx(funnel.loc[ch, "spend"] / funnel.loc[ch, "bookings"])


def test_market_break_and_price_effect_are_in_the_data(world):
    m = world.market
    tot = m.groupby("month")["market_balance"].sum()
    t = np.arange(len(tot))
    kb = tot.index.get_loc(pd.Timestamp(world.truth["market"]["break_date"]))
    after = (t >= kb).astype(float)
    season = pd.get_dummies(tot.index.month, drop_first=True, dtype=float).to_numpy()
    X = sm.add_constant(np.column_stack([t, after, after * (t - kb), season]))
    fit = sm.OLS(np.log(tot.to_numpy()), X).fit()
    assert fit.params[2] == pytest.approx(world.truth["market"]["level_change"], abs=0.02)
    assert fit.params[3] == pytest.approx(world.truth["market"]["slope_change"], abs=0.0005)
    seg = m[m["segment"] == "mass"]
    gap = seg["own_apr"] - seg[["competitor_a_apr", "competitor_b_apr", "competitor_c_apr"]].mean(axis=1)
    y = np.log(seg["own_share"] / (1 - seg["own_share"]))
    price = sm.OLS(y.to_numpy(), sm.add_constant(gap.to_numpy())).fit(cov_type="HAC", cov_kwds={"maxlags": 6})
    true = world.truth["market"]["price_gap_pp"]
    assert abs(price.params[1] - true) < Z * price.bse[1]


def test_reject_inference_setting_has_selection_bias(world):
    """Declined applicants are riskier: the booked bad rate understates the through-the-door rate."""
    a = world.truth["applications"]
    assert a["through_the_door_bad_rate"] > 1.5 * a["booked_bad_rate"]
    apps = world.applications
    assert apps["bad_12m"].mean() == pytest.approx(a["booked_bad_rate"])
