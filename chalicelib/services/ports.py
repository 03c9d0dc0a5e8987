"""The ports the services reach the world through: each a small Protocol. The real
implementation of each names its resource in the code, so the IAM scan (infra/iam.py) still
reads each function's calls and resources from it, and is what every Lambda handler uses. A test
sets in-memory fakes for a block instead (`with ports.use(clock=…, orders=…): …`;
tests/support/clock.py, tests/support/fakes.py); nothing else does.

An AWS edge's real is a small class beside the service that uses it. A repository's real is its
store module itself, named where it is called: `ports.orders(order_store).get(order_no)` is the
`orders` port, store/orders.py unless a test set its own; the scan reads that as a call of
`store.orders.get`, so a function reaches only the repository calls it makes (a wrapper class
would be reached whole, and widen every policy that reaches one of its methods). Look the port up
in the call itself, never into a variable: the scan refuses a module passed to a kept result.
The gateways' real is named the same way, services/gateway_calls.py (HTTP to the gateway, and
the channels secret read for its config); its fake answers from a script, and the gateway
modules' own parsing and signing stay proven against the simulator.

| port | protocol | real | services |
|---|---|---|---|
| clock | domain/clock.Clock | the system clock | every service |
| shop_events | BatchPublisher | the events topic (SNS) | events |
| paging | Publisher | the paging topic (SNS) | digest |
| export_files | ExportFiles | the bucket: multipart uploads, presigned links (S3) | exports |
| channels_secret | Secret | the channels secret (Secrets Manager) | channels |
| verification_secret | Secret | the verification secret (Secrets Manager) | reply_tokens |
| claims | Claims | the claims table (store/claims.py, DynamoDB) | events |
| orders | Orders | the orders table (store/orders.py) | order_writes, ingest, orders, refunds, lookup, anomalies, screening |
| notices | Notices | the notices table (store/notices.py) | ingest |
| audit | Audit | the audit table (store/audit.py) | ingest, actions, refunds, lookup, jobs, anomalies, verification |
| anomalies | Anomalies | the anomalies table, one by one (store/anomalies.py) | anomalies (recording, resolving, an operator's read and update), admin (an order's) |
| windows | OrderWindows | the orders table's by_ip, by_paid and by_channel indexes (store/orders.py) | screening |
| trades | Trades | the orders' and notices' trade-number indexes (store/lookup.py) | lookup |
| pending | Pending | the orders table's pending orders and query traces (store/pending.py) | requery, jobs |
| gateways | Gateways | the gateways' APIs over HTTP (services/gateway_calls.py) | requery, refunds, lookup |
| api_keys | ApiKeys | the keys table (store/keys.py) | admin (a timeline's actors' names) |

The other repositories, and the other services' calls of these, stay direct calls of store/,
proven on moto.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..domain.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:  # the repositories' types; their modules need the tables' settings to load
    from ..domain.anomaly import Anomaly, AnomalyStatus, Finding
    from ..domain.notice import Notice
    from ..domain.order import Order, OrderChanges, PayStatus, TimelineEntry
    from ..gateways.base import CallContext, Gateway
    from ..store.audit import NotifyAudit
    from ..store.keys import StoredKey
    from ..store.notices import Recorded
    from ..store.orders import FastPathResult


class Publisher(Protocol):
    """Messages onto one topic: the body as text, string attributes subscribers filter on."""

    def send(
        self, message: str, attributes: Mapping[str, str], subject: str | None = None
    ) -> None: ...


class BatchPublisher(Publisher, Protocol):
    """A topic that also takes several messages in one request: whether each went out, in order
    (a message the topic refused, or that its answer does not name, did not)."""

    def send_batch(self, messages: Sequence[tuple[str, Mapping[str, str]]]) -> list[bool]: ...


class ExportSink(Protocol):
    """One export file being written: parts in order, then closed (kept) or aborted (gone)."""

    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


class ExportUploads(Protocol):
    """Where export files are written."""

    def open(self, key: str, content_type: str) -> ExportSink: ...


class ExportLinks(Protocol):
    """The links their requesters fetch export files by."""

    def link(self, key: str, expires_s: int) -> str: ...


class ExportFiles(ExportUploads, ExportLinks, Protocol):
    """Both: what a fake of the `export_files` port is."""


class Secret(Protocol):
    """One secret's text."""

    def text(self) -> str: ...


