"""The orders table as the daily jobs read it: a day's payments for reconciliation, the orders a
statement names, the day's failed orders for the digest — and the statement's fee written back.

Reconciliation reads a whole day at once, so it reads it the cheap way: one Query per UTC day
partition of `by_paid` (pages of 1 MB, never one request per statement line), with a projection
of the few attributes matching needs, deserialized straight from DynamoDB's wire format into the
day's columns (`DayLedger`) rather than through PynamoDB models (a model per order would cost
more than parsing the statement).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from ..domain.clock import from_iso, to_iso, utc_days
from ..domain.money import Money, shared
from ..domain.order import DeliveryStatus, Order, PayStatus, TimelineEntry
from ..domain.reconcile import DayLedger, LedgerEntry, LedgerPayment
from ..domain.refunds import RefundRequest, requests_in
from ._dynamo import _connection, dispatch
from .models import OrderModel
from .orders import _timeline_from_map, timeline_to_map, to_domain

_ATTRIBUTES = (
    "order_no",
    "channel",
    "currency",
    "pay_status",
    "payments",
    "refunded_minor",
    "refunded_at",
    "fee_minor",
    "net_minor",
    "fee_currency",
    "exchange_rate",
)
_NAMES = {f"#a{i}": name for i, name in enumerate(_ATTRIBUTES)}
_PROJECTION = ", ".join(_NAMES)
_BATCH_GET = 100


def _dispatch(operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    return dispatch(OrderModel, operation, kwargs)


@lru_cache(maxsize=65536)
def _money_of(minor: str, currency: str) -> Money:
    """Amounts repeat across a day's orders: one Money per distinct amount, shared with the
    statement's equal amounts."""
    return shared(int(minor), currency)


def _money(item: dict[str, Any], name: str, currency: str) -> Money | None:
    value = item.get(name)
    return _money_of(value["N"], currency) if value else None


def entry_of(item: dict[str, Any]) -> LedgerEntry:
    """An order item in DynamoDB's wire format (projected to `_ATTRIBUTES`) as a LedgerEntry."""
    payments = tuple(
        LedgerPayment(
            p["M"]["payment_ref"]["S"],
            _money_of(p["M"]["amount_minor"]["N"], p["M"]["currency"]["S"]),
        )
        for p in item.get("payments", {}).get("L", ())
    )
    currency = payments[0].amount.currency if payments else item["currency"]["S"]
    refunded_at, rate = item.get("refunded_at"), item.get("exchange_rate")
    settlement = item["fee_currency"]["S"] if "fee_currency" in item else currency
    return LedgerEntry(
        item["order_no"]["S"],
        item["pay_status"]["S"],
        payments,
        _money(item, "refunded_minor", currency),
        from_iso(refunded_at["S"]) if refunded_at else None,
        _money(item, "fee_minor", settlement),
        _money(item, "net_minor", settlement),
        rate["S"] if rate else None,
    )


#: attributes only some orders carry (a refund, an earlier run's statement fee)
_OPTIONAL = frozenset(
    ("refunded_minor", "refunded_at", "fee_minor", "net_minor", "fee_currency", "exchange_rate")
)


def add_to_day(day: DayLedger, items: Iterable[dict[str, Any]]) -> None:
    """A page of the day's order items onto `day`, as `DayLedger.add(entry_of(item))` would
    add each (a day holds a hundred thousand): an order with one payment, not refunded, no
    statement fee written yet, by one loop of plain look-ups straight into the day's columns,
    without an entry; any other order by `entry_of`."""
    order_nos, statuses = day.order_nos.append, day.statuses.append
    refs, amounts = day.refs.append, day.amounts.append
    money, plain = _money_of, _OPTIONAL.isdisjoint
    for item in items:
        payments: Sequence[dict[str, Any]] = item["payments"]["L"] if "payments" in item else ()
        if len(payments) != 1 or not plain(item):
            day.add(entry_of(item))
            continue
        paid = payments[0]["M"]
        order_nos(item["order_no"]["S"])
        statuses(item["pay_status"]["S"])
        refs(paid["payment_ref"]["S"])
        amounts(money(paid["amount_minor"]["N"], paid["currency"]["S"]))


