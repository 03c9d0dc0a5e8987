"""Readers for query-string parameters: one strict parser per kind, so every route refuses the
same hostile shapes the same way (400 naming the parameter), never a 500. The HTTP edge
(app.py, domain/commands.py) reads each request into its command with these: one `limit` parser, one
`TimeRange`, one cursor codec.

- Whole numbers are ASCII digits only: `"²"` and `"٣"` pass `str.isdigit()`, and `int("²")` raises.
- Times are ISO 8601 within [TIME_MIN, TIME_MAX): `9999-12-31T23:59:59-01:00` overflows
  `astimezone`, and a year-9999 bound makes a per-day loop run for ever.
- A time range is checked for order and width before anything is read.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar, overload

from .errors import RangeTooLarge, ValidationFailed

TIME_MIN = datetime(2000, 1, 1, tzinfo=UTC)
TIME_MAX = datetime(2100, 1, 1, tzinfo=UTC)
MAX_TIME_TEXT = 40
_DIGITS = re.compile(r"[0-9]{1,9}")
_AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,3})?")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 20
MAX_CURSOR = 2048  # ours are a few hundred characters


def _fail(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{name}: {message}", {"field": name})


def _value(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    return None if value in (None, "") else value


def whole_number(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer in [low, high] written in ASCII digits, or `default` when absent."""
    value = _value(params, name)
    if value is None:
        return default
    if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise _fail(name, f"a whole number from {low} to {high}")
    return int(value)


def limit(params: Mapping[str, str], default: int, high: int) -> int:
    """The page size `limit`: 1 to `high`, `default` when absent."""
    return whole_number(params, "limit", default, 1, high)


def amount(params: Mapping[str, str], name: str) -> Decimal | None:
    """A non-negative decimal amount as people write it (`58`, `58.00`): no sign, exponent,
    separator or non-ASCII digit, at most 12 integer digits."""
    value = _value(params, name)
    if value is None:
        return None
    if not _AMOUNT.fullmatch(value):
        raise _fail(name, "a decimal amount such as 58.00 (digits and one point)")
    return Decimal(value)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time within [TIME_MIN, TIME_MAX) as aware UTC (a time without an offset is
    UTC). ValueError for anything else."""
    if not (isinstance(text, str) and text.isascii() and len(text) <= MAX_TIME_TEXT):
        raise ValueError("not an ISO 8601 time")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not TIME_MIN <= moment < TIME_MAX:
        raise ValueError("out of range")
    return moment.astimezone(UTC)


@overload
def time_value(params: Mapping[str, str], name: str, default: datetime) -> datetime: ...
@overload
def time_value(
    params: Mapping[str, str], name: str, default: datetime | None = None
) -> datetime | None: ...
def time_value(
    params: Mapping[str, str], name: str, default: datetime | None = None
) -> datetime | None:
    value = _value(params, name)
    if value is None:
        return default
    try:
        return parse_time(value)
    except (ValueError, OverflowError):
        raise _fail(
            name,
            f"an ISO 8601 time such as 2026-11-25T00:00:00Z, from {TIME_MIN.year} "
            f"to {TIME_MAX.year - 1}",
        ) from None


def parse_day(text: str) -> date:
    """`YYYY-MM-DD` in ASCII digits within the time range. ValueError for anything else."""
    if not (isinstance(text, str) and _DAY.fullmatch(text)):
        raise ValueError("not YYYY-MM-DD")
    day = date.fromisoformat(text)
    if not TIME_MIN.date() <= day < TIME_MAX.date():
        raise ValueError("out of range")
    return day


def day_of(name: str, text: Any) -> date:
    """The day parameter `name` (`YYYY-MM-DD`), or a 400 naming it."""
    try:
        return parse_day(text)
    except ValueError:
        raise ValidationFailed(f"{name}: expected YYYY-MM-DD", {"field": name}) from None


def day_value(params: Mapping[str, Any], name: str) -> date | None:
    """A day parameter (query string or body), None when absent."""
    value = params.get(name)
    return None if value is None else day_of(name, value)


_When = TypeVar("_When", datetime, date)


def check_range(
    since: _When,
    until: _When,
    max_span: timedelta,
    since_name: str = "from",
    until_name: str = "to",
) -> None:
    """`since` on or before `until`, at most `max_span` apart; raised before any read."""
    if since > until:
        raise ValidationFailed(
            f"{since_name} must be on or before {until_name}", {"field": since_name}
        )
    if until - since > max_span:
        raise RangeTooLarge(
            f"{since_name}..{until_name} spans more than {max_span.days} days: narrow the range "
            f"(several requests of at most {max_span.days} days each)",
            {"field": since_name, "max_days": max_span.days},
        )


@dataclass(frozen=True)
class TimeRange:
    """Two optional time parameters as the request gave them; `resolve` fills in the defaults
    from the service's clock and checks order and width (before anything is read)."""

    since: datetime | None = None
    until: datetime | None = None
    since_name: str = "from"
    until_name: str = "to"

    @property
    def given(self) -> bool:
        return self.since is not None or self.until is not None

    def resolve(
        self, now: datetime, default_span: timedelta, max_span: timedelta
    ) -> tuple[datetime, datetime]:
        """(since, until): `until` defaults to now, `since` to `default_span` before `until`."""
        until = self.until or now
        since = self.since or until - default_span
        check_range(since, until, max_span, self.since_name, self.until_name)
        return since, until


