"""The simulated bank: one consistent world with known truth, deterministic for a random_state.

``simulate_bank(n_customers, random_state)`` returns a :class:`BankWorld` with seven tables and the ``truth``
that generated them (see ``data/README.md`` for every column, unit and code):

customers → campaigns → contacts (a randomised four-arm offer test plus business-as-usual waves; the
funnel responded → applied → approved → booked → activated → spend) → applications (admission rules,
then the bank's current score cutoff) → performance (monthly panel of booked accounts from competing
discrete-time hazards driven by covariates and a macro series with a shock) — plus weekly
``channel_spend`` (adstock + Hill saturation; the bank-wide view of the same campaigns, its cost per booking
that of the contacts) and a monthly ``market`` panel with a structural break.

Scale: customers are generated in fixed blocks of :data:`BLOCK` with their own random streams
(``SeedSequence([random_state, block])``), so a world is the same whether built in one piece or written in
chunks (:func:`write_bank`), and 10 million customers never need to be in memory at once.

Modelling choices worth knowing (they are what a test can hold the estimators to):

* Hazards are complementary log-log in discrete months: ``p = 1 - exp(-exp(eta))``. Grouping a
  continuous proportional-hazards model by month gives exactly this form, so ``exp(beta)`` in
  ``truth['hazards']`` is the hazard ratio a Cox model estimates.
* Default onset at MOB ``t`` means 30 DPD at ``t``, 60 at ``t+1``, 90+ from ``t+2``, charge-off at
  ``t+5``. ``bad_12m`` = 90+ DPD reached by MOB 12. Transient one-month 30 DPD episodes cure.
* Risk depends only on legitimate attributes; the protected attribute is correlated with income and
  region, so any approval gap arises through proxies — what a fair-lending check must find.
"""

from cmlib.curves import adstock, hill  # noqa: F401  (re-exported: syn.adstock, syn.hill, the generator's curves)

# the package's modules follow the sections this module once had; everything is re-exported
from cmlib.data.synthetic.aggregates import (  # noqa: F401
    BANK_CUSTOMERS,
    MARKET,
    N_WEEKS,
    SEGMENT_GROWTH,
    SEGMENT_SHARE,
    _channel_funnel,
    _channel_spend,
    _market,
    policy_rate,
)
from cmlib.data.synthetic.block import (  # noqa: F401
    LEGACY_CENTER,
    LEGACY_CUTOFF,
    LEGACY_PDO_FACTOR,
    ORGANIC_APPLY,
    RISK_Z_CENTER,
    RISK_Z_SCALE,
    STAGES,
    _block,
    _empty_panel,
    _experiment_truth,
    _panel,
)
from cmlib.data.synthetic.campaigns import (  # noqa: F401
    EXPERIMENT_ID,
    EXPERIMENT_SHARE,
    LOAN_CHANNELS,
    LOAN_OFFER,
    _campaigns,
)
from cmlib.data.synthetic.customers import (  # noqa: F401
    _cloglog_p,
    _customers,
    _sigmoid,
    default_eta,
    default_features,
)
from cmlib.data.synthetic.dates import (  # noqa: F401
    Calendar,
    unemployment,
)
from cmlib.data.synthetic.monitoring import (  # noqa: F401
    APPROVAL_LOGIT,
    CAMPAIGN_RESPONSE_LIFT,
    COMPLAINT_BASE,
    COMPLAINT_CHANNEL,
    COMPLAINT_MIX,
    CUSTOMER_INPUTS,
    DNC_BREACHES,
    EARLY_DPD_LOGIT,
    FIXED_WEEKLY_COST,
    FIXED_WEEKLY_COST_OTHER,
    MATURITY_WEEKS,
    MISLEADING_CAMPAIGN,
    MONITOR_ARM,
    MONITOR_LAST_WEEK,
    MONITOR_OFFER,
    MONITOR_RESPONSE,
    MONITOR_VOLUME,
    MONITOR_WEEKS,
    MONITORING_TABLES,
    MONITORING_TRUTH,
    NPS_BASE,
    NPS_CHANNEL_SHIFT,
    NPS_MISLEADING,
    NPS_SEGMENT_SHIFT,
    P_ACTIVATE_MONITOR,
    P_APPLY_MONITOR,
    P_BOOK_MONITOR,
    PERMISSION_BREACHES,
    PLAN_AHEAD_WEEKS,
    RESOLVE_DAYS,
    RESPONSE_DROP,
    SEGMENT_RESPONSE,
    SPEND_90D,
    SURVEY_LAG_WEEKS,
    SURVEY_SHARE,
    MonitoringWorld,
    _campaign_table,
    _complaints,
    _monitoring_truth,
    _outcomes,
    _plant_breaches,
    _survey,
    monitor_weeks,
    simulate_monitoring,
)
from cmlib.data.synthetic.truth import (  # noqa: F401
    ADMISSION_RULES,
    ARM_OFFER,
    ARM_RESPONSE,
    BLOCK,
    CASHBACK_ACTIVATION,
    CHANNEL_COST,
    CHANNEL_REACH,
    CHANNEL_RESPONSE,
    CHARGE_OFF_AFTER_ONSET,
    CLOSURE_BETA,
    DEEP_CURE_SHARE,
    DEFAULT_BETA,
    FUNDING_COST_MONTHLY,
    GUARDRAIL_RELATIVE_MARGIN,
    INTERCHANGE_RATE,
    MACRO_GAMMA,
    P_ACTIVATE,
    P_APPLY,
    P_BOOK,
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
    CachedBankWorld,
    default_baseline,
)
from cmlib.data.synthetic.world import (  # noqa: F401
    PARALLEL_FROM,
    TRUTH_TABLES,
    _Acc,
    _check_size,
    _json_default,
    _truth,
    iter_blocks,
    simulate_bank,
    write_bank,
)
from cmlib.vocab import (  # noqa: F401  (re-exported: the bank's categories as the simulator knew them)
    ARMS,
    CHANNEL_PERMISSION,
    CHANNELS,
    EMPLOYMENT,
    HOUSING,
    NO_FILE,
    REGIONS,
    SEGMENTS,
    STATES,
    THIN_FILE,
)
