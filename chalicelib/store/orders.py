"""Order repository: domain `Order` <-> `OrderModel`, and the conditional writes that apply
`OrderChanges` exactly once."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError
from pynamodb.expressions.update import Action

from ..domain.clock import day_of, from_iso, to_iso
from ..domain.money import Money
from ..domain.notice import Notice
from ..domain.order import (
    DELIVERY_SOURCES,
    DeliveryStatus,
    EntryType,
    Order,
    OrderChanges,
    Payment,
    PayStatus,
    TimelineEntry,
)
from ..domain.refunds import refunds_moved
from ..domain.rules.change import PriorState
from ..platform.aws import client
from . import refund_days
from ._dynamo import dispatch, update_or_old
from .models import OrderModel, PaymentMap, TimelineMap
from .search_keys import (
    AWAITING_DELIVERY,
    amount_keys,
    awaiting_delivery_keys,
    email_keys,
    status_keys,
)


class VersionConflict(Exception):
    """Someone else changed the order between our read and our write: read again and retry."""


@dataclass(frozen=True)
class FastPathResult:
    applied: bool
    # not applied: the order as it was (None = no order); applied: the new order where the path
    # returns it (apply_delivery), else None (apply_first_payment)
    order: Order | None


# ------------------------------------------------------------------- conversions


def _iso(value: datetime | None) -> str | None:
    return to_iso(value) if value else None


def _dt(value: str | None) -> datetime | None:
    return from_iso(value) if value else None


def _money(minor: float | None, currency: str | None) -> Money | None:
    return None if minor is None or currency is None else Money(int(minor), currency)


def timeline_to_map(entry: TimelineEntry) -> TimelineMap:
    return TimelineMap(
        at=to_iso(entry.at),
        type=entry.type,
        source=entry.source,
        message=entry.message,
        data=entry.data or None,
        actor=entry.actor,
    )


def _timeline_from_map(item: TimelineMap) -> TimelineEntry:
    return TimelineEntry(
        at=from_iso(item.at),
        type=EntryType(item.type),
        source=item.source,
        message=item.message,
        data=item.data or {},
        actor=item.actor,
    )


def _payment_to_map(payment: Payment) -> PaymentMap:
    return PaymentMap(
        payment_ref=payment.payment_ref,
        amount_minor=payment.amount.minor,
        currency=payment.amount.currency,
        channel=payment.channel,
        at=_iso(payment.at),
        notice_key=payment.notice_key,
        received_minor=payment.received.minor if payment.received else None,
        fee_minor=payment.fee.minor if payment.fee else None,
        method=payment.method,
        payer=payment.payer,
    )


def _payment_from_map(item: PaymentMap) -> Payment:
    return Payment(
        payment_ref=item.payment_ref,
        amount=Money(int(item.amount_minor), item.currency),
        channel=item.channel,
        at=_dt(item.at),
        notice_key=item.notice_key,
        received=_money(item.received_minor, item.currency),
        fee=_money(item.fee_minor, item.currency),
        method=item.method,
        payer=item.payer,
    )


def to_domain(item: OrderModel) -> Order:
    payments = [_payment_from_map(p) for p in item.payments or []]
    first = payments[0] if payments else None
    paid_currency = first.amount.currency if first else item.currency
    settlement_currency = item.fee_currency or paid_currency
    return Order(
        order_no=item.order_no,
        amount=Money(int(item.amount_minor), item.currency),
        channel=item.channel,
        gateway=item.gateway,
        product_id=item.product_id,
        product_name=item.product_name,
        quantity=int(item.quantity),
        created_at=from_iso(item.created_at),
        expires_at=from_iso(item.expires_at),
        buyer_email=item.buyer_email,
        buyer_id=item.buyer_id,
        buyer_ip=item.buyer_ip,
        user_agent=item.user_agent,
        device=item.device,
        browser=item.browser,
        os=item.os,
        pay_status=PayStatus(item.pay_status),
        delivery_status=DeliveryStatus(item.delivery_status),
        hold_reasons=list(item.hold_reasons or []),  # type: ignore[arg-type]  # pynamodb types ListAttribute(of=UnicodeAttribute) as attributes; it holds str
        paid_at=_dt(item.paid_at),
        trade_no=item.trade_no,
        paid_amount=first.amount if first else None,
        received_amount=first.received if first else None,
        fee=(
            _money(item.fee_minor, settlement_currency)
            if item.fee_minor is not None
            else (first.fee if first else None)
        ),
        net=_money(item.net_minor, settlement_currency),
        settled_amount=_money(item.settled_minor, settlement_currency),
        exchange_rate=item.exchange_rate,
        refunded_amount=_money(item.refunded_minor, paid_currency),
        refunded_at=_dt(item.refunded_at),
        closed_at=_dt(item.closed_at),
        expired_at=_dt(item.expired_at),
        delivered_at=_dt(item.delivered_at),
        method=item.method,
        payer=first.payer if first else None,
        fingerprint=item.fingerprint,
        flagged=bool(item.flag),
        refund_open=bool(item.refund_open),
        payments=payments,
        timeline=[_timeline_from_map(t) for t in item.timeline or []],
        applied_notices=set(item.applied or ()),
        version=int(item.version or 0),
    )


def _new_item(order: Order) -> OrderModel:
    created_at = to_iso(order.created_at)
    keys: dict[str, Any] = amount_keys(
        order.channel, order.pay_status.value, order.amount.minor, created_at
    ) | email_keys(order.buyer_email, created_at)
    return OrderModel(
        order.order_no,
        **keys,
        amount_minor=order.amount.minor,
        currency=order.amount.currency,
        channel=order.channel,
        gateway=order.gateway,
        product_id=order.product_id,
        product_name=order.product_name,
        product_lc=order.product_name.casefold(),
        quantity=order.quantity,
        buyer_email=order.buyer_email,
        email_lc=order.buyer_email.casefold() if order.buyer_email else None,
        buyer_id=order.buyer_id,
        buyer_ip=order.buyer_ip,
        user_agent=order.user_agent,
        device=order.device,
        browser=order.browser,
        os=order.os,
        created_at=created_at,
        created_day=day_of(order.created_at),
        expires_at=to_iso(order.expires_at),
        pay_status=order.pay_status.value,
        delivery_status=order.delivery_status.value,
        hold_reasons=list(order.hold_reasons),
        fingerprint=order.fingerprint,
        timeline=[timeline_to_map(t) for t in order.timeline],
        payments=[],
        version=0,
    )


# Fields the first payment already holds: stored once, in `payments`, and derived by to_domain.
# (Fewer attributes per update: moto's cost grows with every clause of an UpdateExpression.)
_KEPT_IN_PAYMENTS = frozenset({"paid_amount", "received_amount", "fee", "payer"})


# Each domain field -> the stored attributes it becomes (including derived index keys).
def _field_values(name: str, value: Any) -> dict[str, Any]:
    if name in _KEPT_IN_PAYMENTS:
        return {}
    if name == "delivery_status" and value is DeliveryStatus.DELIVERED:
        return {name: value.value, AWAITING_DELIVERY: None}  # None: removed (a sparse index key)
    if isinstance(value, (PayStatus, DeliveryStatus)):
        return {name: value.value}
    if name == "refunded_amount":
        return {"refunded_minor": value.minor}
    if name == "paid_at":  # set once, by the first payment (domain/order.py)
        return {"paid_at": to_iso(value), "paid_day": day_of(value)} | awaiting_delivery_keys(
            PayStatus.PAID.value, DeliveryStatus.PENDING.value, day_of(value)
        )
    if name == "flagged":
        return {"flag": "1"} if value else {}
    if name == "refund_open":
        return {"refund_open": "1" if value else None}  # None: removed (a sparse index key)
    if isinstance(value, datetime):
        return {name: to_iso(value)}
    return {name: value}


def _actions(
    changes: OrderChanges, channel: str | None = None, amount_minor: int | None = None
) -> list[Action]:
    """The update of `changes` to an order of that channel and amount: each field with the index
    keys derived from it (a new pay status moves the order in the status composites, so a new
    pay status needs them; nothing else does)."""
    attrs = OrderModel.get_attributes()
    actions: list[Action] = []
    for name, value in changes.set.items():
        if value is None:
            continue
        stored_values = _field_values(name, value)
        if name == "pay_status":
            if channel is None or amount_minor is None:
                raise ValueError("a new pay status needs the order's channel and amount")
            stored_values |= status_keys(channel, value.value, amount_minor)
            if value in (PayStatus.REFUNDED, PayStatus.PARTIALLY_REFUNDED):  # no longer awaited
                stored_values[AWAITING_DELIVERY] = None
        for stored, stored_value in stored_values.items():
            actions.append(
                attrs[stored].remove() if stored_value is None else attrs[stored].set(stored_value)
            )
    if changes.timeline:
        actions.append(
            OrderModel.timeline.set(
                OrderModel.timeline.append([timeline_to_map(t) for t in changes.timeline])
            )
        )
    if changes.payments:
        actions.append(
            OrderModel.payments.set(
                OrderModel.payments.append([_payment_to_map(p) for p in changes.payments])
            )
        )
    if changes.applied:
        actions.append(OrderModel.applied.add(set(changes.applied)))
    actions.append(OrderModel.version.add(1))
    return actions


# ------------------------------------------------------------------- reads and writes


def create(order: Order) -> bool:
    """Store a new order. False when the order number is taken (the caller compares bodies)."""
    try:
        _new_item(order).save(condition=OrderModel.order_no.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get(order_no: str, consistent: bool = True) -> Order | None:
    try:
        return to_domain(OrderModel.get(order_no, consistent_read=consistent))
    except OrderModel.DoesNotExist:
        return None


def apply_changes(order: Order, changes: OrderChanges) -> Order:
    """Write `changes` if the order is still at the version we decided on. When they move
    refunded money, the refund's day is noted first (store/refund_days.py: reconciliation's way
    to the orders refunded on a day)."""
    moved = refunds_moved(order, changes)
    if moved:
        refund_days.record(order.order_no, moved)
    condition = OrderModel.version == order.version
    for key in changes.applied:
        condition &= ~OrderModel.applied.contains(key)
    result = update_or_old(
        OrderModel, order.order_no, _actions(changes, order.channel, order.amount.minor), condition
    )
    if not result.ok or result.item is None:  # ok comes with the new item (ALL_NEW)
        raise VersionConflict(order.order_no)
    return to_domain(result.item)


def apply_first_payment(notice: Notice, changes: OrderChanges) -> FastPathResult:
    """The happy path in one request: pending, same channel, amount and currency, notice not yet
    applied.

    On success nothing comes back (the notification's answer needs only the outcome). When the
    condition fails, the order as it was comes back with the failure, so the caller can classify
    (already applied, another payment, mismatch) without another read.
    """
    condition = (
        OrderModel.order_no.exists()
        & (OrderModel.pay_status == PayStatus.PENDING.value)
        & (OrderModel.channel == notice.channel)
        & (OrderModel.amount_minor == notice.amount_moved.minor)
        & (OrderModel.currency == notice.amount_moved.currency)
        & ~OrderModel.applied.contains(notice.dedupe_key)
    )
    result = update_or_old(
        OrderModel,
        notice.out_trade_no,
        # the condition holds the order to the notice's channel and amount
        _actions(changes, notice.channel, notice.amount_moved.minor),
        condition,
        return_new=False,
    )
    return FastPathResult(result.ok, to_domain(result.item) if result.item else None)


def apply_delivery(order_no: str, changes: OrderChanges, delivered: bool) -> FastPathResult:
    """A delivery report in one request: the order exists, is paid, and its delivery status may
    become the report's (domain DELIVERY_SOURCES: pending or failed; a held order's is held, so
    it is not on hold). On success the new order comes back (ALL_NEW); when the condition fails,
    the order as it was (or None), for the caller to decide on without another read."""
    target = DeliveryStatus.DELIVERED if delivered else DeliveryStatus.FAILED
    condition = (
        OrderModel.order_no.exists()
        & (OrderModel.pay_status == PayStatus.PAID.value)
        & OrderModel.delivery_status.is_in(*sorted(s.value for s in DELIVERY_SOURCES[target]))
    )
    # no channel or amount: they only key a new pay status (_actions refuses one without them)
    result = update_or_old(OrderModel, order_no, _actions(changes), condition)
    return FastPathResult(result.ok, to_domain(result.item) if result.item else None)


def applied_notices(order_nos: Iterable[str]) -> dict[str, set[str]]:
    """The notices each order has applied (`applied`), for many orders: one BatchGetItem per 100,
    only the key and that set read, eventually consistent — the set only grows, so a notice seen
    in it is applied for good (a stale read can only under-report)."""
    wanted = list(dict.fromkeys(no for no in order_nos if no))
    table = OrderModel.Meta.table_name
    found: dict[str, set[str]] = {}
    for start in range(0, len(wanted), 100):
        request: dict[str, Any] | None = {
            table: {
                "Keys": [{"order_no": {"S": no}} for no in wanted[start : start + 100]],
                "ProjectionExpression": "#o, #a",
                "ExpressionAttributeNames": {"#o": "order_no", "#a": "applied"},
            }
        }
        while request:
            response = dispatch(OrderModel, "BatchGetItem", {"RequestItems": request})
            for item in response["Responses"].get(table, []):
                found[item["order_no"]["S"]] = set(item.get("applied", {}).get("SS", ()))
            request = response.get("UnprocessedKeys") or None
    return found


class _Image:
    """A stream image (DynamoDB attribute values) read as the attributes `to_domain` asks of an
    OrderModel, decoded on access. PynamoDB's `from_raw_data` deep-copies the attribute
    definitions of a list of maps (timeline, payments) on every read: most of a stream
    consumer's CPU. Values decode as PynamoDB's attributes do (numbers and `data` as JSON)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]):
        self._values = values

    def __getattr__(self, name: str) -> Any:
        value = self._values.get(name)
        return None if value is None else _decoded(name, value)


