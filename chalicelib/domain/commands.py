"""The operators' use cases as typed commands: what a request asks for, read and checked at the
HTTP edge (app.py) from its query string or JSON body, so a service takes a command and never a
raw dict. Each `from_query` / `from_body` raises ValidationFailed naming the parameter; what
needs the clock or the stored state (default ranges, configured channels) is the service's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from . import params as p
from . import validation as v
from .actions import ACTIONS, Idempotency
from .anomaly import AnomalyStatus, Severity
from .errors import ValidationFailed
from .order import DeliveryStatus, PayStatus
from .order_filter import OrderFilter
from .reconcile import Result

# ------------------------------------------------------------------ reconciliations


@dataclass(frozen=True)
class ListRuns:
    """GET /admin/reconciliations: by `channel` and/or `date`; without either, the last 7 days."""

    channel: str | None = None
    day: date | None = None

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> ListRuns:
        return cls(params.get("channel"), p.day_value(params, "date"))


@dataclass(frozen=True)
class GetRun:
    """GET /admin/reconciliations/{id}: one run, its lines narrowed to one `result`."""

    run_id: str  # as in URLs: alipay-main:2026-11-24
    result: Result | None = None

    @classmethod
    def from_query(cls, run_id: str, params: Mapping[str, str]) -> GetRun:
        wanted = params.get("result")
        if wanted is not None and wanted not in {r.value for r in Result}:
            raise ValidationFailed(
                f"result must be one of {', '.join(r.value for r in Result)}", {"field": "result"}
            )
        return cls(run_id, Result(wanted) if wanted is not None else None)


@dataclass(frozen=True)
class RunReconciliation:
    """POST /admin/reconciliations {channel, date}: reconcile one channel's day now."""

    channel: str
    day: date

    @classmethod
    def from_body(cls, body: Any) -> RunReconciliation:
        body = v.require_object(body)
        v.reject_unknown(body, {"channel", "date"})
        channel = v.text(body, "channel", max_len=64) or ""
        return cls(channel, p.day_of("date", v.text(body, "date", max_len=10)))


# ------------------------------------------------------------------ the anomaly inbox

ANOMALY_LIMIT = (50, 200)  # default, most per page
_INBOX_FILTERS = ("status", "rule", "severity", "from", "to")


@dataclass(frozen=True)
class ListAnomalies:
    """GET /admin/anomalies: newest first, by status, rule, severity and creation time."""

    created: p.TimeRange
    status: AnomalyStatus | None = None
    severity: Severity | None = None
    rule: str | None = None
    limit: int = ANOMALY_LIMIT[0]
    cursor: str | None = None
    given: Mapping[str, str] = field(default_factory=dict)  # the filters as sent, for the audit

    @classmethod
    def from_query(cls, params: Mapping[str, str], rules: tuple[str, ...]) -> ListAnomalies:
        """`rules`: the rule names an anomaly may have (the configured rules and the review's)."""
        v.reject_unknown(params, {*_INBOX_FILTERS, "limit", "cursor"})
        created = p.time_range(params)
        status = v.choice(params, "status", tuple(s.value for s in AnomalyStatus), required=False)
        severity = v.choice(params, "severity", tuple(s.value for s in Severity), required=False)
        return cls(
            created=created,
            status=AnomalyStatus(status) if status else None,
            severity=Severity(severity) if severity else None,
            rule=v.choice(params, "rule", rules, required=False),
            limit=p.limit(params, *ANOMALY_LIMIT),
            cursor=params.get("cursor") or None,
            given={k: params[k] for k in _INBOX_FILTERS if k in params},
        )


@dataclass(frozen=True)
class UpdateAnomaly:
    """POST /admin/anomalies/{id}: acknowledge or resolve, with a note."""

    anomaly_id: str  # as the URL gives it: printed (`rule~subject`) or stored (`rule#subject`)
    status: AnomalyStatus
    note: str | None = None

    @classmethod
    def from_body(cls, anomaly_id: str, body: Any) -> UpdateAnomaly:
        body = v.require_object(body)
        v.reject_unknown(body, {"status", "note"})
        targets = (AnomalyStatus.ACKNOWLEDGED.value, AnomalyStatus.RESOLVED.value)
        status = AnomalyStatus(v.choice(body, "status", targets))
        return cls(anomaly_id, status, v.text(body, "note", required=False, max_len=1000))


# ------------------------------------------------------------------ the order search

ORDER_LIMIT = (50, 200)  # default, most per page
_ORDER_TEXT = ("channel", "method", "order_no", "trade_no", "email", "buyer_id", "product", "ip")


