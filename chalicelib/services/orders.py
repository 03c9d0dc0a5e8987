"""Shop use cases: register an order, read its status, report delivery."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..domain.commands import ORDER_NO, RegisterOrder, ReportDelivery
from ..domain.errors import Conflict, NotFound
from ..domain.order import EntryType, Order, TimelineEntry, delivery_changes, report_delivery
from ..platform.settings import get_settings
from ..store import orders as order_store
from . import channels, ingest, ports
from .order_writes import write_with_retry
from .ports import clock
from .user_agent import describe_user_agent


def new_order_no(now) -> str:
    """Digits only, shop-time prefixed: 20261125143012 + 6 random digits (API.md)."""
    local = now.astimezone(ZoneInfo(get_settings().shop_timezone))
    return local.strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**6):06d}"


def read_registration(body: Any) -> RegisterOrder:
    """The edge's reading of POST /orders against the configured channels and their currencies."""
    return RegisterOrder.from_body(
        body,
        channels.all_channels(),
        ingest.accepted_currencies,
        get_settings().default_expires_in_s,
    )


def _build(command: RegisterOrder, order_no: str, now) -> Order:
    device = describe_user_agent(command.user_agent)
    return Order(
        order_no=order_no,
        amount=command.amount,
        channel=command.channel,
        gateway=channels.get_channel(command.channel)["type"],
        product_id=command.product_id,
        product_name=command.product_name,
        quantity=command.quantity,
        created_at=now,
        expires_at=now + timedelta(seconds=command.expires_in_s),
        buyer_email=command.buyer_email,
        buyer_id=command.buyer_id,
        buyer_ip=command.buyer_ip,
        user_agent=command.user_agent,
        device=device.device,
        browser=device.browser,
        os=device.os,
        fingerprint=command.fingerprint(),
        timeline=[
            TimelineEntry(
                at=now,
                type=EntryType.CREATED,
                source="shop",
                message=f"order registered: {command.product_name} × {command.quantity}, "
                f"{command.amount} via {command.channel}",
                data={"expires_in_s": command.expires_in_s},
            )
        ],
    )


def register(command: RegisterOrder) -> tuple[Order, bool]:
    """Register an order. Returns (order, created). Same number + same body is idempotent."""
    now = clock().now()
    for _ in range(5):
        order = _build(command, command.order_no or new_order_no(now), now)
        if ports.orders(order_store).create(order):
            return ingest.apply_kept_notices(order), True
        if command.order_no:
            return _same_registration(order), False
    raise Conflict("could not allocate an order number; retry")


def _same_registration(order: Order) -> Order:
    existing = ports.orders(order_store).get(order.order_no)
    if existing is None or existing.fingerprint != order.fingerprint:
        raise Conflict(
            f"order {order.order_no} exists with a different body", {"order_no": order.order_no}
        )
    return existing


def _unknown(order_no: str) -> NotFound:
    return NotFound(f"no order {order_no!r}", {"order_no": order_no})


def get(order_no: str) -> Order:
    order = ports.orders(order_store).get(order_no) if ORDER_NO.fullmatch(order_no or "") else None
    if order is None:
        raise _unknown(order_no)
    return order


def record_delivery(command: ReportDelivery) -> Order:
    """One conditional write when the report applies (paid, not held, delivery pending or
    failed); else `report_delivery` decides on the order that write found, as before: refused,
    already delivered (unchanged), or written after all (it changed in between)."""
    now = clock().now()
    if not ORDER_NO.fullmatch(command.order_no or ""):
        raise _unknown(command.order_no)
    fast = ports.orders(order_store).apply_delivery(
        command.order_no,
        delivery_changes(command.delivered, command.detail, now),
        command.delivered,
    )
    if fast.order is None:  # applied, the new order comes back; not applied, the order found
        raise _unknown(command.order_no)
    if fast.applied:
        return fast.order
    return write_with_retry(
        fast.order,
        lambda order: report_delivery(order, command.delivered, command.detail, now),
    )
