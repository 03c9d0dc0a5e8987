"""Stripe webhooks (HMAC-SHA256 `Stripe-Signature`), mapped to a `Notice`.

Named `stripe_gateway` so it never shadows the `stripe` SDK package.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..domain.errors import (
    ChannelMisconfigured,
    MalformedNotification,
    SignatureInvalid,
    StaleTimestamp,
)
from ..domain.labels import Label
from ..domain.money import Money
from ..domain.notice import Notice, NoticeKind
from ..domain.refunds import RefundState
from . import stripe_api
from ._signing import json_object, malformed_on_error, need, need_str, opt_str
from .base import Answer, Gateway, Headers, InboundRequest

TOLERANCE_S = 300
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Fields = dict[str, Any]


class StripeGateway(Gateway):
    type_name = "stripe"
    label = Label("Stripe", "Stripe")
    methods = (("stripe", Label("银行卡（Stripe）", "Card (Stripe)")),)
    buyer_name = "银行卡（Stripe）"
    required_fields = ("webhook_secret", "api_key", "api_base")
    trade_no_format = re.compile(r"(pi|ch|py)_[A-Za-z0-9]{8,64}")  # a PaymentIntent or a Charge
    secret_fields = ("webhook_secret", "api_key")

    query_order = staticmethod(stripe_api.query)
    find_trade = staticmethod(stripe_api.find_trade)
    fetch_statement = staticmethod(stripe_api.fetch_balance)
    refund = staticmethod(stripe_api.refund)
    query_refund = staticmethod(stripe_api.query_refund)

    def parse_notification(
        self, request: InboundRequest, config: Mapping[str, Any], channel: str, now: datetime
    ) -> Notice | None:
        with malformed_on_error():
            _verify(request, config, now)
            event = json_object(request.body)
            event_type = need_str(event, "type")
            if event_type not in _EVENTS:
                return None
            build, kind = _EVENTS[event_type]
            obj = need(event, "data", "object")
            return Notice(
                channel=channel,
                gateway=self.type_name,
                kind=kind(obj) if callable(kind) else kind,
                dedupe_key=f"{channel}:{need_str(event, 'id')}",
                gateway_status=event_type,
                event_time=_unix_time(need(event, "created")),
                raw=self.redact(event),
                method="stripe",
                **build(obj),
            )

    def success_answer(self) -> Answer:
        return Answer(200, json.dumps({"received": True}), "application/json")

    def failure_answer(self, message: str, status: int) -> Answer:
        body = json.dumps({"error": message}, ensure_ascii=False)
        return Answer(status, body, "application/json")

    def offers_refunds(self, config: Mapping[str, Any]) -> bool:
        return True


# --- verification ------------------------------------------------------------------------------


def _secrets(config: Mapping[str, Any]) -> list[bytes]:
    """`webhook_secret`: one `whsec_…` string, or a list of them while rotating."""
    value = config.get("webhook_secret")
    secrets = [value] if isinstance(value, str) else value
    if (
        not isinstance(secrets, list)
        or not secrets
        or not all(isinstance(s, str) and s for s in secrets)
    ):
        raise ChannelMisconfigured(
            "channel config field webhook_secret must be a string or a list of strings"
        )
    return [s.encode("utf-8") for s in secrets]


def _parse_signature_header(header: str) -> tuple[str, list[bytes]]:
    """`t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]` → the timestamp text and the v1 signatures."""
    items = [part.strip().partition("=") for part in header.split(",")]
    stamps = [value for key, _, value in items if key == "t"]
    signatures = [value.encode("utf-8") for key, _, value in items if key == "v1"]
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()):
        raise SignatureInvalid("Stripe-Signature has no single unix timestamp t")
    if not signatures:
        raise SignatureInvalid("Stripe-Signature has no v1 signature")
    return stamps[0], signatures


def _verify(request: InboundRequest, config: Mapping[str, Any], now: datetime) -> None:
    """Any v1 matching any configured secret passes; then the timestamp must be fresh.

    Freshness comes after the signature so `stale_timestamp` always means an authentic but
    replayed or delayed message, never a forgery.
    """
    header = Headers(request.headers).get("Stripe-Signature")
    if not header:
        raise MalformedNotification("missing header Stripe-Signature")
    timestamp, signatures = _parse_signature_header(header)
    signed = timestamp.encode("ascii") + b"." + request.body
    expected = [
        hmac.new(secret, signed, hashlib.sha256).hexdigest().encode("ascii")
        for secret in _secrets(config)
    ]
    if not any(hmac.compare_digest(e, s) for e in expected for s in signatures):
        raise SignatureInvalid()
    age = int(now.timestamp()) - int(timestamp)
    if abs(age) > TOLERANCE_S:
        raise StaleTimestamp(f"Stripe-Signature t is {age:+d} s off, more than {TOLERANCE_S} s")


# --- mapping -----------------------------------------------------------------------------------


def _unix_time(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedNotification("created must be a unix time")
    return _EPOCH + timedelta(seconds=value)


def _money(obj: Mapping[str, Any], field: str) -> Money:
    return Money.from_minor(need(obj, field), need_str(obj, "currency"))


def _id_of(value: Any) -> str | None:
    """A reference field: an id string, or an expanded object's id."""
    if isinstance(value, Mapping):
        return opt_str(value, "id")
    return value if isinstance(value, str) and value else None


