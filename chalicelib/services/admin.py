"""Operator use cases that read or manage, each audited: order detail, API keys, the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ..domain.actions import allowed as allowed_actions
from ..domain.anomaly import Anomaly
from ..domain.commands import CreateKey, ReadAuditLog
from ..domain.customer_reply import customer_reply
from ..domain.notice import Notice
from ..domain.order import Order
from ..gateways.registry import buyer_payment_name
from ..platform.settings import get_settings
from ..store import anomalies as anomaly_store
from ..store import audit
from ..store import keys as key_store
from ..store import notices as notice_store
from ..store.keys import StoredKey
from ..store.models import AuditModel
from . import auth, channels, geo, orders, ports, related
from .auth import Principal
from .ports import clock
from .related import Related


def _audit(
    principal: Principal, action: str, target: str | None, detail: dict | None = None
) -> None:
    audit.record_api(clock().now(), principal.key_id, principal.role, action, target, detail)


def _may_act(principal: Principal) -> bool:
    return principal.role in ("operator", "admin")


@dataclass(frozen=True)
class Caller:
    """The calling key and what its role may do, so a client can shape itself without probing."""

    key_id: str
    name: str
    role: str
    sees_pii: bool
    may_act: bool
    may_manage_keys: bool


def whoami(principal: Principal) -> Caller:
    return Caller(
        principal.key_id,
        principal.name,
        principal.role,
        principal.sees_pii,
        _may_act(principal),
        principal.role == "admin",
    )


@dataclass(frozen=True)
class OrderDetail:
    """Everything about one order an operator sees: the order, its notices and anomalies, where
    its buyer is, the sentence for the buyer and the buyer's other orders."""

    order: Order
    masked: bool
    fee_rate: Decimal | None
    actor_names: dict[str, str]
    location: geo.Location
    notices: list[Notice]
    anomalies: list[Anomaly]
    anomaly_names: dict[str, str]
    allowed_actions: list[str]  # what the caller may do to the order now (none for a viewer)
    customer_reply: str
    related: Related


def order_detail(principal: Principal, order_no: str) -> OrderDetail:
    """PII is masked for viewers; every read is audited."""
    order = orders.get(order_no)
    masked = not principal.sees_pii
    found = ports.anomalies(anomaly_store).for_order(order_no)
    now = clock().now()
    detail = OrderDetail(
        order=order,
        masked=masked,
        fee_rate=channels.fee_rate_of(order.channel),
        actor_names=auth.key_names({e.actor for e in order.timeline}),
        location=geo.locate(order.buyer_ip),
        notices=[n for n, _ in notice_store.for_order(order_no)],
        anomalies=found,
        anomaly_names=auth.key_names({a.updated_by for a in found}),
        allowed_actions=allowed_actions(order) if _may_act(principal) else [],
        customer_reply=customer_reply(
            order,
            now,
            ZoneInfo(get_settings().shop_timezone),
            buyer_payment_name(order.method, order.gateway),
        ),
        related=related.related_orders(order, now=now),
    )
    _audit(principal, "read_order", order_no, {"masked": masked})
    return detail


@dataclass(frozen=True)
class NewKey:
    key_id: str
    name: str
    role: str
    key: str  # the secret, shown this once


def create_key(principal: Principal, command: CreateKey) -> NewKey:
    key_id, key = auth.create_key(command.name, command.role, principal.key_id)
    _audit(principal, "create_key", key_id, {"name": command.name, "role": command.role})
    return NewKey(key_id, command.name, command.role, key)


def list_keys(principal: Principal) -> list[StoredKey]:
    return key_store.list_all()


def revoke_key(principal: Principal, key_id: str) -> StoredKey | None:
    auth.revoke_key(key_id)
    _audit(principal, "revoke_key", key_id)
    return key_store.by_id(key_id)


def audit_log(principal: Principal, command: ReadAuditLog) -> list[AuditModel]:
    """Who read, exported or changed what, newest first."""
    since, until = command.period.resolve(clock().now(), timedelta(days=1), timedelta(days=31))
    return audit.api_records(since, until, command.key, command.limit)
