"""Money as integer minor units plus an ISO 4217 currency. Never a float.

Gateways send amounts as decimal strings in major units (Alipay "58.00", epay "1.00") or as
integers in minor units (WeChat, Stripe). Both are turned into `Money` here, through `Decimal`,
and refused when they carry more precision than the currency has.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .errors import InvalidMoney

# ISO 4217 minor digits for currencies that are not the usual two.
_MINOR_DIGITS_EXCEPTIONS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}
DEFAULT_CURRENCY = "CNY"
MAX_MINOR_UNITS = 10**15


def normalize_currency(code: str | None) -> str:
    """Upper-case a currency code and check its shape (three ASCII letters)."""
    value = (code or DEFAULT_CURRENCY).strip().upper()
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise InvalidMoney(f"currency must be a three-letter ISO 4217 code, got {code!r}")
    return value


def minor_digits(currency: str) -> int:
    """How many digits after the decimal point the currency has (CNY 2, JPY 0, KWD 3)."""
    return _MINOR_DIGITS_EXCEPTIONS.get(normalize_currency(currency), 2)


@dataclass(frozen=True, order=True)
class Money:
    """An amount in the currency's smallest unit (分, cent) and its currency."""

    minor: int
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise InvalidMoney(f"minor units must be an integer, got {type(self.minor).__name__}")
        if abs(self.minor) > MAX_MINOR_UNITS:
            raise InvalidMoney("amount is out of range")
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def parse(cls, text: str, currency: str = DEFAULT_CURRENCY) -> "Money":
        """Parse a major-unit decimal string ("58.00", "1999" for JPY) exactly."""
        if not isinstance(text, str):
            raise InvalidMoney(f"amount must be a decimal string, got {type(text).__name__}")
        cleaned = text.strip()
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise InvalidMoney(f"amount {text!r} is not a decimal number") from None
        if not value.is_finite() or cleaned.lower().startswith(("+", "nan", "inf")) or "e" in cleaned.lower():
            raise InvalidMoney(f"amount {text!r} is not a plain decimal number")
        digits = minor_digits(currency)
        scaled = value.scaleb(digits)
        if scaled != scaled.to_integral_value():
            raise InvalidMoney(f"amount {text!r} has more than {digits} decimal places for {currency}")
        return cls(int(scaled), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str = DEFAULT_CURRENCY) -> "Money":
        return cls(minor, currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-minor_digits(self.currency))

    def format(self) -> str:
        """The contract's wire form: exactly the currency's minor digits ("58.00", "1999")."""
        digits = minor_digits(self.currency)
        return f"{self.to_decimal():.{digits}f}"

    def __add__(self, other: "Money") -> "Money":
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def _same_currency(self, other: "Money") -> None:
        if self.currency != other.currency:
            raise InvalidMoney(f"cannot combine {self.currency} and {other.currency}")

    def __str__(self) -> str:
        return f"{self.format()} {self.currency}"
