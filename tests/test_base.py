"""The estimator and result conventions (cmlib.base), checked over every estimator and result class."""

from __future__ import annotations

import dataclasses
import inspect

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

import cmlib
from cmlib import base, experiments, finance, market, optimize, survival
from cmlib import scorecard as scm
from cmlib.errors import CmlibError, NotFittedError, ParameterError

ESTIMATORS = [
    scm.WoEBinner,
    scm.Scorecard,
    scm.AdmissionRules,
    optimize.TwoModelUplift,
    optimize.XLearnerUplift,
    optimize.InteractionUplift,
    optimize.PooledUplift,
    optimize.WaveModel,
    finance.AccountValueModel,
]
MODULES = [market, experiments, survival, optimize, finance, scm]


def _instance(cls):
    return cls([{"rule": "r", "column": "a", "decline_if": "a < 0"}]) if cls is scm.AdmissionRules else cls()


def test_every_estimator_in_the_library_is_listed():
    found = {
        obj
        for m in MODULES
        for obj in vars(m).values()
        if inspect.isclass(obj) and issubclass(obj, base.BaseEstimator) and obj is not base.BaseEstimator
    }
    assert found == set(ESTIMATORS)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_estimator_contract(cls):
    est = _instance(cls)
    params = est.get_params(deep=False)
    sig = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    assert list(params) == sig  # __init__ stores every argument under its own name, and nothing fitted
    assert not [k for k in vars(est) if k.endswith("_")]
    c = clone(est)  # scikit-learn can clone it: the parameter protocol is complete
    assert c.get_params(deep=False).keys() == params.keys() and c is not est
    assert repr(est).startswith(cls.__name__ + "(")
    assert est.set_params(**params) is est
    with pytest.raises(ParameterError, match="no_such_parameter"):
        est.set_params(no_such_parameter=1)
    for method in ("predict", "transform", "score", "points"):
        if hasattr(est, method) and cls is not scm.AdmissionRules:
            with pytest.raises(NotFittedError):
                getattr(est, method)(pd.DataFrame({"a": [1.0, 2.0]}))


def test_nested_parameters_and_repr():
    card = scm.Scorecard(scm.WoEBinner(max_bins=4), pdo=40)
    p = card.get_params(deep=True)
    assert p["binner__max_bins"] == 4 and p["pdo"] == 40
    card.set_params(binner__max_bins=5, min_iv=0.05)
    assert card.binner.max_bins == 5 and card.min_iv == 0.05
    assert repr(card) == "Scorecard(binner=WoEBinner(max_bins=5), pdo=40, min_iv=0.05)"
    assert repr(scm.WoEBinner()) == "WoEBinner()"


def test_not_fitted_is_a_cmlib_error_and_sklearns_kind():
    err = NotFittedError("x")
    assert isinstance(err, CmlibError) and isinstance(err, AttributeError) and isinstance(err, ValueError)
    with pytest.raises(NotFittedError, match="WoEBinner instance is not fitted"):
        scm.WoEBinner().transform(pd.DataFrame({"a": [1]}))


def _result_classes():
    return sorted(
        {
            obj
            for m in MODULES
            for obj in vars(m).values()
            if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and issubclass(obj, base.Result)
        },
        key=lambda c: c.__name__,
    )


def test_result_classes_follow_the_convention():
    classes = _result_classes()
    assert len(classes) >= 20
    for cls in classes:
        names = {f.name for f in dataclasses.fields(cls)}
        assert "summary" in names or isinstance(getattr(cls, "summary", None), property), cls.__name__
        for method in ("plot", "to_dict", "_repr_html_"):
            assert callable(getattr(cls, method)), (cls.__name__, method)


def test_base_result_renders_and_records():
    @dataclasses.dataclass
    class R(base.Result):
        summary: pd.DataFrame
        auc: float
        n: int
        name: str
        flag: bool

    r = R(pd.DataFrame({"segment": ["a", "b"], "rate": [0.1, 0.2]}), np.float64(0.7), np.int64(3), "x", True)
    assert r.to_dict() == {"auc": 0.7, "n": 3, "name": "x", "flag": True}
    html = r._repr_html_()
    assert "<table" in html and "segment" in html and ">0<" not in html  # no RangeIndex column
    ax = r.plot()
    assert ax.get_xlabel() == "rate" and len(ax.patches) == 2
    assert cmlib.base.TableResult(pd.DataFrame({"a": [1]})).to_dict() == {"n_rows": 1}


def test_a_result_displays_as_the_reports_table_once_cmlib_report_is_imported():
    import cmlib.report  # noqa: F401  (registers its renderer)

    r = base.TableResult(pd.DataFrame({"segment": ["<b>x</b>"], "rate": [0.123456]}))
    html = r._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "0.123" in html and "0.123456" not in html


def test_missing_columns_are_data_errors_naming_the_table():
    """Analyses check their columns before computing: one DataError listing the table and every missing
    column (exit 2 in the CLI), never a KeyError from deep inside pandas or Ibis."""
    from cmlib.errors import DataError

    df = pd.DataFrame({"arm": ["control", "t"] * 5, "y": [0.0, 1.0] * 5, "duration": 3, "event": [0, 1] * 5})
    cases = [
        (lambda: experiments.funnel_lifts(df, "arm", ["y", "nope"], "control"), "contacts", ["nope"]),
        (lambda: experiments.cuped(df, "arm", "y", ["pre"], "control"), "contacts", ["pre"]),
        (lambda: experiments.ratio_metric(df, "arm", "y", "den", "control"), "contacts", ["den"]),
        (lambda: experiments.sequential(df, "arm", "y", "control", "when"), "contacts", ["when"]),
        (lambda: survival.cox(df, "duration", "event", ["x1", "x2"]), "durations", ["x1", "x2"]),
        (lambda: survival.cumulative_incidence(df), "durations", ["cause"]),
        (lambda: survival.km_from_counts(df), "survival counts", ["time", "n_event", "at_risk"]),
        (lambda: optimize.fit_channel_curves(df), "channel_spend", ["channel", "spend", "bookings"]),
    ]
    for call, table, cols in cases:
        with pytest.raises(DataError) as e:
            call()
        msg = str(e.value)
        assert msg.startswith(f"table '{table}'") and all(f"column '{c}'" in msg for c in cols), msg
