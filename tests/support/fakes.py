"""In-memory fakes of the services' ports (services/ports.py), for service tests that run in
milliseconds without moto. Each keeps what it was given so a test asserts on it; `failures`
makes the next calls refuse, as the AWS service would.

The repositories' fakes keep the DynamoDB semantics the use cases rely on: an order is written
only under its condition (still at the version read, the notice not applied yet; the first
payment's pending, same channel and amount; a delivery's paid, delivery pending or failed), a
failed condition hands back the order as stored, and a notice is stored once per dedupe key.
What they hand back is a copy, as a read is. The contract test
(tests/integration/test_repository_fakes.py) runs one scenario on a fake and on the real store
so the two cannot drift."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.anomaly import Anomaly, AnomalyStatus, Finding
from chalicelib.domain.clock import day_of, to_iso
from chalicelib.domain.errors import Conflict
from chalicelib.domain.lookup import GatewayTrade
from chalicelib.domain.notice import Notice, differences
from chalicelib.domain.order import (
    DELIVERY_SOURCES,
    DeliveryStatus,
    Order,
    OrderChanges,
    PayStatus,
    TimelineEntry,
)
from chalicelib.domain.query import QueryResult
from chalicelib.domain.refunds import RefundAnswer, RefundCall
from chalicelib.gateways.base import CallContext
from chalicelib.services import channels, ports
from chalicelib.store.audit import NotifyAudit
from chalicelib.store.keys import StoredKey
from chalicelib.store.lookup import MAX_ORDERS
from chalicelib.store.notices import MAX_ATTEMPTS_KEPT, Recorded
from chalicelib.store.orders import FastPathResult, VersionConflict
from chalicelib.store.pending import KEEP, LOOKBACK


class Refused(RuntimeError):
    """What a fake raises when told to fail: the AWS service refused."""


@dataclass
class Sent:
    message: dict[str, Any]
    attributes: dict[str, str]
    subject: str | None


@dataclass
class FakeTopic:
    """A topic (ports.Publisher): every message sent, parsed."""

    sent: list[Sent] = field(default_factory=list)
    failures: int = 0  # the next N sends are refused

    batches: list[int] = field(default_factory=list)  # the size of each batch sent
    unnamed: set[int] = field(default_factory=set)  # positions a batch's answer leaves out

    def send(self, message: str, attributes: Mapping[str, str], subject: str | None = None) -> None:
        if self.failures:
            self.failures -= 1
            raise Refused("the topic refused the message")
        self.sent.append(Sent(json.loads(message), dict(attributes), subject))

    def send_batch(self, messages: Sequence[tuple[str, Mapping[str, str]]]) -> list[bool]:
        if self.failures:
            self.failures -= 1
            raise Refused("the topic refused the batch")
        self.batches.append(len(messages))
        went_out = [i not in self.unnamed for i in range(len(messages))]
        for (message, attributes), out in zip(messages, went_out, strict=True):
            if out:
                self.sent.append(Sent(json.loads(message), dict(attributes), None))
        return went_out


@dataclass
class _Upload:
    files: MemoryFiles
    key: str
    content_type: str
    parts: list[bytes] = field(default_factory=list)

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def close(self) -> None:
        self.files.objects[self.key] = (self.content_type, b"".join(self.parts))

    def abort(self) -> None:
        self.files.aborted.append(self.key)


@dataclass
class MemoryFiles:
    """A bucket (ports.ExportFiles): files by key, with their content type."""

    objects: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    aborted: list[str] = field(default_factory=list)

    def open(self, key: str, content_type: str) -> _Upload:
        return _Upload(self, key, content_type)

    def link(self, key: str, expires_s: int) -> str:
        return f"memory://{key}?expires={expires_s}"


@dataclass
class FakeSecret:
    """A secret (ports.Secret) holding `value`."""

    value: str

    def text(self) -> str:
        return self.value


@dataclass
class MemoryClaims:
    """The claims (ports.Claims): keys by order; a key is claimed once."""

    keys: dict[str, set[str]] = field(default_factory=dict)
    failures: int = 0  # the next N claims are refused

    def is_claimed(self, order_no: str, key: str) -> bool:
        return key in self.keys.get(order_no, set())

    def claim(self, order_no: str, key: str) -> bool:
        if self.failures:
            self.failures -= 1
            raise Refused("the claim write was refused")
        taken = self.keys.setdefault(order_no, set())
        if key in taken:
            return False
        taken.add(key)
        return True

    def claim_all(self, keys_by_order: Mapping[str, Collection[str]]) -> None:
        if self.failures:
            self.failures -= 1
            raise Refused("the claims transaction was refused")
        for order_no, keys in keys_by_order.items():
            self.keys.setdefault(order_no, set()).update(keys)


# What the orders table keeps once, in the first payment, and reads back from it (store/orders.py);
# a change names them, the stored order derives them.
_FROM_FIRST_PAYMENT = ("paid_amount", "received_amount", "fee", "payer")


def _as_stored(order: Order) -> Order:
    """The order as the table reads it back: the first payment's fields from the payment."""
    first = order.payments[0] if order.payments else None
    return replace(
        order,
        paid_amount=first.amount if first else None,
        received_amount=first.received if first else None,
        fee=first.fee if first else None,
        payer=first.payer if first else None,
    )


