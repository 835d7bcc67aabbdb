"""Public data sets load from installed packages with pinned rows and target rates (cmlib/data/public.py)."""

from __future__ import annotations

import pytest

from cmlib.data.public import PUBLIC_SETS, cards, load_public
from cmlib.errors import ParameterError

# rows and positive counts as published with each data set
PINNED = {
    "german": (1000, "bad", 300),
    "credit_data": (4454, "bad", 1254),
    "lending_club": (9857, "bad", 517),
    "wa_churn": (7043, "churned", 1869),
    "hmda": (2380, "denied", 285),
    "caravan": (5822, "responded", 348),
    "debitcards": (164, None, None),
    "irates": (531, None, None),
    "insurance": (40, None, None),
}


@pytest.mark.parametrize("name", PUBLIC_SETS)
def test_rows_and_target_pinned(name):
    d = load_public(name)
    rows, target, positives = PINNED[name]
    assert len(d.frame) == rows == d.card["rows"]
    if target:
        assert d.card["target"] == target
        assert set(d.frame[target].unique()) == {0, 1}
        assert int(d.frame[target].sum()) == positives
        assert d.card["target_rate"] == pytest.approx(positives / rows)
    assert "rownames" not in d.frame.columns
    assert d.card["source"]


def test_time_series_have_monthly_dates():
    deb = load_public("debitcards").frame
    assert deb["month"].iloc[0].isoformat()[:10] == "2000-01-01" and deb["month"].is_monotonic_increasing
    assert deb["month"].diff().dt.days.dropna().between(28, 31).all()
    ir = load_public("irates").frame
    assert str(ir["month"].iloc[-1].date()) == "1991-02-01"
    assert str(load_public("insurance").frame["month"].iloc[0].date()) == "2002-01-01"


def test_hmda_carries_protected_group():
    h = load_public("hmda").frame
    assert set(h["protected_group"]) == {"african_american", "other"}
    assert (h["protected_group"] == "african_american").sum() == (h["afam"] == "yes").sum()


def test_cards_and_unknown_name():
    assert list(cards()["name"]) == list(PUBLIC_SETS)
    with pytest.raises(ParameterError, match="one of german"):
        load_public("titanic")
