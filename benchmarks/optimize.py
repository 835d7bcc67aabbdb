"""Optimisation benchmark (issue: cost optimisation), peers from the ``bench`` extra.

1. Uplift: on the simulated bank's randomised test (the trap arm against control), cmlib's two-model,
   X-learner and interaction models against scikit-uplift's TwoModels / SoloModel and causalml's T- and
   X-learners, all with the same logistic base learner, on the same 60/40 split: fit time, AUUC on the
   held-out outcomes (Qini) and AUUC against each customer's *true* uplift (known to the simulator).
2. Allocation: time to split a weekly budget over the 8 fitted channel curves (grid DP + refinement).

A peer that fails to import or run is recorded with its error instead of a number.
Run: ``python -m benchmarks.optimize`` (``--quick`` for a smaller bank).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import best_of, size_from_args, write
from cmlib.optimize import UPLIFT_FEATURES as FEATURES  # the features the library and notebook 05 use

ARM = "no_fee_high_limit"


def _data(n_customers: int):
    from cmlib.data.synthetic import simulate_bank

    w = simulate_bank(n_customers, random_state=7)
    c = w.contacts[w.contacts["arm"].isin(["control", ARM])]
    up = w.truth_tables["uplift"].drop(columns="customer_id")
    d = c.merge(w.customers, on="customer_id").merge(up, on="contact_id").reset_index(drop=True)
    X = d[FEATURES].astype(float)
    X = X.fillna(X.median())  # peers do not all accept missing values
    t = (d["arm"] == ARM).to_numpy().astype(int)
    y = d["responded"].astype(int).to_numpy()
    tu = (d[f"p_response_{ARM}"] - d["p_response_control"]).to_numpy()
    train = np.random.default_rng(0).random(len(d)) < 0.6
    return w, X, t, y, tu, train


def _lr():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def _models():
    from cmlib import optimize as op

    def sklift_two():
        from sklift.models import TwoModels

        return TwoModels(estimator_trmnt=_lr(), estimator_ctrl=_lr(), method="vanilla")

    def sklift_solo():
        from sklift.models import SoloModel

        return SoloModel(estimator=_lr(), method="treatment_interaction")

    def causalml_t():
        from causalml.inference.meta import BaseTClassifier

        return BaseTClassifier(learner=_lr())

    def causalml_x():
        from causalml.inference.meta import BaseXClassifier
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return BaseXClassifier(outcome_learner=_lr(), effect_learner=make_pipeline(StandardScaler(), Ridge()))

    return {
        "cmlib two-model": (lambda: op.TwoModelUplift(_lr()), "cmlib"),
        "cmlib X-learner": (lambda: op.XLearnerUplift(), "cmlib"),
        "cmlib interaction": (lambda: op.InteractionUplift(), "cmlib"),
        "scikit-uplift TwoModels": (sklift_two, "sklift"),
        "scikit-uplift SoloModel": (sklift_solo, "sklift"),
        "causalml T-learner": (causalml_t, "causalml"),
        "causalml X-learner": (causalml_x, "causalml"),
    }


def _fit_predict(kind: str, model, X, t, y, train):
    te = ~train
    if kind == "cmlib":
        return model.fit(X[train], t[train], y[train]).predict(X[te])
    if kind == "sklift":
        model.fit(X[train], y[train], t[train])
        return np.asarray(model.predict(X[te])).ravel()
    p = np.full(train.sum(), t[train].mean())
    model.fit(X[train].to_numpy(), t[train], y[train], p=p)
    return np.asarray(model.predict(X[te].to_numpy(), p=np.full(te.sum(), t[train].mean()))).ravel()


def main(argv=None) -> None:
    from cmlib import optimize as op

    quick, n = size_from_args(argv, 100_000, 400_000)
    w, X, t, y, tu, train = _data(n)
    te = ~train
    uplift = {}
    _lr().fit(X[:1000], y[:1000])  # warm-up: imports and first-call costs are not part of any model's time
    for name, (make, kind) in _models().items():
        try:
            model = make()  # constructing imports the peer library: outside the timing
            t0 = time.perf_counter()
            u = _fit_predict(kind, model, X, t, y, train)
            secs = time.perf_counter() - t0
            uplift[name] = {
                "fit_predict_s": secs,
                "auuc_observed": op.auuc(y[te], t[te], u),
                "auuc_true_uplift": op.auuc_from_effect(tu[te], u),
            }
        except Exception as exc:  # a peer's failure is a result, not a crash
            uplift[name] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        print(
            f"{name:<26} "
            + ", ".join(
                f"{k} {v:.5f}" if isinstance(v, float) else f"{k} {v}" for k, v in uplift[name].items()
            )
        )
    uplift["oracle (true uplift)"] = {"auuc_true_uplift": op.auuc_from_effect(tu[te], tu[te])}
    curves = op.fit_channel_curves(w.channel_spend)
    budget = float(w.channel_spend.groupby("channel")["spend"].mean().sum())
    alloc_s = best_of(lambda: op.allocate_budget(curves, budget), repeat=5)
    print(f"allocation over {len(curves)} channels: {alloc_s * 1000:.0f} ms")
    res = {
        "experiment_rows": int(len(y)),
        "train_share": 0.6,
        "arm": ARM,
        "uplift": uplift,
        "allocation": {"channels": len(curves), "grid_steps": 400, "seconds": alloc_s},
        "note": "same standardised logistic base learner for every uplift model; AUUC = area between the "
        "Qini curve and random (0 = random); the true-uplift AUUC uses the simulator's per-customer "
        "response probabilities under each arm",
    }
    print(f"results: {write('optimize' if not quick else 'optimize_quick', res)}")


if __name__ == "__main__":
    main()
