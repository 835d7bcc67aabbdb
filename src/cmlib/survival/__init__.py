"""Survival analysis of a credit book: when customers leave, when accounts go bad, what a customer is worth.

The classical fitters are lifelines' (Kaplan–Meier, Nelson–Aalen, Cox, AFT, Aalen–Johansen); this module
adds what a portfolio needs: duration tables from the monthly performance panel with competing causes and
left truncation, RMST with the variance of the *estimate*, a counts-based path through :mod:`cmlib.engine`
(Kaplan–Meier from event/at-risk counts and a discrete-time cloglog hazard model on aggregated cells) for
books that do not fit in pandas, vintages, roll rates with a Markov projection, lifetime value, early
warning and a retention list. Durations are whole months on book; rates are fractions.
"""

# the package's modules follow the sections this module once had; everything is re-exported
from cmlib.survival.book import (  # noqa: F401
    RollRateResult,
    VintageResult,
    markov_projection,
    roll_rate_matrix,
    vintage_curves,
)
from cmlib.survival.counts import (  # noqa: F401
    DiscreteHazardResult,
    _cloglog_binomial,
    discrete_hazard,
    person_period_counts,
)
from cmlib.survival.curves import (  # noqa: F401
    CumulativeIncidenceResult,
    CurvesResult,
    RMSTResult,
    cumulative_incidence,
    curves,
    km_from_counts,
    rmst,
)
from cmlib.survival.durations import (  # noqa: F401
    CAUSES,
    CLV_SCHEMA_VERSION,
    _check_survival,
    duration_table,
)
from cmlib.survival.models import (  # noqa: F401
    CoxResult,
    ParametricResult,
    cox,
    cox_time_varying,
    integrated_brier,
    parametric,
    scaled_schoenfeld,
    time_varying_panel,
)
from cmlib.survival.retention import (  # noqa: F401
    EARLY_WARNING_BEHAVIOUR,
    EarlyWarningResult,
    RetentionResult,
    RetentionTestResult,
    _roll_arrays,
    clv_by_segment,
    conditional_churn,
    early_warning,
    realised_value,
    retention_targets,
    retention_test,
)
from cmlib.survival.sources import (  # noqa: F401
    CUSTOMER_ROLES,
    MAX_LEVELS,
    MAX_MONTHS,
    ChurnData,
    churn_data,
    customer_table,
    independent_columns,
)
from cmlib.survival.value import (  # noqa: F401
    LifetimeValueResult,
    lifetime_value,
    read_clv_artefact,
    write_clv_artefact,
)
