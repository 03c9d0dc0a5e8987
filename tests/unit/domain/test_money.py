from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from chalicelib.domain.errors import InvalidMoney
from chalicelib.domain.money import Money, minor_digits


@pytest.mark.parametrize("text,currency,minor", [
    ("58.00", "CNY", 5800), ("58", "CNY", 5800), ("0.01", "cny", 1), ("1999", "JPY", 1999),
    ("1.234", "KWD", 1234), (" 7.5 ", "USD", 750), ("-3.10", "CNY", -310),
])
def test_parse_exact(text, currency, minor):
    money = Money.parse(text, currency)
    assert money.minor == minor
    assert money.currency == currency.upper()


@pytest.mark.parametrize("text,currency", [
    ("58.001", "CNY"), ("19.5", "JPY"), ("abc", "CNY"), ("", "CNY"), ("1e3", "CNY"),
    ("NaN", "CNY"), ("Infinity", "CNY"), ("+5", "CNY"), ("1.00", "CN"), ("1.00", "12A"),
])
def test_parse_refuses(text, currency):
    with pytest.raises(InvalidMoney):
        Money.parse(text, currency)


def test_refuses_non_string_and_float():
    with pytest.raises(InvalidMoney):
        Money.parse(58.0, "CNY")  # type: ignore[arg-type]
    with pytest.raises(InvalidMoney):
        Money(58.0, "CNY")  # type: ignore[arg-type]
    with pytest.raises(InvalidMoney):
        Money(True, "CNY")  # type: ignore[arg-type]


def test_format_uses_currency_digits():
    assert Money(5800, "CNY").format() == "58.00"
    assert Money(1999, "JPY").format() == "1999"
    assert Money(1, "KWD").format() == "0.001"
    assert minor_digits("jpy") == 0


def test_arithmetic_same_currency_only():
    assert Money(100) + Money(250) == Money(350)
    assert Money(100) - Money(250) == Money(-150)
    with pytest.raises(InvalidMoney):
        Money(100, "CNY") + Money(100, "USD")


@given(st.integers(min_value=-10**12, max_value=10**12), st.sampled_from(["CNY", "JPY", "KWD", "USD"]))
def test_format_parse_round_trip(minor, currency):
    money = Money(minor, currency)
    assert Money.parse(money.format(), currency) == money
    assert money.to_decimal() == Decimal(money.format())