def _decoded(name: str, value: dict[str, Any]) -> Any:
    kind, raw = next(iter(value.items()))
    if kind == "S":
        return json.loads(raw, strict=False) if name in _JSON_FIELDS else raw
    if kind == "N":
        return json.loads(raw)
    if kind == "L":
        return [_decoded(name, element) for element in raw]
    if kind == "M":
        return _Image(raw)
    if kind == "SS":
        return set(raw)
    if kind == "NULL":
        return None
    return raw  # BOOL


_JSON_FIELDS = frozenset({"data"})  # TimelineMap.data, a JSONAttribute


def from_stream_image(image: dict) -> Order:
    return to_domain(_Image(image))  # type: ignore[arg-type]  # an _Image reads as an OrderModel does


def prior_state_from_stream_image(image: dict) -> PriorState:
    """The few facts the rules need of an order before a change, read straight from a stream
    image (DynamoDB attribute values) without building the whole order."""

    def text(name: str) -> str | None:
        return (image.get(name) or {}).get("S")

    def status(name: str) -> str:
        return str(image[name]["S"])

    def items(name: str) -> list:
        return (image.get(name) or {}).get("L") or []

    return PriorState(
        pay_status=PayStatus(status("pay_status")),
        delivery_status=DeliveryStatus(status("delivery_status")),
        hold_reasons=tuple(reason["S"] for reason in items("hold_reasons")),
        refunded=text("refunded_at") is not None,
        delivered=text("delivered_at") is not None,
        timeline_length=len(items("timeline")),
        payment_count=len(items("payments")),
    )


