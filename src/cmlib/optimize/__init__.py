"""Spend less per good account: channel economics, response curves, budget allocation, uplift targeting.

* :func:`channel_economics` — per channel cost per contact, response, approval and booking rates, cost per
  acquisition and per *good* account (risk-adjusted with the scorecard's expected bad rate), NPV per unit
  of money spent.
* :func:`fit_response_curve` — weekly bookings = base + top · Hill(adstock(spend, decay); K, S), fitted by
  Poisson maximum likelihood, with Wald intervals from the observed information and bands for the curve.
* :func:`allocate_budget` — the best split of a weekly budget over channels under per-channel bounds: exact
  on a grid by dynamic programming (no concavity assumed: Hill curves with S > 1 are S-shaped, where
  greedy marginal-return rules fail), then refined continuously; marginal returns are reported.
* Uplift: :class:`TwoModelUplift`, :class:`XLearnerUplift` (scikit-learn estimators inside), :func:`qini_curve`
  and AUUC; :func:`select_targets` chooses whom to contact under a budget and contact rules.

Steady state: a constant weekly spend x has adstock x / (1 − decay), so its weekly bookings are
base + top · Hill(x / (1 − decay)).
"""

from cmlib.curves import CURVE_PARAMS, adstock, hill, incremental_bookings  # noqa: F401  (re-exported)

# the package's modules follow the sections this module once had; everything is re-exported
from cmlib.optimize.allocation import (  # noqa: F401
    Allocation,
    _spend_rest,
    allocate_budget,
    evaluate_allocation,
)
from cmlib.optimize.curves import (  # noqa: F401
    PARAMS,
    ChannelCurves,
    ResponseCurve,
    _hessian,
    _unpack,
    fit_channel_curves,
    fit_response_curve,
)
from cmlib.optimize.economics import (  # noqa: F401
    channel_economics,
    channel_funnel,
    losing_channels,
    reconcile_cost_per_booking,
    spend_value_per_booking,
    weekly_economics,
)
from cmlib.optimize.sources import (  # noqa: F401
    APPROVAL_FEATURES,
    BANK_COLUMNS,
    MAX_WEEKLY_SPEND,
    SPEND_ROLES,
    TABLES,
    UPLIFT_FEATURES,
    OptimisationData,
    approval_model,
    approval_probability,
    optimisation_data,
    spend_table,
    uplift_design,
)
from cmlib.optimize.targeting import (  # noqa: F401
    InteractionUplift,
    TargetSelection,
    WaveArms,
    WaveModel,
    WavePnL,
    compare_plans,
    incremental_value,
    plan_arms,
    select_targets,
    wave_pnl,
)
from cmlib.optimize.uplift import (  # noqa: F401
    PREDICT_ROWS,
    ArmUplift,
    PooledUplift,
    QiniResult,
    TwoModelUplift,
    XLearnerUplift,
    _check_uplift,
    _default_regressor,
    auuc,
    auuc_from_effect,
    check_randomised,
    fit_arm_uplift,
    median_imputer,
    qini_curve,
    response_model,
)
from cmlib.optimize.value import (  # noqa: F401
    AccountValue,
    account_value,
)
