"""Money as integer minor units plus an ISO 4217 currency. Never a float.

Gateways send amounts as decimal strings in major units (Alipay "58.00", epay "1.00") or as
integers in minor units (WeChat, Stripe). Decimal strings are read here by a strict grammar and
integer arithmetic, never through `Decimal` arithmetic: its 28-digit context rounds silently
("5.000000000000000000000000000001" would become 5.00), and its constructor accepts exponents,
underscores and non-ASCII digits that no gateway sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from .errors import InvalidMoney

#: Active ISO 4217 currencies and their minor digits (ISO 4217 list one; funds codes included,
#: precious metals and testing codes excluded: they have no minor unit and are never paid in).
ISO_4217_MINOR_DIGITS: dict[str, int] = {
    "AED": 2,
    "AFN": 2,
    "ALL": 2,
    "AMD": 2,
    "ANG": 2,
    "AOA": 2,
    "ARS": 2,
    "AUD": 2,
    "AWG": 2,
    "AZN": 2,
    "BAM": 2,
    "BBD": 2,
    "BDT": 2,
    "BGN": 2,
    "BHD": 3,
    "BIF": 0,
    "BMD": 2,
    "BND": 2,
    "BOB": 2,
    "BOV": 2,
    "BRL": 2,
    "BSD": 2,
    "BTN": 2,
    "BWP": 2,
    "BYN": 2,
    "BZD": 2,
    "CAD": 2,
    "CDF": 2,
    "CHE": 2,
    "CHF": 2,
    "CHW": 2,
    "CLF": 4,
    "CLP": 0,
    "CNY": 2,
    "COP": 2,
    "COU": 2,
    "CRC": 2,
    "CUP": 2,
    "CVE": 2,
    "CZK": 2,
    "DJF": 0,
    "DKK": 2,
    "DOP": 2,
    "DZD": 2,
    "EGP": 2,
    "ERN": 2,
    "ETB": 2,
    "EUR": 2,
    "FJD": 2,
    "FKP": 2,
    "GBP": 2,
    "GEL": 2,
    "GHS": 2,
    "GIP": 2,
    "GMD": 2,
    "GNF": 0,
    "GTQ": 2,
    "GYD": 2,
    "HKD": 2,
    "HNL": 2,
    "HTG": 2,
    "HUF": 2,
    "IDR": 2,
    "ILS": 2,
    "INR": 2,
    "IQD": 3,
    "IRR": 2,
    "ISK": 0,
    "JMD": 2,
    "JOD": 3,
    "JPY": 0,
    "KES": 2,
    "KGS": 2,
    "KHR": 2,
    "KMF": 0,
    "KPW": 2,
    "KRW": 0,
    "KWD": 3,
    "KYD": 2,
    "KZT": 2,
    "LAK": 2,
    "LBP": 2,
    "LKR": 2,
    "LRD": 2,
    "LSL": 2,
    "LYD": 3,
    "MAD": 2,
    "MDL": 2,
    "MGA": 2,
    "MKD": 2,
    "MMK": 2,
    "MNT": 2,
    "MOP": 2,
    "MRU": 2,
    "MUR": 2,
    "MVR": 2,
    "MWK": 2,
    "MXN": 2,
    "MXV": 2,
    "MYR": 2,
    "MZN": 2,
    "NAD": 2,
    "NGN": 2,
    "NIO": 2,
    "NOK": 2,
    "NPR": 2,
    "NZD": 2,
    "OMR": 3,
    "PAB": 2,
    "PEN": 2,
    "PGK": 2,
    "PHP": 2,
    "PKR": 2,
    "PLN": 2,
    "PYG": 0,
    "QAR": 2,
    "RON": 2,
    "RSD": 2,
    "RUB": 2,
    "RWF": 0,
    "SAR": 2,
    "SBD": 2,
    "SCR": 2,
    "SDG": 2,
    "SEK": 2,
    "SGD": 2,
    "SHP": 2,
    "SLE": 2,
    "SOS": 2,
    "SRD": 2,
    "SSP": 2,
    "STN": 2,
    "SVC": 2,
    "SYP": 2,
    "SZL": 2,
    "THB": 2,
    "TJS": 2,
    "TMT": 2,
    "TND": 3,
    "TOP": 2,
    "TRY": 2,
    "TTD": 2,
    "TWD": 2,
    "TZS": 2,
    "UAH": 2,
    "UGX": 0,
    "USD": 2,
    "USN": 2,
    "UYI": 0,
    "UYU": 2,
    "UYW": 4,
    "UZS": 2,
    "VED": 2,
    "VES": 2,
    "VND": 0,
    "VUV": 0,
    "WST": 2,
    "XAF": 0,
    "XCD": 2,
    "XCG": 2,
    "XOF": 0,
    "XPF": 0,
    "YER": 2,
    "ZAR": 2,
    "ZMW": 2,
    "ZWG": 2,
}
DEFAULT_CURRENCY = "CNY"
#: the largest amount accepted anywhere: 999,999,999,999 major units
MAX_INTEGER_DIGITS = 12
#: ASCII digits only (`\d` would take "٣" and "²"), no leading zeros, an optional fraction
_AMOUNT = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?", re.ASCII)


def normalize_currency(code: str | None) -> str:
    """Upper-case a currency code and check it is an active ISO 4217 code (None: the default)."""
    if code is None:
        return DEFAULT_CURRENCY
    if not isinstance(code, str):
        raise InvalidMoney(f"currency must be a string, got {type(code).__name__}")
    value = code.strip().upper()
    if value not in ISO_4217_MINOR_DIGITS:
        raise InvalidMoney(
            f"currency must be an ISO 4217 code such as CNY or USD, got {code!r}",
            {"field": "currency"},
        )
    return value


def minor_digits(currency: str) -> int:
    """How many digits after the decimal point the currency has (CNY 2, JPY 0, KWD 3)."""
    return ISO_4217_MINOR_DIGITS[normalize_currency(currency)]


def _max_minor(currency: str) -> int:
    bound: int = 10 ** (MAX_INTEGER_DIGITS + minor_digits(currency))  # typeshed: int ** int is Any
    return bound - 1


def parse_scaled(text: str, places: int, *, allow_negative: bool = False) -> int:
    """`text` ("58.00", "-0.348") times 10**places, exactly, as an integer.

    The grammar: an optional "-" (only when `allow_negative`), ASCII digits without leading
    zeros, at most MAX_INTEGER_DIGITS of them, then optionally "." and 1..`places` digits. No
    "+", exponent, underscore, space or non-ASCII digit; more decimals than `places` is refused,
    never rounded.
    """
    if not isinstance(text, str):
        raise InvalidMoney(f"amount must be a decimal string, got {type(text).__name__}")
    match = _AMOUNT.fullmatch(text)
    shown = text if len(text) <= 40 else text[:40] + "…"
    if match is None:
        raise InvalidMoney(
            f"amount {shown!r} is not a decimal number (digits, an optional point, such as 58.00)"
        )
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    if sign and not allow_negative:
        raise InvalidMoney(f"amount {shown!r} must not be negative")
    if len(whole) > MAX_INTEGER_DIGITS:
        raise InvalidMoney(f"amount {shown!r} has more than {MAX_INTEGER_DIGITS} integer digits")
    if len(fraction) > places:
        raise InvalidMoney(f"amount {shown!r} has more than {places} decimal places")
    value: int = int(whole) * 10**places + int(fraction.ljust(places, "0") or "0")
    return -value if sign else value


@dataclass(frozen=True, order=True)
class Money:
    """An amount in the currency's smallest unit (分, cent) and its currency."""

    minor: int
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise InvalidMoney(f"minor units must be an integer, got {type(self.minor).__name__}")
        object.__setattr__(self, "currency", normalize_currency(self.currency))
        if abs(self.minor) > _max_minor(self.currency):
            raise InvalidMoney("amount is out of range", {"max_integer_digits": MAX_INTEGER_DIGITS})

    @classmethod
    def parse(
        cls, text: str, currency: str = DEFAULT_CURRENCY, *, allow_negative: bool = False
    ) -> Money:
        """Parse a major-unit decimal string ("58.00", "1999" for JPY) exactly (see
        `parse_scaled`). Negative amounts only where the caller says a sign is meaningful
        (statement refund rows)."""
        digits = minor_digits(currency)
        return cls(parse_scaled(text, digits, allow_negative=allow_negative), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str = DEFAULT_CURRENCY) -> Money:
        return cls(minor, currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.format())

    def format(self) -> str:
        """The contract's wire form: exactly the currency's minor digits ("58.00", "1999")."""
        digits = minor_digits(self.currency)
        whole, fraction = divmod(abs(self.minor), 10**digits)
        text = f"{whole}.{fraction:0{digits}d}" if digits else str(whole)
        return "-" + text if self.minor < 0 else text

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise InvalidMoney(f"cannot combine {self.currency} and {other.currency}")

    def __str__(self) -> str:
        return f"{self.format()} {self.currency}"


@lru_cache(maxsize=65536)
def shared(minor: int, currency: str) -> Money:
    """One Money per distinct amount for whoever asks: a day's statement and its ledger repeat
    a shop's few prices, and equal amounts that are one object compare by identity first
    (reconciliation's matching of a hundred thousand lines)."""
    return Money(minor, currency)