def _order_id(obj: Mapping[str, Any], required: bool = True) -> str:
    """Our order number. PaymentIntents, Charges and Disputes of a Checkout payment do not carry
    Checkout's client_reference_id: for them "" means "find the order by payment_ref"."""
    metadata = obj.get("metadata")
    order_id = opt_str(obj, "client_reference_id") or (
        opt_str(metadata, "order_id") if isinstance(metadata, Mapping) else None
    )
    if order_id is None and required:
        raise MalformedNotification(
            "no order id: neither client_reference_id nor metadata.order_id"
        )
    return order_id or ""


def _session(obj: Mapping[str, Any]) -> Fields:
    """Checkout Session: identity is its PaymentIntent, or the session while it has none."""
    ref = _id_of(obj.get("payment_intent")) or need_str(obj, "id")
    details = obj.get("customer_details")
    email = opt_str(details, "email") if isinstance(details, Mapping) else None
    return {
        "out_trade_no": _order_id(obj),
        "trade_no": ref,
        "payment_ref": ref,
        "amount": _money(obj, "amount_total"),
        "payer": _id_of(obj.get("customer")) or email,
        "extra": {"checkout_session": need_str(obj, "id")},
    }


def _intent(amount_field: str) -> Callable[[Mapping[str, Any]], Fields]:
    def build(obj: Mapping[str, Any]) -> Fields:
        ref = need_str(obj, "id")
        return {
            "out_trade_no": _order_id(obj, required=False),
            "trade_no": ref,
            "payment_ref": ref,
            "amount": _money(obj, amount_field),
            "payer": _id_of(obj.get("customer")),
        }

    return build


def _charge(obj: Mapping[str, Any]) -> Fields:
    """A refunded Charge: `amount_refunded` is the running total, like Alipay's refund_fee."""
    ref = _id_of(obj.get("payment_intent")) or need_str(obj, "id")
    return {
        "out_trade_no": _order_id(obj, required=False),
        "trade_no": ref,
        "payment_ref": ref,
        "amount": _money(obj, "amount"),
        "refunded_total": _money(obj, "amount_refunded"),
        "payer": _id_of(obj.get("customer")),
        "extra": {"charge": need_str(obj, "id")},
    }


def _refund(obj: Mapping[str, Any]) -> Fields:
    """A Refund (refund.created / updated / failed): `refund_ref` names our refund request when
    paytrack asked for it (metadata), else Stripe's refund id; `amount` is this refund's."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        metadata = {}
    ref = _id_of(obj.get("payment_intent")) or _id_of(obj.get("charge")) or need_str(obj, "id")
    state = stripe_api.REFUND_STATES.get(need_str(obj, "status"), RefundState.PENDING)
    return {
        "out_trade_no": opt_str(metadata, "order_id") or "",
        "trade_no": ref,
        "payment_ref": ref,
        "amount": _money(obj, "amount"),
        "refund_ref": opt_str(metadata, "refund_request_id") or need_str(obj, "id"),
        "extra": {
            "refund_state": state.value,
            "gateway_refund_id": need_str(obj, "id"),
            "detail": " ".join(
                filter(None, (need_str(obj, "status"), opt_str(obj, "failure_reason")))
            ),
        },
    }


def _refund_kind(obj: Mapping[str, Any]) -> NoticeKind:
    """Only a succeeded refund moves money; pending and failed ones are information."""
    return NoticeKind.REFUND if obj.get("status") == "succeeded" else NoticeKind.INFO


def _dispute(obj: Mapping[str, Any]) -> Fields:
    ref = _id_of(obj.get("payment_intent")) or _id_of(obj.get("charge")) or need_str(obj, "id")
    return {
        "out_trade_no": _order_id(obj, required=False),
        "trade_no": ref,
        "payment_ref": ref,
        "amount": _money(obj, "amount"),
        "extra": {"dispute": need_str(obj, "id"), "reason": obj.get("reason")},
    }


def _paid_or_info(session: Mapping[str, Any]) -> NoticeKind:
    return NoticeKind.PAYMENT if session.get("payment_status") == "paid" else NoticeKind.INFO


_EVENTS: dict[
    str,
    tuple[
        Callable[[Mapping[str, Any]], Fields],
        NoticeKind | Callable[[Mapping[str, Any]], NoticeKind],
    ],
] = {
    "checkout.session.completed": (_session, _paid_or_info),
    "checkout.session.async_payment_succeeded": (_session, NoticeKind.PAYMENT),
    "checkout.session.async_payment_failed": (_session, NoticeKind.INFO),
    "checkout.session.expired": (_session, NoticeKind.CLOSED),
    "payment_intent.succeeded": (_intent("amount_received"), NoticeKind.PAYMENT),
    "payment_intent.payment_failed": (_intent("amount"), NoticeKind.INFO),
    "charge.refunded": (_charge, NoticeKind.REFUND),
    "charge.dispute.created": (_dispute, NoticeKind.INFO),
    "refund.created": (_refund, _refund_kind),
    "refund.updated": (_refund, _refund_kind),
    "refund.failed": (_refund, _refund_kind),
}
