"""Market analysis: size and growth, seasonally adjusted trend, forecasts chosen by backtest, segment
attractiveness, competitor pricing and share, and structural breaks at known or unknown dates.

Series are monthly pandas Series on a month-start DatetimeIndex without gaps (:func:`monthly`). The
statistics are statsmodels' (STL, ETS, SARIMAX, OLS with HAC errors); this module turns them into the
answers a credit marketer acts on. Growth rates are fractions; money is in the series' own units.
"""

# the package's modules follow the sections this module once had; everything is re-exported
from cmlib.market.breaks import (  # noqa: F401
    BreakResult,
    ITSResult,
    _best_partition,
    _its_design,
    _seg_rss,
    detect_breaks,
    interrupted_time_series,
    seasonal_profile,
)
from cmlib.market.competitors import (  # noqa: F401
    PriceEffectResult,
    price_alerts,
    price_effect,
    price_index,
)
from cmlib.market.forecast import (  # noqa: F401
    MODELS,
    ForecastResult,
    _fit_forecast,
    _fit_forecast_raw,
    backtest,
    forecast,
)
from cmlib.market.growth import (  # noqa: F401
    GrowthResult,
    STLResult,
    cagr,
    growth,
    stl,
)
from cmlib.market.segments import (  # noqa: F401
    AttractivenessResult,
    attractiveness,
    segment_metrics,
)
from cmlib.market.series import (  # noqa: F401
    monthly,
    select_segments,
)
from cmlib.market.sources import (  # noqa: F401
    MAX_VALUE,
    MarketData,
    market_data,
)