def _flag(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(name) or None
    if value is not None and value not in allowed:
        raise ValidationFailed(
            f"{name}: one of {', '.join(allowed)}", {"field": name, "allowed": list(allowed)}
        )
    return value


@dataclass(frozen=True)
class OrderCriteria:
    """API.md's order filters as the request gave them, each checked; `to_filter` resolves the
    time ranges on the service's clock (each at most MAX_DAYS wide) before any read."""

    created: p.TimeRange
    paid: p.TimeRange
    statuses: tuple[str, ...] = ()
    delivery: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    flagged: bool | None = None
    text: Mapping[str, str | None] = field(default_factory=dict)  # _ORDER_TEXT, trimmed

    DEFAULT_DAYS = 30
    MAX_DAYS = 366

    @classmethod
    def from_query(cls, params: Mapping[str, str], statuses: list[str]) -> OrderCriteria:
        created = p.time_range(params)
        paid = p.TimeRange(p.time_value(params, "paid_from"), p.time_value(params, "paid_to"))
        pay_values = tuple(s.value for s in PayStatus)
        for status in statuses:
            if status not in pay_values:
                raise ValidationFailed(
                    f"status: one of {', '.join(pay_values)}", {"field": "status"}
                )
        flagged = _flag(params, "flagged", ("true", "false"))
        return cls(
            created=created,
            paid=replace(paid, since_name="paid_from", until_name="paid_to"),
            statuses=tuple(dict.fromkeys(statuses)),
            delivery=_flag(params, "delivery", tuple(s.value for s in DeliveryStatus)),
            min_amount=p.amount(params, "min_amount"),
            max_amount=p.amount(params, "max_amount"),
            flagged=None if flagged is None else flagged == "true",
            text={name: (params.get(name) or "").strip()[:200] or None for name in _ORDER_TEXT},
        )

    def to_filter(self, now: datetime) -> OrderFilter:
        span, cap = timedelta(days=self.DEFAULT_DAYS), timedelta(days=self.MAX_DAYS)
        created_from, created_to = self.created.resolve(now, span, cap)
        paid_from, paid_to = self.paid.since, self.paid.until
        # the days the by_paid index is read over: an open start is taken as the creation
        # range's, an open end as now
        since = paid_from or (min(created_from, paid_to) if paid_to is not None else None)
        if since is not None:
            p.check_range(since, paid_to or max(now, since), cap, "paid_from", "paid_to")
        exact_only = bool(self.text["order_no"] or self.text["trade_no"]) and not self.created.given
        return OrderFilter(
            created_from=created_from,
            created_to=created_to,
            time_bounded=not exact_only,
            paid_from=paid_from,
            paid_to=paid_to,
            statuses=self.statuses,
            delivery=self.delivery,
            min_amount=self.min_amount,
            max_amount=self.max_amount,
            flagged=self.flagged,
            **self.text,
        )


Position = tuple[str, str]  # the index's sort value of the last row, its order number


@dataclass(frozen=True)
class OrderCursor:
    """Where the next page starts, and the totals of the whole filtered set carried along."""

    after: Position
    totals: dict[str, Any] | None = None

    def encode(self) -> str:
        return p.encode_cursor({"a": list(self.after), "t": self.totals})

    @classmethod
    def decode(cls, cursor: str) -> OrderCursor:
        """Each part checked: the cursor comes back from the client and bounds the next Query."""
        try:
            data = p.decode_cursor(cursor)
            after, totals = data["a"], data["t"]
            if not (
                isinstance(after, list)
                and len(after) == 2
                and all(isinstance(x, str) for x in after)
            ):
                raise ValueError
            p.parse_time(after[0])
            return cls((after[0], after[1]), _checked_totals(totals))
        except (ValueError, KeyError, TypeError):
            raise ValidationFailed(
                "cursor: not a cursor this API gave out; start again without it",
                {"field": "cursor"},
            ) from None


_TOTALS = frozenset({"count", "amount_by_currency"})
_PAID_TOTALS = frozenset({"paid_count", "paid_amount_by_currency"})  # cursors from before lack them


def _checked_totals(totals: Any) -> dict[str, Any] | None:
    """Totals as the search wrote them (or None), else ValueError."""
    if totals is None:
        return None
    if not (
        isinstance(totals, dict)
        and set(totals) in (_TOTALS, _TOTALS | _PAID_TOTALS)
        and all(type(totals[key]) is int for key in ("count", "paid_count") if key in totals)
        and all(
            _amounts_ok(totals[key])
            for key in ("amount_by_currency", "paid_amount_by_currency")
            if key in totals
        )
    ):
        raise ValueError("totals")
    return totals


def _amounts_ok(amounts: Any) -> bool:
    return isinstance(amounts, dict) and all(
        isinstance(k, str) and isinstance(val, str) and len(k) + len(val) <= 64
        for k, val in amounts.items()
    )


@dataclass(frozen=True)
class SearchOrders:
    """GET /admin/orders: the criteria, a page of `limit`, totals unless `totals=false`."""

    criteria: OrderCriteria
    limit: int = ORDER_LIMIT[0]
    want_totals: bool = True
    cursor: OrderCursor | None = None
    given: Mapping[str, str] = field(default_factory=dict)  # the filters as sent, for the audit

    @classmethod
    def from_query(cls, params: Mapping[str, str], statuses: list[str]) -> SearchOrders:
        criteria = OrderCriteria.from_query(params, statuses)
        limit = p.limit(params, *ORDER_LIMIT)
        want_totals = _flag(params, "totals", ("true", "false")) != "false"
        cursor = params.get("cursor")
        return cls(
            criteria,
            limit,
            want_totals,
            OrderCursor.decode(cursor) if cursor else None,
            {k: v for k, v in params.items() if k != "cursor"},
        )


# ------------------------------------------------------------------ exports

EXPORT_KINDS = ("orders", "notifications", "anomalies", "reconciliation")
EXPORT_FORMATS = ("csv", "xlsx")
ORDER_FILTERS = frozenset(
    {
        "from",
        "to",
        "paid_from",
        "paid_to",
        "status",
        "delivery",
        "channel",
        "method",
        "min_amount",
        "max_amount",
        "order_no",
        "trade_no",
        "email",
        "buyer_id",
        "product",
        "ip",
        "flagged",
    }
)
EXPORT_FILTERS = {
    "orders": ORDER_FILTERS,
    "notifications": frozenset({"from", "to", "channel"}),
    "anomalies": frozenset({"from", "to", "status", "rule", "severity"}),
    "reconciliation": frozenset({"date", "channel", "from", "to", "result"}),
}


@dataclass(frozen=True)
class RequestExport:
    """POST /admin/exports: a kind, a format and the kind's filters (strings; `status` may be a
    list), kept with the export as given and read again when it is written."""

    kind: str
    format: str
    filters: dict[str, Any]

    @classmethod
    def from_body(cls, body: Any, languages: tuple[str, ...]) -> RequestExport:
        body = v.require_object(body)
        kind = v.choice(body, "kind", EXPORT_KINDS, required=False) or "orders"
        fmt = v.choice(body, "format", EXPORT_FORMATS, required=False) or "csv"
        filters = {k: val for k, val in body.items() if k not in ("kind", "format")}
        v.reject_unknown(filters, {*EXPORT_FILTERS[kind], "lang"})
        v.choice(filters, "lang", languages, required=False)
        for name, value in filters.items():
            ok = isinstance(value, str) or (
                name == "status"
                and isinstance(value, list)
                and all(isinstance(s, str) for s in value)
            )
            if not ok:
                raise ValidationFailed(
                    f"{name}: filters are strings (status may be a list)", {"field": name}
                )
        return cls(kind, fmt, filters)


# ------------------------------------------------------------------ an operator acts on an order

_ACTION_FIELDS = {"action", "reason", "amount", "idempotency_key", "payment"}
_WITH_AMOUNT = ("mark_refunded", "refund")


@dataclass(frozen=True)
class OrderAction:
    """POST /admin/orders/{order_no}/actions: one of ACTIONS with a reason; `amount` (the
    decimal text, read in the order's currency) for `mark_refunded` and `refund`, `payment` for
    `refund` only; an `idempotency_key` bound to the whole body."""

    order_no: str
    action: str
    reason: str
    idempotency: Idempotency | None = None
    amount: str | None = None
    payment: str | None = None

    @classmethod
    def from_body(cls, order_no: str, body: Any) -> OrderAction:
        body = v.require_object(body)
        v.reject_unknown(body, _ACTION_FIELDS)
        action = v.choice(body, "action", ACTIONS) or ""
        reason = v.text(body, "reason", max_len=500) or ""
        idempotency = Idempotency.of(
            v.text(body, "idempotency_key", required=False, max_len=100), body
        )
        amount = body.get("amount") if action in _WITH_AMOUNT else None
        if amount is not None and not isinstance(amount, str):
            raise ValidationFailed('amount: a decimal string such as "8.00"', {"field": "amount"})
        if action != "refund" and "payment" in body:
            raise ValidationFailed(
                "payment: only the refund action names a payment", {"field": "payment"}
            )
        payment = v.text(body, "payment", required=False, max_len=128)
        return cls(order_no, action, reason, idempotency, amount, payment)


# ------------------------------------------------------------------ keys and the audit log

AUDIT_LIMIT = (100, 500)  # default, most per page
MAX_KEY_ID = 64


@dataclass(frozen=True)
class CreateKey:
    """POST /admin/keys {name, role}."""

    name: str
    role: str

    @classmethod
    def from_body(cls, body: Any, roles: tuple[str, ...]) -> CreateKey:
        body = v.require_object(body)
        v.reject_unknown(body, {"name", "role"})
        name = v.text(body, "name", max_len=100) or ""
        return cls(name, v.choice(body, "role", roles) or "")


@dataclass(frozen=True)
class ReadAuditLog:
    """GET /admin/audit: by key (`key`) and time (`from`, `to`: a day by default)."""

    period: p.TimeRange
    limit: int = AUDIT_LIMIT[0]
    key: str | None = None

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> ReadAuditLog:
        period = p.time_range(params)
        limit = p.limit(params, *AUDIT_LIMIT)
        key = params.get("key") or None
        if key is not None and len(key) > MAX_KEY_ID:
            raise ValidationFailed(
                f"key: a key id (at most {MAX_KEY_ID} characters)", {"field": "key"}
            )
        return cls(period, limit, key)
