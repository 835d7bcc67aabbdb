"""Weekly campaign monitoring: the KPI tree against plan and its decomposition, control charts that flag shifts
and not noise, customer feedback (complaint rates, NPS) and compliance monitors.

Sections: :mod:`.charts` (EWMA charts of weekly rates on quantile residuals, CUSUM dating of a shift),
:mod:`.kpis` (one definition per funnel rate, the weekly funnel, the exact decomposition of a change, the
charts over every KPI and channel), :mod:`.feedback` (complaints per 10,000 contacts, NPS), :mod:`.compliance`
(contact permissions, APR charged, approval ratio between groups), :mod:`.forecast` (next week's forecast and
last week's against what happened), :mod:`.sources` (the data).
"""

from cmlib.monitoring.actions import action_list, against_truth
from cmlib.monitoring.charts import (
    EWMA_L,
    EWMA_LAMBDA,
    RateChart,
    alarm_rates,
    cusum_start,
    ewma,
    ewma_limit,
    quantile_residuals,
)
from cmlib.monitoring.compliance import (
    ADVERSE_IMPACT_RATIO,
    approval_ratio,
    apr_check,
    contact_breaches,
    offers_against_decision,
)
from cmlib.monitoring.cost import cell_economics
from cmlib.monitoring.feedback import (
    NPS,
    PER_CONTACTS,
    RESOLVE_WITHIN_DAYS,
    complaint_outliers,
    complaint_rates,
    net_promoter,
    resolution_times,
)
from cmlib.monitoring.forecast import (
    FORECAST_KIND,
    FORECAST_VERSION,
    forecast_document,
    forecast_variance,
    previous_forecast,
    read_forecast,
    weekly_forecast,
)
from cmlib.monitoring.kpis import (
    CHART_KPIS,
    FUNNEL,
    MATURITY_WEEKS,
    STAGE_RATES,
    TREE_UNITS,
    Decomposition,
    KPIMonitor,
    WeekView,
    decompose,
    kpi_values,
    monitor_kpis,
    rates_by,
    resolve_week,
    week_start,
    week_view,
    weekly_funnel,
)
from cmlib.monitoring.sources import MonitoringData, monitoring_data

__all__ = [
    "MonitoringData",
    "action_list",
    "against_truth",
    "monitoring_data",
    "ADVERSE_IMPACT_RATIO",
    "CHART_KPIS",
    "EWMA_L",
    "EWMA_LAMBDA",
    "FORECAST_KIND",
    "FORECAST_VERSION",
    "FUNNEL",
    "MATURITY_WEEKS",
    "NPS",
    "PER_CONTACTS",
    "RESOLVE_WITHIN_DAYS",
    "STAGE_RATES",
    "TREE_UNITS",
    "alarm_rates",
    "approval_ratio",
    "apr_check",
    "cell_economics",
    "complaint_outliers",
    "complaint_rates",
    "contact_breaches",
    "cusum_start",
    "decompose",
    "Decomposition",
    "ewma",
    "ewma_limit",
    "forecast_document",
    "forecast_variance",
    "kpi_values",
    "KPIMonitor",
    "monitor_kpis",
    "net_promoter",
    "offers_against_decision",
    "previous_forecast",
    "quantile_residuals",
    "RateChart",
    "read_forecast",
    "resolution_times",
    "rates_by",
    "resolve_week",
    "week_start",
    "week_view",
    "weekly_forecast",
    "weekly_funnel",
    "WeekView",
]