@dataclass
class MemoryOrders:
    """The orders (ports.Orders) by number, each write under its condition as DynamoDB's.

    `concurrently`: writes of another process, each landing just before the next conditional
    write here is checked (one per write), so that write meets a changed order."""

    orders: dict[str, Order] = field(default_factory=dict)
    concurrently: list[Callable[[], object]] = field(default_factory=list)
    conflicts: int = 0  # conditional writes refused

    def get(self, order_no: str) -> Order | None:
        return copy.deepcopy(self.orders.get(order_no))

    def create(self, order: Order) -> bool:
        if order.order_no in self.orders:
            return False
        self.orders[order.order_no] = _as_stored(
            replace(
                copy.deepcopy(order),
                payments=[],
                applied_notices=set(),
                flagged=False,
                refund_open=False,
                version=0,
            )
        )
        return True

    def apply_changes(self, order: Order, changes: OrderChanges) -> Order:
        self._meanwhile()
        stored = self.orders.get(order.order_no)
        if (
            stored is None
            or stored.version != order.version
            or stored.applied_notices & set(changes.applied)
        ):
            self.conflicts += 1
            raise VersionConflict(order.order_no)
        return self._write(stored, changes)

    def apply_first_payment(self, notice: Notice, changes: OrderChanges) -> FastPathResult:
        self._meanwhile()
        stored = self.orders.get(notice.out_trade_no)
        if (
            stored is None
            or stored.pay_status is not PayStatus.PENDING
            or stored.channel != notice.channel
            or stored.amount != notice.amount_moved
            or notice.dedupe_key in stored.applied_notices
        ):
            self.conflicts += 1
            return FastPathResult(False, copy.deepcopy(stored))
        self._write(stored, changes)
        return FastPathResult(True, None)

    def apply_delivery(
        self, order_no: str, changes: OrderChanges, delivered: bool
    ) -> FastPathResult:
        self._meanwhile()
        stored = self.orders.get(order_no)
        target = DeliveryStatus.DELIVERED if delivered else DeliveryStatus.FAILED
        if (
            stored is None
            or stored.pay_status is not PayStatus.PAID
            or stored.delivery_status not in DELIVERY_SOURCES[target]
        ):
            self.conflicts += 1
            return FastPathResult(False, copy.deepcopy(stored))
        return FastPathResult(True, self._write(stored, changes))

    def with_open_refunds(
        self, after: dict[str, dict[str, str]] | None = None, page_size: int = 100
    ) -> Iterator[tuple[Order, dict[str, dict[str, str]]]]:
        keyed = sorted(
            ((to_iso(o.created_at), o.order_no, o) for o in self.orders.values() if o.refund_open),
            key=lambda entry: entry[:2],
            reverse=True,
        )
        start = (after["created_at"]["S"], after["order_no"]["S"]) if after else None
        for created_at, order_no, order in keyed:
            if start is None or (created_at, order_no) < start:
                key = {"refund_open": "1", "created_at": created_at, "order_no": order_no}
                yield copy.deepcopy(order), {name: {"S": value} for name, value in key.items()}

    def _meanwhile(self) -> None:
        if self.concurrently:
            self.concurrently.pop(0)()

    def _write(self, stored: Order, changes: OrderChanges) -> Order:
        kept = {
            name: value
            for name, value in copy.deepcopy(changes.set).items()
            if value is not None
            and name not in _FROM_FIRST_PAYMENT
            and not (name == "flagged" and not value)  # the flag's index key is only ever set
        }
        written = replace(changes, set=kept).apply_to(stored)
        self.orders[stored.order_no] = _as_stored(copy.deepcopy(written))
        return copy.deepcopy(self.orders[stored.order_no])


