"""A/B test readouts on sufficient statistics: lifts with CIs, sample-ratio mismatch, funnel lifts,
credit-risk guardrails (one-sided non-inferiority) and a ship / do-not-ship / keep-running decision.

Every statistic is computed from per-arm (n, mean, M2) produced by :func:`cmlib.engine.moments`, so a
readout of tens of millions of rows costs one aggregation query. Intervals are Wald intervals with
unequal variances (normal approximation, as experimentation platforms use at these sample sizes);
relative lifts use the delta method. Rates are fractions.

Not yet here (tracked in the A/B testing issue): power and sample-size design, CUPED, Bayesian readout,
sequential testing, covariate balance beyond the SRM check.
"""

# the package's modules follow the sections this module once had; everything is re-exported
from cmlib.experiments.aggregates import (  # noqa: F401
    ArmSums,
    arm_sums,
    check_arm,
    is_sums,
    looks_like_sums,
)
from cmlib.experiments.bayesian import (  # noqa: F401
    bayesian,
)
from cmlib.experiments.design import (  # noqa: F401
    Design,
    _alpha_per_comparison,
    minimum_detectable_effect,
    power_means,
    power_proportions,
    sample_size,
)
from cmlib.experiments.lifts import (  # noqa: F401
    BalanceResult,
    BayesianResult,
    Decision,
    FunnelResult,
    GuardrailResult,
    LiftResult,
    SequentialResult,
    SRMResult,
    _z,
    against_truth,
    arm_counts,
    arm_moments,
    compare,
    decide,
    funnel_lifts,
    holm,
    is_binary,
    non_inferiority,
    srm_check,
)
from cmlib.experiments.sequential import (  # noqa: F401
    msprt_pvalues,
    obrien_fleming_bounds,
    segment_lifts,
    sequential,
)
from cmlib.experiments.sources import (  # noqa: F401
    ExperimentData,
    arm_terms,
    experiment_data,
)
from cmlib.experiments.value import (  # noqa: F401
    DECISION_SCHEMA_VERSION,
    ArmValueResult,
    arm_value,
    decision_against_truth,
    read_decision,
    sample_to_decide,
    write_decision,
)
from cmlib.experiments.variance import (  # noqa: F401
    _comoment_matrix,
    balance,
    cuped,
    ratio_metric,
    standardised_mean_difference,
)
