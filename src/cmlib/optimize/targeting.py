"""cmlib.optimize — whom to contact (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.base import BaseEstimator, Result, check_is_fitted
from cmlib.errors import ArtefactError, DataError, ParameterError
from cmlib.optimize.uplift import _check_uplift, median_imputer
from cmlib.validation import require_columns


@dataclass(repr=False)
class TargetSelection(Result):
    """``selected``: one row per chosen (customer, channel) contact; ``totals``: counts and expected value
    (``summary`` shows them as a table, ``to_dict`` records them)."""

    selected: pd.DataFrame
    totals: dict

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"metric": list(self.totals), "value": list(self.totals.values())})

    def to_dict(self) -> dict:
        return dict(self.totals)


def select_targets(
    candidates: pd.DataFrame,
    budget: float,
    max_contacts_per_customer: int = 1,
    customer: str = "customer_id",
    value: str = "expected_value",
    cost: str = "cost",
    eligible: str | None = "eligible",
) -> TargetSelection:
    """Choose contacts under a budget and contact rules: one row per candidate (customer × channel) with
    its expected incremental value, its cost and whether the rules allow it (``eligible``: do-not-contact,
    channel permission, risk cutoff — computed by the caller). Ineligible rows and rows whose value does
    not exceed their cost are never chosen; the rest are taken by net value per unit cost while the budget
    and the per-customer cap allow (the greedy rule is the exact optimum of the fractional knapsack and
    within one item of the integer one)."""
    need = [customer, value, cost] + ([eligible] if eligible else [])
    require_columns(candidates, need, "targeting candidates")
    if budget < 0:
        raise ParameterError("budget", "a non-negative amount", budget)
    if max_contacts_per_customer < 1:
        raise ParameterError("max_contacts_per_customer", "an integer ≥ 1", max_contacts_per_customer)
    if (candidates[cost] < 0).any():
        raise DataError.single(
            "targeting candidates", cost, "non-negative cost", int((candidates[cost] < 0).sum())
        )
    c = candidates
    ok = (c[value] > c[cost]) & (c[eligible].astype(bool) if eligible else True)
    pool = c[ok].assign(_ratio=(c[value] - c[cost]) / c[cost].where(c[cost] > 0, 1e-12))
    pool = pool.sort_values(["_ratio", customer], ascending=[False, True], kind="stable")
    # per-customer cap: keep each customer's best max_contacts rows
    pool = pool[pool.groupby(customer).cumcount() < max_contacts_per_customer]
    within = pool[cost].cumsum() <= budget + 1e-9
    chosen = pool[within].drop(columns="_ratio")
    summ = {
        "contacts": int(len(chosen)),
        "customers": int(chosen[customer].nunique()),
        "spend": float(chosen[cost].sum()),
        "expected_value": float(chosen[value].sum()),
        "expected_net_value": float((chosen[value] - chosen[cost]).sum()),
        "eligible_candidates": int(c[eligible].astype(bool).sum()) if eligible else int(len(c)),
    }
    return TargetSelection(chosen, summ)


class InteractionUplift(BaseEstimator):
    """S-learner with treatment interactions (Lo 2002): one classifier on [X, t, t·X]; uplift =
    P(y | x, t=1) − P(y | x, t=0). The baseline is learnt from treated and control together, so with a
    logistic model it needs far fewer responses than two separate models; ``C`` is the inverse L2 strength."""

    def __init__(self, C: float = 1.0):
        self.C = C

    def _design(self, X, t) -> np.ndarray:
        Z = self.scaler_.transform(self.imputer_.transform(np.asarray(X, float)))
        tt = np.asarray(t, float)[:, None]
        return np.hstack([Z, tt, tt * Z])

    def fit(self, X, treatment, y) -> InteractionUplift:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        t, y = _check_uplift(X, treatment, y)
        self.imputer_ = median_imputer().fit(np.asarray(X, float))
        self.scaler_ = StandardScaler().fit(self.imputer_.transform(np.asarray(X, float)))
        self.model_ = LogisticRegression(C=self.C, max_iter=5000).fit(self._design(X, t), y)
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        n = len(X)
        return (
            self.model_.predict_proba(self._design(X, np.ones(n)))[:, 1]
            - self.model_.predict_proba(self._design(X, np.zeros(n)))[:, 1]
        )


@dataclass(repr=False)
class WaveArms(Result):
    """The offers the next wave may use, and why: ``arms`` (planned), ``decisions`` (the A/B test's verdict
    per arm, empty without a decision artefact), ``unshipped`` (planned arms the test did not ship — only
    with an explicit override) and ``notes`` for the report."""

    arms: list
    decisions: pd.DataFrame
    unshipped: list
    notes: list

    @property
    def summary(self) -> pd.DataFrame:
        d = self.decisions.set_index("arm") if len(self.decisions) else pd.DataFrame()
        return pd.DataFrame(
            [
                {
                    "arm": a,
                    "test_decision": d["decision"].get(a, "no decision") if len(d) else "no decision",
                    "planned": a in self.arms,
                }
                for a in sorted(set(self.arms) | set(d.index if len(d) else []))
            ]
        )

    def to_dict(self) -> dict:
        return {"arms_planned": len(self.arms), "unshipped_arms_planned": len(self.unshipped)}


def plan_arms(
    offer_arms, decision_path, test_arms, allow_unshipped: bool = False, corrupt: str = "raise"
) -> WaveArms:
    """Which offers the next wave may use. ``offer_arms="shipped"``: the arms the A/B test shipped (read from
    its decision artefact at ``decision_path``; none when it is missing). A list of arms (or one string of
    names separated by commas): each must be an
    arm of the test (``test_arms``), and one the test did not ship needs ``allow_unshipped=True`` —
    otherwise ParameterError naming the arm and its decision. A decision artefact that exists but cannot be
    read is an ArtefactError unless ``corrupt="fallback"`` (then no arm counts as shipped, noted)."""
    from cmlib.experiments import read_decision

    notes = []
    decisions = pd.DataFrame(columns=["arm", "decision", "reason"])
    if decision_path is not None:
        try:
            decisions = read_decision(decision_path)[0]
        except ArtefactError as exc:
            if corrupt != "fallback":  # a damaged decision.json stops the run (exit 2) naming it
                raise
            notes.append(f"{exc}: no arm counts as shipped")
    else:
        notes.append("no decision artefact (decision.json) from the A/B test: no arm counts as shipped")
    shipped = decisions.loc[decisions["decision"] == "ship", "arm"].astype(str).tolist()
    if isinstance(offer_arms, str) and offer_arms.strip() != "shipped":
        offer_arms = [a.strip() for a in offer_arms.split(",") if a.strip()]  # "lower_apr, cashback"
    if isinstance(offer_arms, str):
        arms = [a for a in shipped if a in set(test_arms)]
    elif isinstance(offer_arms, list | tuple) and offer_arms and all(isinstance(a, str) for a in offer_arms):
        unknown = [a for a in offer_arms if a not in set(test_arms)]
        if unknown:
            raise ParameterError("offer_arms", f"arms of the randomised test {sorted(test_arms)}", unknown)
        arms = list(dict.fromkeys(offer_arms))
    else:
        raise ParameterError("offer_arms", '"shipped" or arm names separated by commas', offer_arms)
    unshipped = [a for a in arms if a not in shipped]
    if unshipped and not allow_unshipped:
        verdict = decisions.set_index("arm")["decision"].to_dict() if len(decisions) else {}
        raise ParameterError(
            "offer_arms",
            "arms the A/B test shipped (set allow_unshipped = True to override)",
            {a: verdict.get(a, "no decision") for a in unshipped},
        )
    if unshipped:
        notes.append("OVERRIDE: the wave uses " + ", ".join(unshipped) + ", which the A/B test did not ship")
    return WaveArms(arms, decisions, unshipped, notes)


def incremental_value(
    p_control: np.ndarray,
    uplift: np.ndarray,
    conversion: float,
    value: np.ndarray,
    conversion_control: float,
    value_control: np.ndarray,
) -> np.ndarray:
    """Expected value of giving each customer the offer instead of today's (control): P(respond | offer) ×
    P(book | respond, offer) × value of the account on the offer's terms − the same under control, with
    P(respond | offer) = ``p_control`` + ``uplift``. The offer's effect on risk and exposure enters through
    ``value`` (priced on its terms) — not only its effect on response."""
    p_offer = np.clip(np.asarray(p_control, float) + np.asarray(uplift, float), 0, 1)
    return p_offer * conversion * np.asarray(value, float) - np.asarray(
        p_control, float
    ) * conversion_control * np.asarray(value_control, float)


class WaveModel(BaseEstimator):
    """What the next wave is chosen with, learnt from a randomised offer test and the bank's applications.

    For a customer and an offer: P(respond | offer) = P(respond | today's offer) + the offer's uplift, both
    from :func:`fit_arm_uplift` (the pooled model gives the baseline; per-offer models compete by AUUC), and
    P(book | respond, offer) = the offer's bookings per response in the test × the customer's chance of
    approval relative to the test's responders (:func:`approval_model`, learnt from every application the bank
    decided): approval depends on risk, so conversion varies by customer. :meth:`incremental_value` turns
    them into the expected value of the offer over today's (:func:`incremental_value`).

    ``fit(contacts, train, applications)``: ``contacts`` has one row per contact of the test with ``arm``,
    ``responded``, ``booked`` and the customer's features (:data:`UPLIFT_FEATURES`, :data:`APPROVAL_FEATURES`);
    ``train`` marks the rows the models learn from (the rest are held out for the AUUC). ``max_train_rows``:
    when more rows are marked, the response and uplift models learn from a random sample of this many of them
    (``random_state``; ``None``: all). The default leaves a 1M-customer bank's test (about 130,000 training
    contacts) whole; at 10M customers (1.3M) the pooled model's design and liblinear's copy of it took 5 GB
    and four minutes. ``train_rows_`` and ``train_rows_used_`` say how many were marked and used.
    """

    def __init__(
        self,
        control: str = "control",
        arms=(),
        features=None,
        random_state: int = 0,
        max_train_rows: int | None = 500_000,
    ):
        self.control = control
        self.arms = arms
        self.features = features
        self.random_state = random_state
        self.max_train_rows = max_train_rows

    def fit(self, contacts: pd.DataFrame, train, applications: pd.DataFrame) -> WaveModel:
        from cmlib.optimize.sources import approval_model, approval_probability, uplift_design
        from cmlib.optimize.uplift import fit_arm_uplift, response_model

        require_columns(contacts, ["arm", "responded", "booked"], "contacts")
        train = np.asarray(train, bool)
        self.train_rows_ = int(train.sum())
        if self.max_train_rows is not None and self.train_rows_ > self.max_train_rows:
            if self.max_train_rows < 1:
                raise ParameterError(
                    "max_train_rows", "a positive number of rows or None", self.max_train_rows
                )
            rng = np.random.default_rng(self.random_state)
            keep = rng.choice(np.flatnonzero(train), int(self.max_train_rows), replace=False)
            train = np.zeros(len(train), bool)
            train[keep] = True
        self.train_rows_used_ = int(train.sum())
        arm = contacts["arm"].astype(str).to_numpy()
        y = contacts["responded"].astype(int).to_numpy()
        X = uplift_design(contacts, self.features)
        ctrl = arm == self.control
        # today's response model, as business as usual would target: the comparison for uplift targeting
        self.propensity_ = response_model().fit(X[train & ctrl], y[train & ctrl])
        self.uplift_ = fit_arm_uplift(X, arm, y, self.control, list(self.arms), train)
        self.approval_ = approval_model(applications, random_state=self.random_state)
        responders = train & (y == 1)
        self.approval_mean_ = float(approval_probability(self.approval_, contacts[responders]).mean())
        g = contacts.groupby(arm)
        self.conversion_ = (g["booked"].sum() / g["responded"].sum().clip(lower=1)).to_dict()
        return self

    def propensity(self, customers: pd.DataFrame) -> np.ndarray:
        """P(respond | today's offer) from the control-only response model (business-as-usual targeting)."""
        from cmlib.optimize.sources import uplift_design

        check_is_fitted(self, "propensity_")
        return self.propensity_.predict_proba(uplift_design(customers, self.features))[:, 1]

    def response(self, customers: pd.DataFrame) -> tuple[np.ndarray, dict]:
        """(P(respond | today's offer), {offer: uplift in response probability}) per customer."""
        from cmlib.optimize.sources import uplift_design

        check_is_fitted(self, "uplift_")
        X = uplift_design(customers, self.features)
        base = (
            self.uplift_.control_probability(X)
            if self.uplift_.pooled is not None
            else self.propensity(customers)
        )
        return base, self.uplift_.predict(X)

    def approval_factor(self, customers: pd.DataFrame) -> np.ndarray:
        """Each customer's chance of approval relative to the test's responders' average."""
        from cmlib.optimize.sources import approval_probability

        check_is_fitted(self, "approval_")
        return approval_probability(self.approval_, customers) / self.approval_mean_

    def incremental_value(
        self, customers: pd.DataFrame, values: dict, value_control, response=None, approval_factor=None
    ) -> dict:
        """{offer: expected value of giving each customer the offer instead of today's}; ``values`` maps
        each offer to the value of an account booked on its terms (per customer), ``value_control`` the same on
        today's terms. ``response`` and ``approval_factor``: what :meth:`response` and :meth:`approval_factor`
        return for these customers, when the caller has them already (scoring 700k customers takes ~1 s)."""
        base, up = self.response(customers) if response is None else response
        factor = self.approval_factor(customers) if approval_factor is None else approval_factor
        c0 = factor * self.conversion_[self.control]
        return {
            a: incremental_value(base, up[a], factor * self.conversion_[a], values[a], c0, value_control)
            for a in up
        }


def compare_plans(plans: dict, values: dict, costs: dict) -> pd.DataFrame:
    """Value of contact plans: each plan (name → frame of ``row`` and ``arm``: whom to contact with which
    offer) summed with ``values`` (arm → incremental value per candidate row, estimated or true) and
    ``costs`` (arm → cost per contact). One row per plan: contacts, spend, expected incremental value and
    the value net of contact cost."""
    rows = []
    for name, p in plans.items():
        arm, row = p["arm"].to_numpy(), p["row"].to_numpy(int)
        v = sum(float(np.asarray(values[a])[row[arm == a]].sum()) for a in set(arm) if a is not None)
        spend = sum(costs[a] * int((arm == a).sum()) for a in set(arm) if a is not None)
        rows.append(
            {
                "strategy": name,
                "contacts": len(p),
                "spend": float(spend),
                "expected_incremental_value": v,
                "net_of_contact_cost": v - float(spend),
            }
        )
    return pd.DataFrame(rows).set_index("strategy")


@dataclass(repr=False)
class WavePnL(Result):
    """A targeted wave's P&L, from the same per-customer estimates that chose it: ``summary`` (one row per
    line item), ``profit``, ``roi`` (profit / total cost) and ``break_even_uplift`` (the share of the
    estimated uplift at which the wave breaks even: 0.6 = it still pays if uplift is 40 % lower)."""

    summary: pd.DataFrame
    profit: float
    roi: float
    break_even_uplift: float

    def to_dict(self) -> dict:
        return {"profit": self.profit, "roi": self.roi, "break_even_uplift": self.break_even_uplift}


def wave_pnl(
    p_control,
    uplift,
    conversion,
    value,
    conversion_control,
    value_control,
    cost,
    fixed_cost: float = 0.0,
    uplift_scale: float = 1.0,
    value_scale: float = 1.0,
    conversion_scale: float = 1.0,
    cost_scale: float = 1.0,
    fixed_scale: float = 1.0,
) -> WavePnL:
    """P&L of the contacted customers (one entry each, with the offer chosen for them): the expected
    incremental value of :func:`incremental_value` summed, less the contact costs and the campaign's
    ``fixed_cost``. The ``*_scale`` arguments move one assumption at a time (for :func:`cmlib.finance.tornado`):
    the uplift, the accounts' value, the booking conversion, the cost per contact, the fixed cost."""
    p_c = np.asarray(p_control, float)
    tau = np.asarray(uplift, float) * uplift_scale
    conv, conv_c = (
        np.asarray(conversion, float) * conversion_scale,
        np.asarray(conversion_control, float) * conversion_scale,
    )
    v, v_c = np.asarray(value, float) * value_scale, np.asarray(value_control, float) * value_scale
    contact = float(np.sum(np.asarray(cost, float))) * cost_scale
    fixed = float(fixed_cost) * fixed_scale
    p_offer = np.clip(p_c + tau, 0, 1)
    bookings = float(np.sum(p_offer * conv))
    incremental = bookings - float(np.sum(p_c * conv_c))
    gross = float(np.sum(incremental_value(p_c, tau, conv, v, conv_c, v_c)))
    at_zero = float(np.sum(incremental_value(p_c, 0.0 * tau, conv, v, conv_c, v_c)))
    profit = gross - contact - fixed
    slope = gross - at_zero  # the value is linear in the uplift (inside the probability bounds)
    be = (contact + fixed - at_zero) / slope if slope > 0 else np.inf
    items = pd.DataFrame(
        {
            "item": [
                "contacts",
                "expected bookings",
                "of which incremental (against today's offer)",
                "expected incremental value of the accounts",
                "contact cost",
                "fixed cost",
                "profit",
            ],
            "value": [len(p_c), bookings, incremental, gross, contact, fixed, profit],
        }
    )
    cost_all = contact + fixed
    return WavePnL(items, profit, profit / cost_all if cost_all > 0 else np.nan, float(be))
