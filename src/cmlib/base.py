"""The two shapes every analysis in cmlib takes: estimators (scikit-learn's) and results (statsmodels' and
lifelines').

**Estimators** (:class:`BaseEstimator`): ``__init__`` only stores its arguments under their own names;
``fit(...)`` validates them, learns, sets fitted attributes whose names end in ``_`` and returns ``self``;
``get_params(deep=True)`` also lists the parameters of nested estimators as ``name__param``;
``set_params`` accepts the same names; ``repr`` shows the parameters that differ from their defaults; using
an unfitted estimator raises :class:`~cmlib.errors.NotFittedError` (:func:`check_is_fitted`).

**Results** (:class:`Result`): a small dataclass an analysis returns, with ``summary`` (a DataFrame: one row
per estimate, units in column names), ``plot(ax=None)`` (draws on the given axes, returns them),
``to_dict()`` (the headline metrics a run records) and ``_repr_html_`` (a notebook cell shows the summary
by naming the result). Serialising a fitted model is a separate method, ``to_json``, on the estimator.
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
from typing import Any

import numpy as np
import pandas as pd

from cmlib.errors import NotFittedError, ParameterError

# --- estimators --------------------------------------------------------------------------------------


class BaseEstimator:
    """scikit-learn's parameter protocol without depending on its base class (see the module docstring)."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters by name; with ``deep``, also ``name__param`` of every nested estimator."""
        out = {}
        for k in self._param_names():
            v = getattr(self, k)
            out[k] = v
            if deep and hasattr(v, "get_params") and not isinstance(v, type):
                out.update({f"{k}__{kk}": vv for kk, vv in v.get_params(deep=True).items()})
        return out

    def set_params(self, **params) -> BaseEstimator:
        """Set parameters by name (``name__param`` for a nested estimator's); returns ``self``."""
        names = self._param_names()
        nested: dict[str, dict] = {}
        for k, v in params.items():
            head, sep, rest = k.partition("__")
            if head not in names:
                raise ParameterError(k, f"one of {sorted(names)}", v, where=type(self).__name__)
            if sep:
                nested.setdefault(head, {})[rest] = v
            else:
                setattr(self, k, v)
        for head, sub in nested.items():
            getattr(self, head).set_params(**sub)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        shown = []
        for k in self._param_names():
            v = getattr(self, k, None)
            d = defaults.get(k, inspect.Parameter.empty)
            if d is inspect.Parameter.empty or not _same(v, d):
                shown.append(f"{k}={v!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


def _same(a, b) -> bool:
    try:
        return bool(a is b or a == b)
    except Exception:  # arrays and frames have no single truth value: different from a scalar default
        return False


def check_is_fitted(estimator, attributes: str | list[str] | None = None) -> None:
    """Raise :class:`NotFittedError` unless ``estimator`` has the fitted ``attributes`` (default: any
    attribute whose name ends in ``_`` and does not start with ``_``)."""
    if attributes is None:
        fitted = any(k.endswith("_") and not k.startswith("_") for k in vars(estimator))
    else:
        names = [attributes] if isinstance(attributes, str) else list(attributes)
        fitted = all(hasattr(estimator, a) for a in names)
    if not fitted:
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet: call 'fit' with appropriate arguments "
            "before using this estimator."
        )


# --- results -----------------------------------------------------------------------------------------

_html_renderer = None


def set_html_renderer(render) -> None:
    """Let a higher layer (cmlib.report) render result summaries as HTML: ``render(DataFrame) -> str``. The
    base stays free of report imports; a notebook that imports cmlib.report sees the report's tables."""
    global _html_renderer
    _html_renderer = render


class Result:
    """Base of every result dataclass (see the module docstring). Subclasses are ``@dataclass``es with a
    ``summary`` DataFrame field; they override ``plot`` when a picture says more than the table, and
    ``to_dict`` when the headline metrics are not simply the scalar fields."""

    summary: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """Headline metrics to record: the result's scalar fields (numbers, text, flags)."""
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, bool | np.bool_):
                out[f.name] = bool(v)
            elif isinstance(v, numbers.Integral):
                out[f.name] = int(v)
            elif isinstance(v, numbers.Real):
                out[f.name] = float(v)
            elif isinstance(v, str):
                out[f.name] = v
        return out

    def plot(self, ax=None):
        """A horizontal bar per summary row of its first numeric column (subclasses draw more)."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(7, 3.5))[1]
        s = self.summary
        num = s.select_dtypes("number")
        if num.empty:
            raise ParameterError(
                "plot", "a summary with a numeric column", list(s.columns), where=type(self).__name__
            )
        labels = s.index.astype(str) if not isinstance(s.index, pd.RangeIndex) else s.iloc[:, 0].astype(str)
        ax.barh(labels, num.iloc[:, 0].to_numpy())
        ax.set_xlabel(num.columns[0])
        ax.set_title(type(self).__name__)
        return ax

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in list(self.to_dict().items())[:6])
        return f"{type(self).__name__}({shown or f'summary=<{len(self.summary)} rows>'})"

    def _repr_html_(self) -> str:
        s = self.summary
        if _html_renderer is not None:  # the report layer's formatter, once cmlib.report is imported
            return _html_renderer(s)
        return s.to_html(
            index=not isinstance(s.index, pd.RangeIndex),
            float_format=lambda x: f"{x:,.4g}",
            na_rep="",
            border=0,
        )


def summary_of(x) -> pd.DataFrame:
    """A result's summary, or the frame itself: functions that combine results accept either."""
    return x.summary if isinstance(x, Result) else x


@dataclasses.dataclass(repr=False)
class TableResult(Result):
    """The result of an analysis whose answer is one table (a gains table, a roll-rate matrix, a vintage
    curve set): ``summary`` is that table, ``to_dict`` its size."""

    summary: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return {"n_rows": len(self.summary)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(summary=<{len(self.summary)} rows: {', '.join(map(str, self.summary.columns))}>)"
