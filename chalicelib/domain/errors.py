"""Typed domain errors. The HTTP edge maps them to responses in one place (chalicelib/web.py,
which holds each class's status: HTTP is not the domain's business).

Each error carries a stable snake_case `code`, a human message and optional details; the class
is what callers and the edge classify by, never the message text.
"""

from __future__ import annotations

from typing import Any


class PaytrackError(Exception):
    code = "error"

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(PaytrackError):
    code = "validation_failed"


class InvalidMoney(ValidationFailed):
    code = "invalid_amount"


class Unauthenticated(PaytrackError):
    code = "unauthenticated"


class Forbidden(PaytrackError):
    code = "forbidden"


class NotFound(PaytrackError):
    code = "not_found"


class Conflict(PaytrackError):
    code = "conflict"


class RefundNotOffered(Conflict):
    """The channel's gateway offers no refund API (or not this call): refund in the gateway's
    console and record it with `mark_refunded`."""

    code = "refund_not_supported"


class TransitionRefused(Conflict):
    """The order state machine does not allow this change."""

    code = "transition_refused"


class RangeTooLarge(ValidationFailed):
    """A time range wider than the route reads in one request: narrow it."""

    code = "range_too_large"


class ReadBudgetExceeded(PaytrackError):
    """Answering would read more than one request may (items, requests or time): narrow it."""

    code = "read_budget_exceeded"


class MethodNotAllowed(PaytrackError):
    code = "method_not_allowed"


class UnsupportedMediaType(PaytrackError):
    code = "unsupported_media_type"


class PayloadTooLarge(PaytrackError):
    code = "payload_too_large"


class NotificationRejected(PaytrackError):
    """A gateway notification that must not be applied: bad signature, malformed, wrong account.

    `reason` is a short machine word for the audit record and metrics
    (`bad_signature`, `malformed`, `account_mismatch`, `stale_timestamp`, `probe`, ...).
    """

    code = "notification_rejected"

    def __init__(self, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message, details)
        self.reason = reason


class SignatureInvalid(NotificationRejected):
    def __init__(self, message: str = "signature does not verify", reason: str = "bad_signature"):
        super().__init__(reason, message)


class MalformedNotification(NotificationRejected):
    def __init__(self, message: str):
        super().__init__("malformed", message)


class AccountMismatch(NotificationRejected):
    def __init__(self, message: str):
        super().__init__("account_mismatch", message)


class StaleTimestamp(NotificationRejected):
    def __init__(self, message: str):
        super().__init__("stale_timestamp", message)


class ChannelMisconfigured(PaytrackError):
    """A channel's configuration is unusable (missing field, bad key, unknown type).

    Server-side: the gateway should retry once an operator fixes the channels file. The message
    names the field, never its value.
    """

    code = "channel_misconfigured"


class GatewayUnavailable(PaytrackError):
    """The gateway could not be reached or answered garbage: never read as "unpaid"."""

    code = "gateway_unavailable"