@dataclass
class StoredNotice:
    notice: Notice
    received_at: datetime
    attempts: list[tuple[datetime, str | None]]
    awaiting_day: str | None = None


@dataclass
class MemoryNotices:
    """The notices (ports.Notices): one per dedupe key, each delivery in its attempts."""

    notices: dict[str, StoredNotice] = field(default_factory=dict)

    def record(self, notice: Notice, received_at: datetime, source_ip: str | None) -> Recorded:
        stored = self.notices.get(notice.dedupe_key)
        if stored is None:
            self.notices[notice.dedupe_key] = StoredNotice(
                copy.deepcopy(notice), received_at, [(received_at, source_ip)]
            )
            return Recorded(first=True, awaiting_order=False)
        conflict = differences(stored.notice, notice)
        if conflict:
            return Recorded(first=False, awaiting_order=False, conflict=conflict)
        if len(stored.attempts) < MAX_ATTEMPTS_KEPT:
            stored.attempts.append((received_at, source_ip))
        return Recorded(first=False, awaiting_order=stored.awaiting_day is not None)

    def mark_awaiting(self, dedupe_key: str, at: datetime) -> None:
        self.notices[dedupe_key].awaiting_day = day_of(at)

    def mark_matched(self, dedupe_key: str) -> None:
        self.notices[dedupe_key].awaiting_day = None

    def for_order(self, out_trade_no: str) -> list[tuple[Notice, bool]]:
        named = [s for s in self.notices.values() if s.notice.out_trade_no == out_trade_no]
        return [
            (copy.deepcopy(s.notice), s.awaiting_day is not None)
            for s in sorted(named, key=lambda s: s.received_at)
        ]

    def order_of_trade(self, trade_no: str) -> str | None:
        return next(
            (
                s.notice.out_trade_no
                for s in self.notices.values()
                if s.notice.trade_no == trade_no and s.notice.out_trade_no
            ),
            None,
        )


@dataclass
class MemoryWindows:
    """The orders in a window (ports.OrderWindows), read off a MemoryOrders as the indexes are:
    by buyer IP and by channel on creation time, paid ones by their payment day and time."""

    orders: MemoryOrders = field(default_factory=MemoryOrders)

    def _created(self, since: datetime, until: datetime) -> list[Order]:
        return sorted(
            (o for o in self.orders.orders.values() if since <= o.created_at <= until),
            key=lambda o: o.created_at,
        )

    def created_from_ips(
        self, ips: Iterable[str], since: datetime, until: datetime
    ) -> dict[str, list[str]]:
        window = self._created(since, until)
        return {ip: [to_iso(o.created_at) for o in window if o.buyer_ip == ip] for ip in ips}

    def from_ip(self, ip: str, since: datetime, until: datetime, limit: int = 200) -> list[Order]:
        found = [o for o in reversed(self._created(since, until)) if o.buyer_ip == ip]
        return copy.deepcopy(found[:limit])

    def paid_undelivered(self, since: datetime, until: datetime) -> Iterator[Order]:
        found = [
            o
            for o in self.orders.orders.values()
            if o.paid_at is not None
            and since <= o.paid_at <= until
            and o.pay_status is PayStatus.PAID
            and o.delivery_status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
        ]
        by_day = sorted(found, key=lambda o: o.paid_at or until)
        for order in sorted(by_day, key=lambda o: day_of(o.paid_at or until), reverse=True):
            yield copy.deepcopy(order)

    def pay_statuses_on_channel(
        self, channel: str, since: datetime, until: datetime
    ) -> list[PayStatus]:
        return [o.pay_status for o in self._created(since, until) if o.channel == channel]


