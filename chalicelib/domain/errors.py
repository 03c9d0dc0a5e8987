"""Typed domain errors. Entry points map them to responses in one place (platform/http.py).

Each error carries a stable snake_case `code`, a human message and optional details; the HTTP
status is a property of the class so no caller classifies errors by their message text.
"""

from __future__ import annotations

from typing import Any


class PaytrackError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(PaytrackError):
    code = "validation_failed"
    status = 400


class InvalidMoney(ValidationFailed):
    code = "invalid_amount"


class Unauthenticated(PaytrackError):
    code = "unauthenticated"
    status = 401


class Forbidden(PaytrackError):
    code = "forbidden"
    status = 403


class NotFound(PaytrackError):
    code = "not_found"
    status = 404


class Conflict(PaytrackError):
    code = "conflict"
    status = 409


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
    status = 400


class MethodNotAllowed(PaytrackError):
    code = "method_not_allowed"
    status = 405


class UnsupportedMediaType(PaytrackError):
    code = "unsupported_media_type"
    status = 415


class PayloadTooLarge(PaytrackError):
    code = "payload_too_large"
    status = 413


class NotificationRejected(PaytrackError):
    """A gateway notification that must not be applied: bad signature, malformed, wrong account.

    `reason` is a short machine word for the audit record and metrics
    (`bad_signature`, `malformed`, `account_mismatch`, `stale_timestamp`, `probe`, ...).
    """

    code = "notification_rejected"
    status = 400

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
    status = 500


class GatewayUnavailable(PaytrackError):
    """The gateway could not be reached or answered garbage: never read as "unpaid"."""

    code = "gateway_unavailable"
    status = 502