# ------------------------------------------------------------------- anomaly rules' windows


#: partition keys one PartiQL `IN` may name (DynamoDB's limit for key values)
KEYS_PER_STATEMENT = 50


def created_from_ips(ips: Iterable[str], since: datetime, until: datetime) -> dict[str, list[str]]:
    """When the orders from each of `ips` were created in [since, until] (ISO text, by IP): the
    by_ip index, one PartiQL SELECT per 50 addresses instead of a COUNT Query per address.
    DynamoDB runs an `IN` on the partition key as one Query per value (no scan; read units as
    those Queries) and answers up to 10 items a page, so a page is a request. Eventually
    consistent, as every index read."""
    wanted = list(dict.fromkeys(ips))
    found: dict[str, list[str]] = {ip: [] for ip in wanted}
    table = OrderModel.Meta.table_name
    bounds = [{"S": to_iso(since)}, {"S": to_iso(until)}]
    for start in range(0, len(wanted), KEYS_PER_STATEMENT):
        chunk = wanted[start : start + KEYS_PER_STATEMENT]
        request: dict[str, Any] = {
            "Statement": f'SELECT buyer_ip, created_at FROM "{table}"."by_ip" WHERE buyer_ip IN '
            f"[{', '.join('?' * len(chunk))}] AND created_at BETWEEN ? AND ?",
            "Parameters": [{"S": ip} for ip in chunk] + bounds,
        }
        while True:
            response = client("dynamodb").execute_statement(**request)
            for item in response.get("Items", ()):
                found[item["buyer_ip"]["S"]].append(item["created_at"]["S"])
            if not response.get("NextToken"):
                break
            request["NextToken"] = response["NextToken"]
    return found


