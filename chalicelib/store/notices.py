"""Notice repository: one item per verified gateway event, unique by its dedupe key."""
from __future__ import annotations

from datetime import datetime


from ..domain.clock import day_of, from_iso, to_iso
from ..domain.money import Money
from ..domain.notice import Notice, NoticeKind, NoticeSource
from pynamodb.expressions.condition import size

from ._dynamo import update_or_old
from .models import AttemptMap, NoticeModel


def _minor(value: Money | None) -> int | None:
    return value.minor if value is not None else None


def _to_item(notice: Notice, received_at: datetime) -> NoticeModel:
    currency = next((m.currency for m in (notice.amount, notice.refunded_total, notice.received) if m), None)
    return NoticeModel(
        notice.dedupe_key, channel=notice.channel, gateway=notice.gateway, kind=notice.kind.value,
        source=notice.source.value, out_trade_no=notice.out_trade_no, trade_no=notice.trade_no,
        payment_ref=notice.payment_ref, gateway_status=notice.gateway_status,
        amount_minor=_minor(notice.amount), currency=currency,
        received_minor=_minor(notice.received), fee_minor=_minor(notice.fee),
        refunded_minor=_minor(notice.refunded_total), refund_ref=notice.refund_ref,
        method=notice.method, payer=notice.payer,
        event_time=to_iso(notice.event_time) if notice.event_time else None,
        received_at=to_iso(received_at), received_day=day_of(received_at), raw=notice.raw,
    )


def to_domain(item: NoticeModel) -> Notice:
    def money(minor: int | None) -> Money | None:
        return None if minor is None or item.currency is None else Money(int(minor), item.currency)

    return Notice(
        channel=item.channel, gateway=item.gateway, kind=NoticeKind(item.kind),
        dedupe_key=item.dedupe_key, out_trade_no=item.out_trade_no, trade_no=item.trade_no,
        amount=money(item.amount_minor), gateway_status=item.gateway_status,
        event_time=from_iso(item.event_time) if item.event_time else None, raw=item.raw or {},
        payment_ref=item.payment_ref, received=money(item.received_minor), fee=money(item.fee_minor),
        refunded_total=money(item.refunded_minor), refund_ref=item.refund_ref, method=item.method,
        payer=item.payer, source=NoticeSource(item.source),
    )


MAX_ATTEMPTS_KEPT = 500


def record(notice: Notice, received_at: datetime, source_ip: str | None) -> bool:
    """Durably store the notice, or add this delivery to the one already stored. One request.

    An upsert: every field is written `if_not_exists`, so the first delivery's values stay, and
    the attempt is appended either way. Returns True for the first delivery. Past
    MAX_ATTEMPTS_KEPT deliveries (a replay storm) the attempt is no longer appended: False.
    """
    item = _to_item(notice, received_at)
    actions = [attr.set(attr | getattr(item, name))
               for name, attr in NoticeModel.get_attributes().items()
               if name not in ("dedupe_key", "attempts") and getattr(item, name) is not None]
    attempt = AttemptMap(at=to_iso(received_at), source_ip=source_ip, source=notice.source.value)
    actions.append(NoticeModel.attempts.set(
        (NoticeModel.attempts | []).append([attempt])))
    condition = (NoticeModel.dedupe_key.does_not_exist()
                 | (size(NoticeModel.attempts) < MAX_ATTEMPTS_KEPT))
    result = update_or_old(NoticeModel, notice.dedupe_key, actions, condition)
    return result.ok and len(result.item.attempts) == 1


def for_order(out_trade_no: str) -> list[Notice]:
    """Every notice naming this order, oldest first (one Query on the by_order index)."""
    return [to_domain(item) for item in NoticeModel.by_order.query(out_trade_no)]


def from_stream_image(image: dict) -> Notice:
    """A notice from a DynamoDB stream NewImage (raw attribute-value map)."""
    return to_domain(NoticeModel.from_raw_data(image))


def order_of_trade(trade_no: str) -> str | None:
    """The order an earlier notice of this gateway payment named (by_trade_no index)."""
    for item in NoticeModel.by_trade_no.query(trade_no):
        if item.out_trade_no:
            return item.out_trade_no
    return None


def get(dedupe_key: str) -> Notice:
    return to_domain(NoticeModel.get(dedupe_key, consistent_read=True))
