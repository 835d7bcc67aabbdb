"""Finance (cmlib/finance.py): NPV and campaign P&L equal hand calculations; APR solves its defining
equation and matches known cases; tornado ordering."""

from __future__ import annotations

import numpy as np
import pytest

from cmlib.errors import ParameterError
from cmlib.finance import account_npv, apr, campaign_pnl, card_apr, monthly_rate, tornado


def test_account_npv_by_hand():
    r = 1.10 ** (1 / 12) - 1
    want = sum(10 / (1 + r) ** t for t in range(1, 25)) - 100 / (1 + r) ** 12 - 50
    assert account_npv(
        10, 24, expected_loss=100, annual_discount_rate=0.10, acquisition_cost=50
    ) == pytest.approx(want)
    # a fractional month earns its fraction
    assert account_npv(10, 2.5, annual_discount_rate=0.0) == pytest.approx(25.0)
    assert monthly_rate(0.0) == 0.0
    with pytest.raises(ParameterError, match="lifetime_months"):
        account_npv(10, -1)


def test_campaign_pnl_by_hand():
    p = campaign_pnl(
        contacts=100_000,
        cost_per_contact=1.2,
        fixed_cost=5_000,
        response_rate=0.03,
        approval_rate=0.6,
        booking_rate=0.85,
        margin_per_month=12,
        lifetime_months=36,
        expected_bad_rate=0.05,
        loss_given_bad=2_000,
        annual_discount_rate=0.10,
        incremental_share=0.8,
    )
    bookings = 100_000 * 0.03 * 0.6 * 0.85
    value = account_npv(12, 36, 0.05 * 2_000, 0.10)
    cost = 5_000 + 120_000
    assert p.profit == pytest.approx(bookings * 0.8 * value - cost)
    assert p.roi == pytest.approx(p.profit / cost)
    # at the break-even response rate the profit is zero
    be = campaign_pnl(
        100_000, 1.2, 5_000, p.break_even_response_rate, 0.6, 0.85, 12, 36, 0.05, 2_000, 0.10, 0.8
    )
    assert be.profit == pytest.approx(0.0, abs=1e-6)
    assert 1 <= p.payback_months <= 36
    with pytest.raises(ParameterError, match="response_rate"):
        campaign_pnl(1, 1, 0, 1.5, 0.5, 0.5, 1, 1, 0.1, 1)


def test_apr_solves_its_equation_and_known_cases():
    # one payment of 110 a year after borrowing 100: exactly 10 %
    assert apr(100, [110], [12]) == pytest.approx(0.10, abs=1e-10)
    # 12 monthly instalments at a nominal 12 % (1 % a month): APR = 1.01^12 - 1 = 12.68 %
    inst = 1000 * 0.01 / (1 - 1.01**-12)
    assert apr(1000, [inst] * 12, range(1, 13)) == pytest.approx(1.01**12 - 1, abs=1e-9)
    x = card_apr(3000, 0.229, annual_fee=39)
    i = 0.229 / 12
    pay = 3000 * i / (1 - (1 + i) ** -12)
    assert sum(pay * (1 + x) ** (-t / 12) for t in range(1, 13)) == pytest.approx(3000 - 39, abs=1e-6)
    assert x > (1 + i) ** 12 - 1  # a fee raises the APR above the nominal rate's effective rate
    with pytest.raises(ParameterError, match="payments"):
        apr(100, [50], [12])


def test_tornado_orders_by_swing():
    t = tornado(lambda a, b: 2 * a + 10 * b, {"a": 1.0, "b": 1.0}, {"a": (0.0, 2.0), "b": (0.5, 1.5)}).summary
    assert t["assumption"].tolist() == ["b", "a"] and t["swing"].tolist() == [10.0, 4.0]
    assert np.allclose(t["base_result"], 12.0)
    with pytest.raises(ParameterError, match="ranges"):
        tornado(lambda a: a, {"a": 1}, {"z": (0, 1)})
