"""In-memory fakes of the services' ports (services/ports.py), for service tests that run in
milliseconds without moto. Each keeps what it was given so a test asserts on it; `failures`
makes the next calls refuse, as the AWS service would.

The repositories' fakes keep the DynamoDB semantics the use cases rely on: an order is written
only under its condition (still at the version read, the notice not applied yet; the first
payment's pending, same channel and amount), a failed condition hands back the order as stored,
and a notice is stored once per dedupe key. What they hand back is a copy, as a read is. The
contract test (tests/integration/test_repository_fakes.py) runs one scenario on a fake and on
the real store so the two cannot drift."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from chalicelib.domain.clock import day_of
from chalicelib.domain.notice import Notice
from chalicelib.domain.order import Order, OrderChanges, PayStatus
from chalicelib.services import ports
from chalicelib.store.audit import NotifyAudit
from chalicelib.store.keys import StoredKey
from chalicelib.store.notices import MAX_ATTEMPTS_KEPT, Recorded
from chalicelib.store.orders import FastPathResult, VersionConflict


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

    def send(self, message: str, attributes: Mapping[str, str], subject: str | None = None) -> None:
        if self.failures:
            self.failures -= 1
            raise Refused("the topic refused the message")
        self.sent.append(Sent(json.loads(message), dict(attributes), subject))


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