class Claims(Protocol):
    """What has been done once for an order."""

    def is_claimed(self, order_no: str, key: str) -> bool: ...
    def claim(self, order_no: str, key: str) -> bool: ...
    def claim_all(self, keys_by_order: Mapping[str, Collection[str]]) -> None: ...


class Orders(Protocol):
    """The orders, as the order use cases read and write them: each write conditional on what
    was read, so a write meeting another one fails instead of overwriting it."""

    def get(self, order_no: str) -> Order | None: ...

    def create(self, order: Order) -> bool:
        """Store a new order; False when its number is taken."""
        ...

    def apply_changes(self, order: Order, changes: OrderChanges) -> Order:
        """The order after `changes`, written only if it is still at `order.version` and none of
        `changes.applied` is applied yet; else raises store.orders.VersionConflict."""
        ...

    def apply_first_payment(self, notice: Notice, changes: OrderChanges) -> FastPathResult:
        """`changes` written only to a pending order of the notice's channel, amount and
        currency that has not applied it; when that fails, the order as it is (or None)."""
        ...

    def apply_delivery(
        self, order_no: str, changes: OrderChanges, delivered: bool
    ) -> FastPathResult:
        """`changes` written only to a paid order whose delivery status may become delivered
        (or failed); the new order when written, else the order as it is (or None)."""
        ...

    def with_open_refunds(
        self, after: dict[str, dict[str, str]] | None = None, page_size: int = 100
    ) -> Iterator[tuple[Order, dict[str, dict[str, str]]]]:
        """Orders with a refund request open, newest first, each with its index key (a page of
        the refunds queue resumes just after the order whose key is `after`)."""
        ...


class Anomalies(Protocol):
    """The anomalies, one by one (the inbox's listing stays a direct call of store/anomalies.py)."""

    def create(self, finding: Finding, at: datetime) -> bool:
        """Store the finding as an open anomaly; False when it exists already (a replay)."""
        ...

    def get(self, anomaly_id: str) -> Anomaly | None: ...

    def set_status(
        self,
        anomaly_id: str,
        status: AnomalyStatus,
        at: datetime,
        by: str,
        note: str | None,
        expected: AnomalyStatus,
    ) -> Anomaly:
        """Move it to `status` only if it is still `expected`; Conflict otherwise."""
        ...

    def resolve(self, anomaly_id: str, at: datetime, by: str, note: str) -> bool:
        """Resolve it unless it is resolved already or does not exist; True if now."""
        ...

    def for_order(self, order_no: str) -> list[Anomaly]: ...


class OrderWindows(Protocol):
    """The orders in a window of time, as the anomaly rules' windows read them (indexes)."""

    def created_from_ips(
        self, ips: Iterable[str], since: datetime, until: datetime
    ) -> dict[str, list[str]]:
        """When the orders from each address were created in the window (ISO text, oldest
        first), by address."""
        ...

    def from_ip(self, ip: str, since: datetime, until: datetime, limit: int = 200) -> list[Order]:
        """Newest first, at most `limit`."""
        ...

    def paid_undelivered(self, since: datetime, until: datetime) -> Iterator[Order]:
        """Paid, delivery pending or failed, paid in the window: the latest UTC day first."""
        ...

    def pay_statuses_on_channel(
        self, channel: str, since: datetime, until: datetime
    ) -> list[PayStatus]: ...


class Trades(Protocol):
    """What paytrack knows of a gateway trade number."""

    def orders_of_trade(self, trade_no: str) -> list[str]:
        """The orders whose first payment or any notice carries `trade_no`, as found."""
        ...


class Pending(Protocol):
    """The pending orders the gateways are asked about (补单), and the trace each question
    leaves on its order (a timeline entry, when to ask next; the order's version untouched)."""

    def due_for_query(
        self, now: datetime, min_age: timedelta, grace: timedelta, limit: int
    ) -> list[Order]:
        """Pending orders older than `min_age`, not past expiry plus `grace`, never asked or due
        again; oldest first, at most `limit`."""
        ...

    def expired_before(self, now: datetime) -> Iterator[Order]:
        """Pending orders past their expiry at `now`, oldest first (created in `LOOKBACK`)."""
        ...

    def record_query(
        self, order_no: str, entry: TimelineEntry, next_query_at: datetime | object | None = ...
    ) -> None:
        """Append the entry; set when to ask next (None: never again; left out: as it is)."""
        ...


