"""Operator use cases that read or manage, each audited: order detail, API keys, the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..domain import params as p
from ..domain import validation as v
from ..domain.actions import allowed as allowed_actions
from ..domain.clock import utcnow
from ..domain.customer_reply import customer_reply
from ..domain.errors import ValidationFailed
from ..gateways.registry import buyer_payment_name
from ..platform.settings import get_settings
from ..store import anomalies as anomaly_store
from ..store import audit
from ..store import keys as key_store
from ..store import notices as notice_store
from . import auth, channels, geo, orders, related, render
from .auth import Principal

MAX_KEY_ID = 64


def _audit(
    principal: Principal, action: str, target: str | None, detail: dict | None = None
) -> None:
    audit.record_api(utcnow(), principal.key_id, principal.role, action, target, detail)


def _may_act(principal: Principal) -> bool:
    return principal.role in ("operator", "admin")


def whoami(principal: Principal) -> dict[str, Any]:
    """The calling key and what its role may do, so a client can shape itself without probing."""
    role = principal.role
    return {
        "id": principal.key_id,
        "name": principal.name,
        "role": role,
        "sees_pii": principal.sees_pii,
        "may_act": _may_act(principal),
        "may_manage_keys": role == "admin",
    }


def order_detail(principal: Principal, order_no: str) -> dict[str, Any]:
    """Everything about one order: fields, timeline, notices, payments, anomalies, actions and
    the sentence for the buyer. PII is masked for viewers; every read is audited."""
    order = orders.get(order_no)
    masked = not principal.sees_pii
    view = render.order_for_admin(
        order,
        masked=masked,
        fee_rate=channels.fee_rate_of(order.channel),
        actor_names=key_names({e.actor for e in order.timeline}),
    )
    location = geo.locate(order.buyer_ip)
    view["buyer_region"] = location.text()
    view["buyer_location"] = location.as_dict()
    view["channel_names"] = render.channel_names()
    view["notices"] = [render.notice_view(n, masked) for n, _ in notice_store.for_order(order_no)]
    found = anomaly_store.for_order(order_no)
    view["anomalies"] = [
        render.anomaly_view(a, masked=masked, names=key_names({a.updated_by for a in found}))
        for a in found
    ]
    view["actions"] = [e for e in view["timeline"] if e["source"] == "operator"]
    view["allowed_actions"] = allowed_actions(order) if _may_act(principal) else []
    now = utcnow()
    view["customer_reply"] = customer_reply(
        order,
        now,
        ZoneInfo(get_settings().shop_timezone),
        buyer_payment_name(order.method, order.gateway),
    )
    view["related"] = related.related_orders(order, masked=masked, now=now)
    _audit(principal, "read_order", order_no, {"masked": masked})
    return view


def key_names(key_ids: set[str | None]) -> dict[str, str]:
    """Key id -> the name it was created with, for the actors of a timeline (revoked keys too)."""
    found = {key_id: key_store.by_id(key_id) for key_id in key_ids if key_id}
    return {key_id: stored.name for key_id, stored in found.items() if stored is not None}


def create_key(principal: Principal, body: Mapping[str, Any]) -> dict[str, Any]:
    body = v.require_object(body)
    v.reject_unknown(body, {"name", "role"})
    name = v.text(body, "name", max_len=100)
    role = v.choice(body, "role", auth.ROLES)
    key_id, key = auth.create_key(name, role, principal.key_id)
    _audit(principal, "create_key", key_id, {"name": name, "role": role})
    return {"id": key_id, "name": name, "role": role, "key": key}


def list_keys(principal: Principal) -> dict[str, Any]:
    return {"items": [render.key_view(k) for k in key_store.list_all()]}


def revoke_key(principal: Principal, key_id: str) -> dict[str, Any]:
    auth.revoke_key(key_id)
    _audit(principal, "revoke_key", key_id)
    return render.key_view(key_store.by_id(key_id))


def audit_log(principal: Principal, params: Mapping[str, str]) -> dict[str, Any]:
    """Who read, exported or changed what, newest first; by key (`key`) and time (`from`, `to`)."""
    since, until = p.time_range(params).resolve(utcnow(), timedelta(days=1), timedelta(days=31))
    limit = p.whole_number(params, "limit", 100, 1, 500)
    key = params.get("key") or None
    if key is not None and len(key) > MAX_KEY_ID:
        raise ValidationFailed(f"key: a key id (at most {MAX_KEY_ID} characters)", {"field": "key"})
    items = audit.api_records(since, until, key, limit)
    return {"items": [render.audit_view(item) for item in items]}