def from_ip(ip: str, since: datetime, until: datetime, limit: int = 200) -> list[Order]:
    """Orders from one buyer IP created in [since, until], newest first (by_ip index); at most
    `limit`, so a flood from one address costs one bounded Query per order."""
    return [
        to_domain(item)
        for item in OrderModel.by_ip.query(
            ip,
            OrderModel.created_at.between(to_iso(since), to_iso(until)),
            scan_index_forward=False,
            limit=limit,
        )
    ]


def paid_undelivered(since: datetime, until: datetime) -> Iterator[Order]:
    """Paid orders whose payment time is in [since, until] and whose delivery is pending or
    failed: the sparse by_awaiting_delivery index (the orders paid and not delivered), one Query
    per UTC day of payment, the held ones filtered out. Delivered orders are not read: a day's
    sale costs this check what is still undelivered, not every order paid that day."""
    undelivered = (
        OrderModel.pay_status == PayStatus.PAID.value
    ) & OrderModel.delivery_status.is_in(DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value)
    day = until
    while day_of(day) >= day_of(since):
        for item in OrderModel.by_awaiting_delivery.query(
            day_of(day),
            OrderModel.paid_at.between(to_iso(since), to_iso(until)),
            filter_condition=undelivered,
        ):
            yield to_domain(item)
        day -= timedelta(days=1)


