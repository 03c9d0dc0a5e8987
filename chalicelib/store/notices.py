"""Notice repository: one item per verified gateway event, unique by its dedupe key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..domain.clock import day_of, from_iso, to_iso
from ..domain.money import Money
from ..domain.notice import Notice, NoticeKind, NoticeSource, differences
from ._dynamo import put_or_old
from .models import AttemptMap, NoticeModel


def _minor(value: Money | None) -> int | None:
    return value.minor if value is not None else None


def _to_item(notice: Notice, received_at: datetime) -> NoticeModel:
    currency = next(
        (m.currency for m in (notice.amount, notice.refunded_total, notice.received) if m), None
    )
    return NoticeModel(
        notice.dedupe_key,
        channel=notice.channel,
        gateway=notice.gateway,
        kind=notice.kind.value,
        source=notice.source.value,
        out_trade_no=notice.out_trade_no,
        trade_no=notice.trade_no,
        payment_ref=notice.payment_ref,
        gateway_status=notice.gateway_status,
        amount_minor=_minor(notice.amount),
        currency=currency,
        received_minor=_minor(notice.received),
        fee_minor=_minor(notice.fee),
        refunded_minor=_minor(notice.refunded_total),
        refund_ref=notice.refund_ref,
        method=notice.method,
        payer=notice.payer,
        event_time=to_iso(notice.event_time) if notice.event_time else None,
        received_at=to_iso(received_at),
        received_day=day_of(received_at),
        raw=notice.raw,
    )


def to_domain(item: NoticeModel) -> Notice:
    def money(minor: float | None) -> Money | None:
        return None if minor is None or item.currency is None else Money(int(minor), item.currency)

    return Notice(
        channel=item.channel,
        gateway=item.gateway,
        kind=NoticeKind(item.kind),
        dedupe_key=item.dedupe_key,
        out_trade_no=item.out_trade_no,
        trade_no=item.trade_no,
        amount=money(item.amount_minor),
        gateway_status=item.gateway_status,
        event_time=from_iso(item.event_time) if item.event_time else None,
        raw=item.raw or {},
        payment_ref=item.payment_ref,
        received=money(item.received_minor),
        fee=money(item.fee_minor),
        refunded_total=money(item.refunded_minor),
        refund_ref=item.refund_ref,
        method=item.method,
        payer=item.payer,
        source=NoticeSource(item.source),
    )


MAX_ATTEMPTS_KEPT = 500


@dataclass(frozen=True)
class Recorded:
    first: bool  # stored by this delivery
    awaiting_order: bool  # stored earlier while no order matched it, and not matched since
    # another event under the stored notice's key ({field: [stored's, this one's]}): not stored,
    # not added to the stored notice's attempts (domain/notice.py `differences`)
    conflict: dict[str, list[str | None]] = field(default_factory=dict)


def _attempt(received_at: datetime, source_ip: str | None, notice: Notice) -> AttemptMap:
    return AttemptMap(at=to_iso(received_at), source_ip=source_ip, source=notice.source.value)


def record(notice: Notice, received_at: datetime, source_ip: str | None) -> Recorded:
    """Store the notice keyed by its dedupe key, or, when it is stored already (the gateway's
    retry), add this delivery to its attempts. Two requests at most, one for a first delivery.
    A notice that says otherwise than the stored one under its key is another event: it is
    reported as a conflict and stored nowhere.

    Past MAX_ATTEMPTS_KEPT deliveries (a replay storm) attempts are no longer appended.
    """
    item = _to_item(notice, received_at)
    item.attempts = [_attempt(received_at, source_ip, notice)]
    stored = put_or_old(item, NoticeModel.dedupe_key.does_not_exist())
    if stored.ok:
        return Recorded(first=True, awaiting_order=False)
    existing = stored.item
    conflict = differences(to_domain(existing), notice) if existing is not None else {}
    if conflict:
        return Recorded(first=False, awaiting_order=False, conflict=conflict)
    if existing is not None and len(existing.attempts or []) < MAX_ATTEMPTS_KEPT:
        NoticeModel(notice.dedupe_key).update(
            actions=[
                NoticeModel.attempts.set(
                    NoticeModel.attempts.append([_attempt(received_at, source_ip, notice)])
                )
            ],
            condition=NoticeModel.dedupe_key.exists(),
        )
    return Recorded(first=False, awaiting_order=bool(existing and existing.awaiting_day))


def mark_awaiting(dedupe_key: str, at: datetime) -> None:
    """No order matched: list the notice among the unmatched until one does."""
    NoticeModel(dedupe_key).update(
        actions=[NoticeModel.awaiting_day.set(day_of(at))],
        condition=NoticeModel.dedupe_key.exists(),
    )


def mark_matched(dedupe_key: str) -> None:
    NoticeModel(dedupe_key).update(
        actions=[NoticeModel.awaiting_day.remove()], condition=NoticeModel.dedupe_key.exists()
    )


def for_order(out_trade_no: str) -> list[tuple[Notice, bool]]:
    """Every notice naming this order, oldest first, each with whether it awaits its order
    (one Query on the by_order index)."""
    return [
        (to_domain(item), bool(item.awaiting_day))
        for item in NoticeModel.by_order.query(out_trade_no)
    ]


def from_stream_image(image: dict) -> tuple[Notice, bool]:
    """A notice from a DynamoDB stream image, and whether it awaits its order."""
    item = NoticeModel.from_raw_data(image)
    return to_domain(item), bool(item.awaiting_day)


def order_of_trade(trade_no: str) -> str | None:
    """The order an earlier notice of this gateway payment named (by_trade_no index)."""
    for item in NoticeModel.by_trade_no.query(trade_no):
        if item.out_trade_no:
            return item.out_trade_no
    return None
