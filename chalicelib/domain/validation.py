"""Readers for untrusted JSON bodies: each returns a clean value or raises ValidationFailed that
names the field, so the API answers 400 with what is wrong instead of a 500."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Literal, overload

from .errors import ValidationFailed

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")


def _fail(field: str, message: str, value: Any = None) -> ValidationFailed:
    details: dict[str, str | int] = {"field": field}
    if value is not None and isinstance(value, (str, int)) and len(str(value)) <= 100:
        details["value"] = value
    return ValidationFailed(f"{field}: {message}", details)


def require_object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object", {"field": "body"})
    return body


@overload
def text(
    body: Mapping[str, Any],
    field: str,
    *,
    required: Literal[True] = True,
    max_len: int = 200,
    pattern: re.Pattern[str] | None = None,
) -> str: ...
@overload
def text(
    body: Mapping[str, Any],
    field: str,
    *,
    required: bool,
    max_len: int = 200,
    pattern: re.Pattern[str] | None = None,
) -> str | None: ...
def text(
    body: Mapping[str, Any],
    field: str,
    *,
    required: bool = True,
    max_len: int = 200,
    pattern: re.Pattern[str] | None = None,
) -> str | None:
    value = body.get(field)
    if value is None or value == "":
        if required:
            raise _fail(field, "is required")
        return None
    if not isinstance(value, str):
        raise _fail(field, f"must be a string, got {type(value).__name__}")
    value = value.strip()
    if not value and required:
        raise _fail(field, "is required")
    if len(value) > max_len:
        raise _fail(field, f"must be at most {max_len} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise _fail(field, "has an invalid format", value)
    return value or None


def integer(
    body: Mapping[str, Any],
    field: str,
    *,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    value = body.get(field, default)
    if value is None:
        raise _fail(field, "is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(field, f"must be an integer, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise _fail(field, f"must be at least {minimum}", value)
    if maximum is not None and value > maximum:
        raise _fail(field, f"must be at most {maximum}", value)
    return value


def email(body: Mapping[str, Any], field: str, *, required: bool = False) -> str | None:
    value = text(body, field, required=required, max_len=254)
    if value is not None and not _EMAIL.match(value):
        raise _fail(field, "is not an email address", value)
    return value


def ip_address(body: Mapping[str, Any], field: str, *, required: bool = False) -> str | None:
    value = text(body, field, required=required, max_len=45)
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _fail(field, "is not an IPv4 or IPv6 address", value) from None


@overload
def choice(
    body: Mapping[str, Any], field: str, options: tuple[str, ...], *, required: Literal[True] = True
) -> str: ...
@overload
def choice(
    body: Mapping[str, Any], field: str, options: tuple[str, ...], *, required: bool
) -> str | None: ...
def choice(
    body: Mapping[str, Any], field: str, options: tuple[str, ...], *, required: bool = True
) -> str | None:
    value = text(body, field, required=required, max_len=50)
    if value is not None and value not in options:
        raise ValidationFailed(
            f"{field}: must be one of {', '.join(options)}",
            {"field": field, "allowed": list(options)},
        )
    return value


def reject_unknown(body: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationFailed(f"unknown field(s): {', '.join(unknown)}", {"fields": unknown})
