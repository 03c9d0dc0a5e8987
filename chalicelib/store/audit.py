"""The audit trail: inbound notify requests and admin reads, exports and actions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..domain.clock import day_of, to_iso
from .models import AuditModel


@dataclass(frozen=True)
class NotifyAudit:
    channel: str
    received_at: datetime
    source_ip: str | None
    verification: str  # ok, bad_signature, malformed, account_mismatch, unknown_channel, ...
    outcome: str  # applied, already_applied, unknown_order, refused, rejected, ...
    answer_status: int
    answer_body: str
    payload: str  # the raw request, secrets removed
    detail: dict[str, Any] = field(default_factory=dict)


def _sk(at: datetime) -> str:
    return f"{to_iso(at)}#{uuid.uuid4().hex[:12]}"


def record_notify(entry: NotifyAudit, ttl_days: int) -> None:
    AuditModel(
        f"notify#{day_of(entry.received_at)}",
        _sk(entry.received_at),
        kind="notify",
        at=to_iso(entry.received_at),
        action="notify",
        channel=entry.channel,
        target=entry.detail.get("out_trade_no") or None,
        source_ip=entry.source_ip,
        verification=entry.verification,
        outcome=entry.outcome,
        answer_status=entry.answer_status,
        answer_body=entry.answer_body[:200],
        payload=entry.payload,
        detail=entry.detail or None,
        expires=entry.received_at + timedelta(days=ttl_days),
    ).save()


def record_api(
    at: datetime,
    actor: str,
    role: str,
    action: str,
    target: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    AuditModel(
        f"api#{day_of(at)}",
        _sk(at),
        kind="api",
        at=to_iso(at),
        actor=actor,
        role=role,
        action=action,
        target=target,
        detail=detail or None,
    ).save()


def notify_records(day: str) -> list[AuditModel]:
    return list(AuditModel.query(f"notify#{day}"))


def api_records(
    since: datetime, until: datetime, actor: str | None, limit: int
) -> list[AuditModel]:
    """Admin-trail items newest first: by the actor index when a key is named, else one Query
    per UTC day partition."""
    low, high = to_iso(since), to_iso(until) + "~"
    if actor:
        return list(
            AuditModel.by_actor.query(
                actor, AuditModel.sk.between(low, high), scan_index_forward=False, limit=limit
            )
        )
    found: list[AuditModel] = []
    day = until
    while day.date() >= since.date() and len(found) < limit:
        found += AuditModel.query(
            f"api#{day_of(day)}",
            AuditModel.sk.between(low, high),
            scan_index_forward=False,
            limit=limit - len(found),
        )
        day -= timedelta(days=1)
    return found