def paid_between(channel: str, start: datetime, end: datetime) -> DayLedger:
    """The channel's orders paid in [start, end): by_paid, one paged Query per UTC day."""
    ledger = DayLedger()
    for day in utc_days(start, end):
        kwargs: dict[str, Any] = {
            "TableName": OrderModel.Meta.table_name,
            "IndexName": "by_paid",
            "KeyConditionExpression": "#d = :d AND #p BETWEEN :from AND :to",
            "FilterExpression": "#a1 = :channel",
            "ProjectionExpression": _PROJECTION,
            "ExpressionAttributeNames": {**_NAMES, "#d": "paid_day", "#p": "paid_at"},
            "ExpressionAttributeValues": {
                ":d": {"S": day},
                ":channel": {"S": channel},
                ":from": {"S": to_iso(start)},
                ":to": {"S": to_iso(end - timedelta(microseconds=1))},
            },
        }
        while True:
            page = _dispatch("Query", kwargs)
            add_to_day(ledger, page.get("Items", ()))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return ledger


def by_order_nos(order_nos: Iterable[str]) -> list[LedgerEntry]:
    """The named orders that exist (BatchGetItem, 100 a request, unprocessed keys retried)."""
    wanted = sorted(set(order_nos))
    entries: list[LedgerEntry] = []
    for start in range(0, len(wanted), _BATCH_GET):
        request = {
            OrderModel.Meta.table_name: {
                "Keys": [{"order_no": {"S": no}} for no in wanted[start : start + _BATCH_GET]],
                "ProjectionExpression": _PROJECTION,
                "ExpressionAttributeNames": _NAMES,
            }
        }
        while request:
            answer = _dispatch("BatchGetItem", {"RequestItems": request})
            found = answer.get("Responses", {}).get(OrderModel.Meta.table_name, ())
            entries += map(entry_of, found)
            request = answer.get("UnprocessedKeys") or {}
    return entries


def by_trade_nos(trade_nos: Iterable[str]) -> list[LedgerEntry]:
    """Orders by the gateway's trade number (statement lines that carry no order number)."""
    return [
        entry_of(item)
        for trade_no in sorted(set(trade_nos))
        for item in _dispatch(
            "Query",
            {
                "TableName": OrderModel.Meta.table_name,
                "IndexName": "by_trade_no",
                "KeyConditionExpression": "#t = :t",
                "ProjectionExpression": _PROJECTION,
                "ExpressionAttributeNames": {**_NAMES, "#t": "trade_no"},
                "ExpressionAttributeValues": {":t": {"S": trade_no}},
            },
        ).get("Items", ())
    ]


def refund_requests_of(order_nos: set[str]) -> dict[str, tuple[RefundRequest, ...]]:
    """The refund requests of the named orders that have any, read from their timelines (the
    only orders whose timeline reconciliation reads: domain/reconcile.refund_orders), 100 orders
    a BatchGetItem, unprocessed keys retried by PynamoDB."""
    found: dict[str, tuple[RefundRequest, ...]] = {}
    if not order_nos:
        return found
    for item in OrderModel.batch_get(sorted(order_nos), attributes_to_get=["order_no", "timeline"]):
        requests = requests_in(_timeline_from_map(entry) for entry in item.timeline or ())
        if requests:
            found[item.order_no] = tuple(requests)
    return found


class StatementAmounts(NamedTuple):
    """The statement's fee and net for one order, with their timeline entry; a converted payment
    also has its converted gross (`settled`) and the gateway's rate."""

    order_no: str
    fee: Money
    net: Money
    entry: TimelineEntry
    settled: Money | None = None
    rate: str | None = None


#: TransactWriteItems carries up to 100 actions, on distinct items
_TRANSACT_ITEMS = 100
#: transactions cancelled for reasons other than a failed condition (a conflicting write,
#: throttling) before the batch is given up (its chunk stays pending for the next run)
_TRANSACT_ATTEMPTS = 5
_CONDITION_FAILED = "ConditionalCheckFailed"