def time_range(
    params: Mapping[str, str], since_name: str = "from", until_name: str = "to"
) -> TimeRange:
    """The time range two parameters give, each an ISO 8601 time or absent (`until` read first)."""
    until = time_value(params, until_name)
    return TimeRange(time_value(params, since_name), until, since_name, until_name)


def encode_cursor(data: Any) -> str:
    """An opaque page cursor for `data` (JSON): URL-safe base64, unpadded."""
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The JSON a cursor holds (padded or not), read as untrusted input; ValueError when it is
    not one: each listing checks the shape and says so in its own words."""
    if len(cursor) > MAX_CURSOR:
        raise ValueError("cursor too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return parse_json(raw, "cursor")
    except (binascii.Error, ValidationFailed) as error:
        raise ValueError("not a cursor") from error


class _NotOurJson(ValueError):
    pass


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _NotOurJson(f"a number longer than {MAX_INT_DIGITS} digits")
    return int(text)


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotOurJson("a number out of range")
    return value


def _constant(text: str) -> None:
    raise _NotOurJson(f"{text} is not JSON")


def _encodable(text: str) -> bool:
    """False for a lone surrogate (`"\\ud800"` decodes to one): no UTF-8 answer or item holds it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_tree(value: Any, field: str) -> None:
    """At most MAX_JSON_DEPTH levels, every string encodable (walked iteratively: no recursion
    on hostile input)."""
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, str) and not node.isascii() and not _encodable(node):
            raise ValidationFailed(
                f"{field}: a string holds a lone surrogate (not Unicode text)", {"field": field}
            )
        if isinstance(node, (dict, list)):
            if level > MAX_JSON_DEPTH:
                raise ValidationFailed(
                    f"{field}: nested more than {MAX_JSON_DEPTH} levels", {"field": field}
                )
            children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)


def parse_json(text: str | bytes, field: str = "body") -> Any:
    """Untrusted JSON (a request body, a cursor): numbers of at most MAX_INT_DIGITS digits and
    finite, no NaN/Infinity, at most MAX_JSON_DEPTH levels, no lone surrogate in a string (keys
    included); ValidationFailed naming `field`
    for anything else — decoding errors, nesting past the parser's recursion limit, 5,000-digit
    integers (int() refuses past 4,300 digits) included."""
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_number, parse_constant=_constant)
    except (UnicodeDecodeError, RecursionError, ValueError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)[:200]
        raise ValidationFailed(f"{field}: not valid JSON ({reason})", {"field": field}) from None
    _check_tree(value, field)
    return value