@dataclass
class MemoryTrades:
    """What paytrack knows of a trade number (ports.Trades), read off the orders' first payments
    and the notices, as the two indexes are."""

    orders: MemoryOrders = field(default_factory=MemoryOrders)
    notices: MemoryNotices = field(default_factory=MemoryNotices)

    def orders_of_trade(self, trade_no: str) -> list[str]:
        paid = [o.order_no for o in self.orders.orders.values() if o.trade_no == trade_no]
        noticed = sorted(
            (s for s in self.notices.notices.values() if s.notice.trade_no == trade_no),
            key=lambda s: s.received_at,
        )
        found = paid[:MAX_ORDERS] + [s.notice.out_trade_no for s in noticed[:MAX_ORDERS]]
        return list(dict.fromkeys(no for no in found if no))


@dataclass
class MemoryPending:
    """The pending orders' queries (ports.Pending) on the orders of a MemoryOrders: a query's
    entry is appended to its order without a new version, and when to ask next is kept here."""

    orders: MemoryOrders = field(default_factory=MemoryOrders)
    next_query_at: dict[str, datetime] = field(default_factory=dict)

    def due_for_query(
        self, now: datetime, min_age: timedelta, grace: timedelta, limit: int
    ) -> list[Order]:
        due = [
            order
            for order in sorted(self.orders.orders.values(), key=lambda o: o.created_at)
            if order.pay_status is PayStatus.PENDING
            and now - LOOKBACK <= order.created_at <= now - min_age
            and order.expires_at > now - grace
            and self.next_query_at.get(order.order_no, now) <= now
        ]
        return copy.deepcopy(due[:limit])

    def expired_before(self, now: datetime) -> Iterator[Order]:
        for order in sorted(self.orders.orders.values(), key=lambda o: o.created_at):
            if (
                order.pay_status is PayStatus.PENDING
                and now - LOOKBACK <= order.created_at <= now
                and order.expires_at <= now
            ):
                yield copy.deepcopy(order)

    def record_query(
        self, order_no: str, entry: TimelineEntry, next_query_at: datetime | object | None = KEEP
    ) -> None:
        stored = self.orders.orders[order_no]
        stored.timeline.append(copy.deepcopy(entry))
        if next_query_at is None:
            self.next_query_at.pop(order_no, None)
        elif isinstance(next_query_at, datetime):
            self.next_query_at[order_no] = next_query_at


@dataclass
class ScriptedGateway:
    """A gateway (the calls the services make of gateways/base.Gateway) answering from scripts:
    each call takes the next answer of its script, and an exception in it is raised. A call with
    nothing left to answer fails the test. Every call is kept in `calls` (name, order number)."""

    queries: list[QueryResult | Exception] = field(default_factory=list)
    refunds: list[RefundAnswer | Exception] = field(default_factory=list)
    refund_queries: list[RefundAnswer | Exception | None] = field(default_factory=list)
    trades: list[GatewayTrade | Exception | None] = field(default_factory=list)
    refundable: bool = True
    calls: list[tuple[str, str]] = field(default_factory=list)

    def _next(self, name: str, script: list[Any], subject: str) -> Any:
        self.calls.append((name, subject))
        if not script:
            raise AssertionError(
                f"the gateway was asked {name} ({subject}) with no answer scripted"
            )
        answer = script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def query_order(self, ctx: CallContext, out_trade_no: str, trade_no: str | None) -> QueryResult:
        found: QueryResult = self._next("query_order", self.queries, out_trade_no)
        return found

    def find_trade(self, ctx: CallContext, trade_no: str) -> GatewayTrade | None:
        found: GatewayTrade | None = self._next("find_trade", self.trades, trade_no)
        return found

    def offers_refunds(self, config: Mapping[str, Any]) -> bool:
        return self.refundable

    def refund(self, ctx: CallContext, call: RefundCall) -> RefundAnswer:
        found: RefundAnswer = self._next("refund", self.refunds, call.request_id)
        return found

    def query_refund(self, ctx: CallContext, call: RefundCall) -> RefundAnswer | None:
        found: RefundAnswer | None = self._next(
            "query_refund", self.refund_queries, call.request_id
        )
        return found