def _amounts_update(write: StatementAmounts) -> tuple[list[Any], Any]:
    """The update's actions and condition: the fee, net and settlement currency (and for a
    converted payment the converted gross and the rate) with the timeline entry, on an order
    that exists and does not hold them already."""
    fee, net, settled, rate = write.fee, write.net, write.settled, write.rate
    already = (
        (OrderModel.fee_minor == fee.minor)
        & (OrderModel.net_minor == net.minor)
        & (OrderModel.fee_currency == fee.currency)
    )
    converted = (
        [OrderModel.settled_minor.set(settled.minor), OrderModel.exchange_rate.set(rate)]
        if settled is not None and rate
        else [OrderModel.settled_minor.remove(), OrderModel.exchange_rate.remove()]
    )
    actions = [
        OrderModel.fee_minor.set(fee.minor),
        OrderModel.net_minor.set(net.minor),
        OrderModel.fee_currency.set(fee.currency),
        *converted,
        OrderModel.timeline.set(OrderModel.timeline.append([timeline_to_map(write.entry)])),
    ]
    return actions, OrderModel.order_no.exists() & ~already


def _transactions(writes: Sequence[StatementAmounts]) -> Iterator[list[int]]:
    """Positions of `writes` in groups of at most 100 distinct orders (a transaction may not
    touch one item twice)."""
    group: list[int] = []
    orders: set[str] = set()
    for position, write in enumerate(writes):
        if len(group) == _TRANSACT_ITEMS or write.order_no in orders:
            yield group
            group, orders = [], set()
        group.append(position)
        orders.add(write.order_no)
    if group:
        yield group


def write_statement_amounts(writes: Sequence[StatementAmounts]) -> list[bool]:
    """The statement's fee and net onto each order with their (settlement) currency — and, for a
    converted payment, the converted gross and the rate — with its timeline entry (no version
    bump: the state machines do not decide on them); whether each was written.

    One TransactWriteItems per 100 orders. Each update is conditional on the order existing and
    not carrying these amounts already, so writing a chunk again after a crash adds no second
    timeline entry. A transaction is all or nothing: when some conditions fail (the order is
    gone, or holds the amounts already: nothing to write) it is cancelled with a reason per
    item, and the others are sent again without them, as the single updates did one by one."""
    written = [False] * len(writes)
    connection = _connection(OrderModel)
    for group in _transactions(writes):
        pending, attempts = group, 0
        while pending:
            try:
                with TransactWrite(connection=connection) as transaction:
                    for position in pending:
                        actions, condition = _amounts_update(writes[position])
                        transaction.update(
                            OrderModel(writes[position].order_no),
                            actions=actions,
                            condition=condition,
                            add_version_condition=False,
                        )
            except TransactWriteError as error:
                reasons = error.cancellation_reasons
                if error.cause_response_code != "TransactionCanceledException" or not reasons:
                    raise
                codes = [reason.code if reason else "None" for reason in reasons]
                others = {code for code in codes if code not in ("None", _CONDITION_FAILED)}
                attempts += bool(others)
                if attempts >= _TRANSACT_ATTEMPTS:
                    raise
                pending = [
                    p for p, code in zip(pending, codes, strict=True) if code != _CONDITION_FAILED
                ]
                continue
            for position in pending:
                written[position] = True
            pending = []
    return written


# ------------------------------------------------------------------ the failed digest


def _created_in(index: Any, value: str, start: datetime, end: datetime) -> Iterator[Order]:
    for item in index.query(
        value, OrderModel.created_at.between(to_iso(start), to_iso(end - timedelta(microseconds=1)))
    ):
        yield to_domain(item)


def failed_created_between(start: datetime, end: datetime) -> dict[str, list[Order]]:
    """Orders created in [start, end) that expired or closed unpaid, whose delivery failed, or
    that are held: one bounded Query each on by_status / by_delivery."""
    return {
        "expired": list(_created_in(OrderModel.by_status, PayStatus.EXPIRED.value, start, end)),
        "closed": list(_created_in(OrderModel.by_status, PayStatus.CLOSED.value, start, end)),
        "delivery_failed": list(
            _created_in(OrderModel.by_delivery, DeliveryStatus.FAILED.value, start, end)
        ),
        "held": list(_created_in(OrderModel.by_delivery, DeliveryStatus.HELD.value, start, end)),
    }
