from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import InvalidMoney
from chalicelib.domain.money import (
    ISO_4217_MINOR_DIGITS,
    MAX_INTEGER_DIGITS,
    Money,
    minor_digits,
    normalize_currency,
    parse_scaled,
)


@pytest.mark.parametrize(
    "text,currency,minor",
    [
        ("58.00", "CNY", 5800),
        ("58", "CNY", 5800),
        ("0.01", "cny", 1),
        ("1999", "JPY", 1999),
        ("1.234", "KWD", 1234),
        ("7.5", "USD", 750),
        ("0", "CNY", 0),
        ("999999999999.99", "CNY", 99999999999999),
        ("1.2345", "CLF", 12345),
    ],
)
def test_parse_exact(text, currency, minor):
    money = Money.parse(text, currency)
    assert money.minor == minor
    assert money.currency == currency.upper()


@pytest.mark.parametrize(
    "text,currency",
    [
        ("58.001", "CNY"),
        ("19.5", "JPY"),
        ("abc", "CNY"),
        ("", "CNY"),
        ("1e3", "CNY"),
        ("NaN", "CNY"),
        ("Infinity", "CNY"),
        ("+5", "CNY"),
        ("1.00", "CN"),
        ("1.00", "12A"),
        ("5.000000000000000000000000000001", "CNY"),
        ("1_000.00", "CNY"),
        ("1,000.00", "CNY"),
        (" 7.5 ", "USD"),
        ("7.5\n", "USD"),
        ("-3.10", "CNY"),
        ("-0", "CNY"),
        ("5.", "CNY"),
        (".5", "CNY"),
        ("05.00", "CNY"),
        ("1000000000000", "CNY"),
        ("1E2", "CNY"),
        ("0x10", "CNY"),
        ("١٢.٠٠", "CNY"),
        ("12.٠٠", "CNY"),
        ("²", "CNY"),
        ("５", "CNY"),
        ("1.00", "ABC"),
        ("1.00", "XXX"),
        ("1.00", "cnyy"),
        ("1.00", ""),
        ("1.0\u00a0", "CNY"),
    ],
)
def test_parse_refuses(text, currency):
    with pytest.raises(InvalidMoney):
        Money.parse(text, currency)


def test_negatives_only_where_the_caller_allows_them():
    assert Money.parse("-3.10", "CNY", allow_negative=True).minor == -310
    assert Money.parse("-0.00", "CNY", allow_negative=True).minor == 0
    with pytest.raises(InvalidMoney):
        Money.parse("--3.10", "CNY", allow_negative=True)
    with pytest.raises(InvalidMoney):
        Money.parse("-3.101", "CNY", allow_negative=True)


def test_scaled_parse_for_finer_units_than_the_currency():
    assert parse_scaled("0.34800", 5) == 34800
    assert parse_scaled("-0.348", 5, allow_negative=True) == -34800
    with pytest.raises(InvalidMoney):
        parse_scaled("0.348001", 5)


def test_currency_is_an_active_iso_4217_code():
    assert (
        normalize_currency("usd") == "USD" and minor_digits("CLF") == 4 and minor_digits("BHD") == 3
    )
    for code in ("ABC", "XAU", "XTS", "HRK", "ZZZ", "US", "ＵＳＤ"):
        with pytest.raises(InvalidMoney):
            normalize_currency(code)
    with pytest.raises(InvalidMoney):
        Money(100, "ABC")


def test_minor_units_are_bounded_by_twelve_integer_digits():
    assert Money(10**14 - 1, "CNY").format() == "999999999999.99"
    with pytest.raises(InvalidMoney):
        Money(10**14, "CNY")
    with pytest.raises(InvalidMoney):
        Money(10**5000, "JPY")


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


@given(
    st.integers(min_value=-(10**12) + 1, max_value=10**12 - 1),
    st.sampled_from(["CNY", "JPY", "KWD", "USD"]),
)
def test_format_parse_round_trip(minor, currency):
    money = Money(minor, currency)
    assert Money.parse(money.format(), currency, allow_negative=True) == money
    assert money.to_decimal() == Decimal(money.format())


CURRENCIES = st.sampled_from(sorted(ISO_4217_MINOR_DIGITS))


@st.composite
def plain_amounts(draw):
    """Strings in the accepted grammar, of any currency's precision."""
    currency = draw(CURRENCIES)
    whole = draw(st.integers(min_value=0, max_value=10**MAX_INTEGER_DIGITS - 1))
    places = draw(st.integers(min_value=0, max_value=minor_digits(currency)))
    fraction = draw(st.text("0123456789", min_size=places, max_size=places))
    return (f"{whole}.{fraction}" if fraction else str(whole)), currency


@given(plain_amounts())
def test_every_accepted_string_round_trips_exactly(sample):
    text, currency = sample
    money = Money.parse(text, currency)
    assert Decimal(money.format()) == Decimal(text)  # exact: Decimal comparison never rounds
    assert Money.parse(money.format(), currency) == money
    assert (
        len(money.format().rsplit(".", 1)[-1]) == minor_digits(currency)
        or minor_digits(currency) == 0
    )


@given(st.text(max_size=30), CURRENCIES)
def test_any_text_is_refused_or_round_trips(text, currency):
    try:
        money = Money.parse(text, currency)
    except InvalidMoney:
        return
    assert Decimal(money.format()) == Decimal(text) and money.minor >= 0


def _with(draw, base: str, insert: str) -> str:
    at = draw(st.integers(min_value=0, max_value=len(base)))
    return base[:at] + insert + base[at:]


@st.composite
def hostile_amounts(draw):
    text, currency = draw(plain_amounts())
    kind = draw(
        st.sampled_from(
            ["exponent", "underscore", "unicode_digit", "too_many_decimals", "sign", "space"]
        )
    )
    if kind == "exponent":
        return text + draw(st.sampled_from(["e", "E"])) + str(draw(st.integers(-30, 30))), currency
    if kind == "underscore":
        return _with(draw, text, "_"), currency
    if kind == "unicode_digit":
        digit = draw(
            st.characters(whitelist_categories=("Nd", "No"), blacklist_characters="0123456789")
        )
        return _with(draw, text, digit), currency
    if kind == "sign":
        return draw(st.sampled_from(["+", "-"])) + text, currency
    if kind == "space":
        return _with(
            draw, text, draw(st.sampled_from([" ", "\t", "\n", "\u00a0", "\u3000"]))
        ), currency
    extra = draw(st.text("0123456789", min_size=1, max_size=30))
    places = minor_digits(currency)
    whole = text.split(".")[0]
    return f"{whole}.{'0' * places}{extra}", currency


@given(hostile_amounts())
def test_exponents_underscores_unicode_digits_signs_and_extra_decimals_are_refused(sample):
    text, currency = sample
    with pytest.raises(InvalidMoney):
        Money.parse(text, currency)
