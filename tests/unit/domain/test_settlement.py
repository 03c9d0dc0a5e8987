"""An order's fee and net always come with their currency and how sure we are of them: from the
statement (converted or not), from the payment's notification, or estimated from the channel's
contracted rate until a statement confirms it."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from chalicelib.domain.money import Money
from chalicelib.domain.settlement import FeeStatus, settlement_of, settlement_view
from tests.unit.rules.factories import order, paid


def test_a_converted_payment_shows_the_settled_amount_rate_fee_and_net_in_the_settlement_currency():
    usd = paid(order(amount=Money(1999, "USD")))
    settled = replace(
        usd,
        fee=Money(921, "HKD"),
        net=Money(14671, "HKD"),
        settled_amount=Money(15592, "HKD"),
        exchange_rate="7.8",
    )
    assert settlement_view(settled, Decimal("0.034")) == {
        "fee": "9.21",
        "fee_currency": "HKD",
        "fee_status": "statement",
        "net_amount": "146.71",
        "net_currency": "HKD",
        "settled_amount": "155.92",
        "settlement_currency": "HKD",
        "exchange_rate": "7.8",
    }


def test_without_a_statement_the_contract_rate_gives_an_estimate():
    cny = paid(order(amount=Money(5800, "CNY"), channel="epay-main"))
    found = settlement_of(cny, Decimal("0.02"))
    assert (found.fee, found.net, found.status) == (
        Money(116, "CNY"),
        Money(5684, "CNY"),
        FeeStatus.ESTIMATED,
    )
    assert settlement_of(cny).status is None and settlement_of(cny).fee is None


def test_a_fee_the_notification_stated_is_the_gateways_until_the_statement():
    cny = replace(paid(order()), fee=Money(35, "CNY"))
    found = settlement_of(cny, Decimal("0.02"))
    assert (found.fee, found.net, found.status) == (
        Money(35, "CNY"),
        Money(5765, "CNY"),
        FeeStatus.GATEWAY,
    )