@dataclass
class FakeGateways:
    """The gateways (ports.Gateways): the channel's config read as the real call reads it (the
    channels port: an unknown or broken channel is refused the same way), and its gateway one
    of `gateways` by channel, else `default`. No HTTP: the context carries no client."""

    default: ScriptedGateway = field(default_factory=ScriptedGateway)
    gateways: dict[str, ScriptedGateway] = field(default_factory=dict)

    def reach(self, channel: str, now: datetime) -> tuple[CallContext, Any]:
        config = channels.get_channel(channel)
        context = CallContext(config, channel, None, now)  # type: ignore[arg-type]
        return context, self.gateways.get(channel, self.default)


@dataclass
class MemoryAnomalies:
    """The anomalies (ports.Anomalies) by id: each created once, its status changed only from
    the status expected (else Conflict, as the conditional update)."""

    anomalies: dict[str, Anomaly] = field(default_factory=dict)

    def create(self, finding: Finding, at: datetime) -> bool:
        if finding.anomaly_id in self.anomalies:
            return False
        self.anomalies[finding.anomaly_id] = Anomaly(
            anomaly_id=finding.anomaly_id,
            rule=finding.rule,
            severity=finding.severity,
            status=AnomalyStatus.OPEN,
            created_at=at,
            details=copy.deepcopy(finding.details),
            order_no=finding.order_no,
            channel=finding.channel,
        )
        return True

    def get(self, anomaly_id: str) -> Anomaly | None:
        return copy.deepcopy(self.anomalies.get(anomaly_id))

    def _set(self, anomaly_id: str, status: AnomalyStatus, at: datetime, by: str, note: str | None):
        stored = self.anomalies[anomaly_id]
        self.anomalies[anomaly_id] = replace(
            stored, status=status, updated_at=at, updated_by=by, note=note or stored.note
        )
        return copy.deepcopy(self.anomalies[anomaly_id])

    def set_status(
        self,
        anomaly_id: str,
        status: AnomalyStatus,
        at: datetime,
        by: str,
        note: str | None,
        expected: AnomalyStatus,
    ) -> Anomaly:
        stored = self.anomalies.get(anomaly_id)
        if stored is None or stored.status is not expected:
            raise Conflict(
                "the anomaly changed meanwhile; read it again and retry", {"id": anomaly_id}
            )
        return self._set(anomaly_id, status, at, by, note)

    def resolve(self, anomaly_id: str, at: datetime, by: str, note: str) -> bool:
        stored = self.anomalies.get(anomaly_id)
        if stored is None or stored.status is AnomalyStatus.RESOLVED:
            return False
        self._set(anomaly_id, AnomalyStatus.RESOLVED, at, by, note)
        return True

    def for_order(self, order_no: str) -> list[Anomaly]:
        found = [a for a in self.anomalies.values() if a.order_no == order_no]
        return copy.deepcopy(sorted(found, key=lambda a: a.created_at))


@dataclass(frozen=True)
class ApiRecord:
    at: datetime
    actor: str
    role: str
    action: str
    target: str | None
    detail: dict[str, Any]


@dataclass
class MemoryAudit:
    """The audit trail (ports.Audit): notify requests and admin API records, in order."""

    notify: list[NotifyAudit] = field(default_factory=list)
    api: list[ApiRecord] = field(default_factory=list)

    def record_notify(self, entry: NotifyAudit, ttl_days: int) -> None:
        self.notify.append(entry)

    def record_api(
        self,
        at: datetime,
        actor: str,
        role: str,
        action: str,
        target: str | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.api.append(ApiRecord(at, actor, role, action, target, dict(detail or {})))


@dataclass
class MemoryKeys:
    """The admin API's keys (ports.ApiKeys), by id."""

    keys: dict[str, StoredKey] = field(default_factory=dict)

    def by_id(self, key_id: str) -> StoredKey | None:
        return self.keys.get(key_id)


@contextmanager
def wired(**fakes: Any) -> Iterator[None]:
    """The fakes as the services' ports for the block (by port name)."""
    with ports.use(**fakes):
        yield
