"""Shop use cases: register an order, read its status, report delivery."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..domain import validation as v
from ..domain.clock import utcnow
from ..domain.errors import Conflict, InvalidMoney, NotFound, ValidationFailed
from ..domain.money import Money, normalize_currency
from ..domain.order import EntryType, Order, TimelineEntry, report_delivery
from ..platform.settings import get_settings
from ..store import orders as order_store
from . import channels, ingest
from .order_writes import write_with_retry
from .user_agent import describe_user_agent

ORDER_NO = re.compile(r"[A-Za-z0-9_-]{1,32}")
_REGISTER_FIELDS = {
    "order_no",
    "product_id",
    "product_name",
    "quantity",
    "amount",
    "currency",
    "channel",
    "buyer_email",
    "buyer_id",
    "buyer_ip",
    "user_agent",
    "expires_in_s",
}


def new_order_no(now) -> str:
    """Digits only, shop-time prefixed: 20261125143012 + 6 random digits (API.md)."""
    local = now.astimezone(ZoneInfo(get_settings().shop_timezone))
    return local.strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**6):06d}"


def _parse_registration(body: Mapping[str, Any]) -> dict[str, Any]:
    body = v.require_object(body)
    v.reject_unknown(body, _REGISTER_FIELDS)
    channel = v.text(body, "channel", max_len=64)
    if channel not in channels.all_channels():
        raise ValidationFailed(
            f"channel: {channel!r} is not a configured channel",
            {"field": "channel", "allowed": sorted(channels.all_channels())},
        )
    amount = _amount(body, _currency(body, channel))
    return {
        "order_no": v.text(body, "order_no", required=False, max_len=32, pattern=ORDER_NO),
        "product_id": v.text(body, "product_id", max_len=64),
        "product_name": v.text(body, "product_name", max_len=200),
        "quantity": v.integer(body, "quantity", default=1, minimum=1, maximum=10_000),
        "amount": amount,
        "channel": channel,
        "buyer_email": v.email(body, "buyer_email"),
        "buyer_id": v.text(body, "buyer_id", required=False, max_len=64),
        "buyer_ip": v.ip_address(body, "buyer_ip"),
        "user_agent": v.text(body, "user_agent", required=False, max_len=1000),
        "expires_in_s": v.integer(
            body,
            "expires_in_s",
            default=get_settings().default_expires_in_s,
            minimum=60,
            maximum=7 * 86400,
        ),
    }


def _currency(body: Mapping[str, Any], channel: str) -> str:
    """An active ISO 4217 code the channel takes (all of them unless it declares `currencies`)."""
    currency = normalize_currency(v.text(body, "currency", required=False, max_len=3) or "CNY")
    accepted = ingest.accepted_currencies(channel)
    if accepted is not None and currency not in accepted:
        raise ValidationFailed(
            f"currency: channel {channel} takes {', '.join(sorted(accepted))} only",
            {"field": "currency", "allowed": sorted(accepted)},
        )
    return currency


def _amount(body: Mapping[str, Any], currency: str) -> Money:
    """A positive decimal string with at most the currency's minor digits, read exactly."""
    text = body.get("amount")
    if not isinstance(text, str):
        raise ValidationFailed(
            'amount: must be a decimal string such as "58.00"', {"field": "amount"}
        )
    try:
        amount = Money.parse(text, currency)
    except InvalidMoney as error:
        raise InvalidMoney(f"amount: {error.message}", {"field": "amount"}) from None
    if amount.minor <= 0:
        raise ValidationFailed("amount: must be greater than zero", {"field": "amount"})
    return amount


def _fingerprint(fields: dict[str, Any]) -> str:
    canonical = {
        k: (str(val) if isinstance(val, Money) else val)
        for k, val in fields.items()
        if k != "order_no"
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def _build(fields: dict[str, Any], order_no: str, now) -> Order:
    device = describe_user_agent(fields["user_agent"])
    return Order(
        order_no=order_no,
        amount=fields["amount"],
        channel=fields["channel"],
        gateway=channels.get_channel(fields["channel"])["type"],
        product_id=fields["product_id"],
        product_name=fields["product_name"],
        quantity=fields["quantity"],
        created_at=now,
        expires_at=now + timedelta(seconds=fields["expires_in_s"]),
        buyer_email=fields["buyer_email"],
        buyer_id=fields["buyer_id"],
        buyer_ip=fields["buyer_ip"],
        user_agent=fields["user_agent"],
        device=device.device,
        browser=device.browser,
        os=device.os,
        fingerprint=_fingerprint(fields),
        timeline=[
            TimelineEntry(
                at=now,
                type=EntryType.CREATED,
                source="shop",
                message=f"order registered: {fields['product_name']} × {fields['quantity']}, "
                f"{fields['amount']} via {fields['channel']}",
                data={"expires_in_s": fields["expires_in_s"]},
            )
        ],
    )


def register(body: Mapping[str, Any]) -> tuple[Order, bool]:
    """Register an order. Returns (order, created). Same number + same body is idempotent."""
    fields = _parse_registration(body)
    now = utcnow()
    for _ in range(5):
        order = _build(fields, fields["order_no"] or new_order_no(now), now)
        if order_store.create(order):
            return ingest.apply_kept_notices(order), True
        if fields["order_no"]:
            return _same_registration(order), False
    raise Conflict("could not allocate an order number; retry")


def _same_registration(order: Order) -> Order:
    existing = order_store.get(order.order_no)
    if existing is None or existing.fingerprint != order.fingerprint:
        raise Conflict(
            f"order {order.order_no} exists with a different body", {"order_no": order.order_no}
        )
    return existing


def get(order_no: str) -> Order:
    order = order_store.get(order_no) if ORDER_NO.fullmatch(order_no or "") else None
    if order is None:
        raise NotFound(f"no order {order_no!r}", {"order_no": order_no})
    return order


def record_delivery(order_no: str, body: Mapping[str, Any]) -> Order:
    body = v.require_object(body)
    v.reject_unknown(body, {"status", "detail"})
    status = v.choice(body, "status", ("delivered", "failed"))
    detail = v.text(body, "detail", required=False, max_len=500)
    now = utcnow()
    return write_with_retry(
        get(order_no), lambda order: report_delivery(order, status == "delivered", detail, now)
    )