class Gateways(Protocol):
    """The payment gateways, as a call to one starts: the channel's call context and gateway;
    NotFound / ChannelMisconfigured for a channel that cannot be called."""

    def reach(self, channel: str, now: datetime) -> tuple[CallContext, Gateway]: ...


class Notices(Protocol):
    """The verified notices, one per dedupe key."""

    def record(self, notice: Notice, received_at: datetime, source_ip: str | None) -> Recorded:
        """Store the notice, or, when its key is stored already, add this delivery to it; a
        notice that says otherwise than the stored one is a conflict, stored nowhere."""
        ...

    def mark_awaiting(self, dedupe_key: str, at: datetime) -> None: ...
    def mark_matched(self, dedupe_key: str) -> None: ...

    def for_order(self, out_trade_no: str) -> list[tuple[Notice, bool]]:
        """The notices naming an order, oldest first, each with whether it awaits it."""
        ...

    def order_of_trade(self, trade_no: str) -> str | None: ...


class Audit(Protocol):
    """The audit trail: inbound notify requests, and what callers of the admin API did."""

    def record_notify(self, entry: NotifyAudit, ttl_days: int) -> None: ...

    def record_api(
        self,
        at: datetime,
        actor: str,
        role: str,
        action: str,
        target: str | None,
        detail: dict[str, Any] | None = None,
    ) -> None: ...


class ApiKeys(Protocol):
    """The admin API's keys, looked up by id (the actors of a timeline)."""

    def by_id(self, key_id: str) -> StoredKey | None: ...


PORTS = frozenset(
    {
        "clock",
        "shop_events",
        "paging",
        "export_files",
        "channels_secret",
        "verification_secret",
        "claims",
        "orders",
        "notices",
        "audit",
        "api_keys",
        "anomalies",
        "windows",
        "trades",
        "pending",
        "gateways",
    }
)
_set: dict[str, Any] = {}  # a test's own ports, by name

P = TypeVar("P")


def port(name: str, real: P) -> P:
    """The port `name`: a test's own while one is set, else the `real` one."""
    found: P = _set.get(name, real)
    return found


def clock() -> Clock:
    """The clock services read the time from."""
    return port("clock", SYSTEM_CLOCK)


def claims(real: Claims) -> Claims:
    """The `claims` port: a test's own while one is set, else `real` (store/claims.py)."""
    return port("claims", real)


def orders(real: Orders) -> Orders:
    """The `orders` port: a test's own while one is set, else `real` (store/orders.py)."""
    return port("orders", real)


def notices(real: Notices) -> Notices:
    """The `notices` port: a test's own while one is set, else `real` (store/notices.py)."""
    return port("notices", real)


def audit(real: Audit) -> Audit:
    """The `audit` port: a test's own while one is set, else `real` (store/audit.py)."""
    return port("audit", real)


def api_keys(real: ApiKeys) -> ApiKeys:
    """The `api_keys` port: a test's own while one is set, else `real` (store/keys.py)."""
    return port("api_keys", real)


def anomalies(real: Anomalies) -> Anomalies:
    """The `anomalies` port: a test's own while one is set, else `real` (store/anomalies.py)."""
    return port("anomalies", real)


def windows(real: OrderWindows) -> OrderWindows:
    """The `windows` port: a test's own while one is set, else `real` (store/orders.py)."""
    return port("windows", real)


def trades(real: Trades) -> Trades:
    """The `trades` port: a test's own while one is set, else `real` (store/lookup.py)."""
    return port("trades", real)


def pending(real: Pending) -> Pending:
    """The `pending` port: a test's own while one is set, else `real` (store/pending.py)."""
    return port("pending", real)


def gateways(real: Gateways) -> Gateways:
    """The `gateways` port: a test's own while one is set, else `real` (services/gateway_calls.py)."""
    return port("gateways", real)


@contextmanager
def use(**ports: Any) -> Iterator[None]:
    """The given ports (by name, PORTS) instead of the real ones for the block; the ports set
    before it are restored after it."""
    unknown = set(ports) - PORTS
    if unknown:
        raise TypeError(f"no port {', '.join(sorted(unknown))}")
    saved = dict(_set)
    _set.update(ports)
    try:
        yield
    finally:
        _set.clear()
        _set.update(saved)