def pay_statuses_on_channel(channel: str, since: datetime, until: datetime) -> list[PayStatus]:
    """The pay status of every order created on the channel in [since, until] (by_channel)."""
    return [
        PayStatus(item.pay_status)
        for item in OrderModel.by_channel.query(
            channel,
            OrderModel.created_at.between(to_iso(since), to_iso(until)),
            attributes_to_get=["pay_status"],
        )
    ]


#: the key attributes of the open-refunds index: a page of the refunds queue resumes after one
OPEN_REFUND_KEYS = frozenset({"refund_open", "created_at", "order_no"})


def with_open_refunds(
    after: dict[str, dict[str, str]] | None = None, page_size: int = 100
) -> Iterator[tuple[Order, dict[str, dict[str, str]]]]:
    """Orders with a refund request awaiting approval or the gateway (the sparse by_refund_open
    index: only they carry its key), newest first, each with its index key; from just after the
    order whose key is `after` (where a page of the queue ended). Read `page_size` a request,
    as far as the caller goes."""
    for item in OrderModel.by_refund_open.query(
        "1", scan_index_forward=False, last_evaluated_key=after, page_size=page_size
    ):
        key = {"refund_open": "1", "created_at": item.created_at, "order_no": item.order_no}
        yield to_domain(item), {name: {"S": value} for name, value in key.items()}
