"""The operators' use cases as typed commands: what a request asks for, read and checked at the
HTTP edge (app.py) from its query string or JSON body, so a service takes a command and never a
raw dict. Each `from_query` / `from_body` raises ValidationFailed naming the parameter; what
needs the clock or the stored state (default ranges, configured channels) is the service's."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from . import params as p
from . import validation as v
from .actions import ACTIONS, Idempotency
from .anomaly import AnomalyStatus, Severity
from .errors import InvalidMoney, NotFound, ValidationFailed
from .money import Money, normalize_currency
from .order import DeliveryStatus, PayStatus
from .order_filter import OrderFilter
from .reconcile import Result
from .refunds import BY_HAND, RefundState
from .stats import DIMENSIONS
from .verification import DECISIONS, FREE_QUESTION

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
_CAPPED = frozenset({"capped"})  # totals=capped: whether the first page held only part of the set


def _checked_totals(totals: Any) -> dict[str, Any] | None:
    """Totals as the search wrote them (or None), else ValueError."""
    if totals is None:
        return None
    if not (
        isinstance(totals, dict)
        and set(totals) in (_TOTALS, _TOTALS | _PAID_TOTALS, _TOTALS | _PAID_TOTALS | _CAPPED)
        and all(type(totals[key]) is int for key in ("count", "paid_count") if key in totals)
        and type(totals.get("capped", False)) is bool
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
    """GET /admin/orders: the criteria, a page of `limit`, totals unless `totals=false`: of the
    whole filtered set, or with `totals=capped` of the first page's rows when more follow
    (`capped`: true) — exact, and free, when the first page holds the whole set."""

    criteria: OrderCriteria
    limit: int = ORDER_LIMIT[0]
    want_totals: bool = True
    cursor: OrderCursor | None = None
    given: Mapping[str, str] = field(default_factory=dict)  # the filters as sent, for the audit
    capped_totals: bool = False

    @classmethod
    def from_query(cls, params: Mapping[str, str], statuses: list[str]) -> SearchOrders:
        criteria = OrderCriteria.from_query(params, statuses)
        limit = p.limit(params, *ORDER_LIMIT)
        totals = _flag(params, "totals", ("true", "false", "capped"))
        cursor = params.get("cursor")
        return cls(
            criteria,
            limit,
            totals != "false",
            OrderCursor.decode(cursor) if cursor else None,
            {k: v for k, v in params.items() if k != "cursor"},
            totals == "capped",
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


# ------------------------------------------------------------------ trade lookup

TRADE_NO = re.compile(r"[A-Za-z0-9_-]{6,64}")


@dataclass(frozen=True)
class LookupTrade:
    """GET /admin/lookup: a gateway's trade number, on the channel named or on every channel
    whose trade numbers look like it."""

    trade_no: str
    channel: str | None = None

    @staticmethod
    def said(params: Mapping[str, Any]) -> dict[str, Any]:
        """What the audit keeps of the request as sent, refused or not."""
        return {
            "trade_no": str(params.get("trade_no", ""))[:64],
            "channel": str(params["channel"])[:64] if params.get("channel") else None,
        }

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> LookupTrade:
        trade_no = (params.get("trade_no") or "").strip()
        if not TRADE_NO.fullmatch(trade_no):
            raise ValidationFailed(
                "trade_no: the gateway's trade number (6 to 64 letters, digits, - or _)",
                {"field": "trade_no"},
            )
        channel = (params.get("channel") or "").strip() or None
        if channel is not None and len(channel) > 64:
            raise ValidationFailed(
                "channel: a channel id (at most 64 characters)", {"field": "channel"}
            )
        return cls(trade_no, channel)


# ------------------------------------------------------------------ the stats report

ShopDay = date | datetime  # a shop-time day, or a moment whose shop-time day is meant


def _shop_day(params: Mapping[str, str], name: str) -> ShopDay | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return p.parse_day(value) if len(value) == 10 else p.parse_time(value)
    except (ValueError, OverflowError):
        raise ValidationFailed(
            f"{name}: a date (2026-11-25) or an ISO 8601 time, from {p.TIME_MIN.year} "
            f"to {p.TIME_MAX.year - 1}",
            {"field": name},
        ) from None


@dataclass(frozen=True)
class ReadStats:
    """GET /admin/stats: the counters of `from`..`to` (shop-time days; by default the week up
    to today) grouped `by` one of DIMENSIONS."""

    since: ShopDay | None = None
    until: ShopDay | None = None
    by: str = "day"

    MAX_DAYS = 366

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> ReadStats:
        until = _shop_day(params, "to")
        since = _shop_day(params, "from")
        by = params.get("by") or "day"
        if by not in DIMENSIONS:
            raise ValidationFailed(f"by: one of {', '.join(DIMENSIONS)}", {"field": "by"})
        return cls(since, until, by)

    def days(self, today: date, zone: tzinfo) -> tuple[date, date]:
        """(since, until) as shop-time days, checked for order and width."""

        def day(value: ShopDay | None, default: date) -> date:
            if isinstance(value, datetime):
                return value.astimezone(zone).date()
            return default if value is None else value

        until = day(self.until, today)
        since = day(self.since, until - timedelta(days=6))
        p.check_range(since, until, timedelta(days=self.MAX_DAYS - 1))
        return since, until


# ------------------------------------------------------------------ refunds: the queue, the checker

REFUND_QUEUE_LIMIT = (50, 200)  # default, most per page (a page ends with a whole order)
QUEUE_STATES = (RefundState.AWAITING_APPROVAL, RefundState.PENDING)


@dataclass(frozen=True)
class ListRefunds:
    """GET /admin/refunds: open refund requests in one state (the approvals queue by default)."""

    state: RefundState = RefundState.AWAITING_APPROVAL
    limit: int = REFUND_QUEUE_LIMIT[0]
    cursor: str | None = None  # the store's, checked against the state's index when read

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> ListRefunds:
        v.reject_unknown(params, {"state", "limit", "cursor"})
        state = v.choice(params, "state", tuple(s.value for s in QUEUE_STATES), required=False)
        return cls(
            RefundState(state or RefundState.AWAITING_APPROVAL.value),
            p.whole_number(params, "limit", REFUND_QUEUE_LIMIT[0], 1, REFUND_QUEUE_LIMIT[1]),
            params.get("cursor") or None,
        )


@dataclass(frozen=True)
class DecideRefund:
    """POST /admin/orders/{no}/refunds/{id}/approve|reject {note}: the checker's word."""

    order_no: str
    request_id: str
    approve: bool
    note: str

    @classmethod
    def from_body(cls, order_no: str, request_id: str, approve: bool, body: Any) -> DecideRefund:
        body = v.require_object(body)
        v.reject_unknown(body, {"note"})
        return cls(order_no, request_id, approve, v.text(body, "note", max_len=500))


@dataclass(frozen=True)
class SettleRefund:
    """POST /admin/orders/{no}/refunds/{id}/settle {outcome, note}: a pending refund settled by
    hand after checking the gateway's console."""

    order_no: str
    request_id: str
    state: RefundState
    note: str
    given: Mapping[str, Any] = field(default_factory=dict)  # `said`: for the audit

    @staticmethod
    def said(body: Any) -> dict[str, Any]:
        return {
            name: body.get(name)
            if isinstance(body, Mapping) and isinstance(body.get(name), str)
            else None
            for name in ("outcome", "note")
        }

    @classmethod
    def from_body(cls, order_no: str, request_id: str, body: Any) -> SettleRefund:
        body = v.require_object(body)
        v.reject_unknown(body, {"outcome", "note"})
        state = RefundState(v.choice(body, "outcome", tuple(s.value for s in BY_HAND)))
        note = v.text(body, "note", max_len=500)
        return cls(order_no, request_id, state, note, cls.said(body))


# ------------------------------------------------------------------ buyer verification

MAX_ANSWER = 500


def quoted(body: Any, *names: str) -> dict[str, str | None]:
    """The named fields of a request body as the audit keeps them: text, cut short; anything
    else None (a refused body is audited as sent)."""
    if not isinstance(body, Mapping):
        return {}
    return {name: body[name][:500] if isinstance(body.get(name), str) else None for name in names}


@dataclass(frozen=True)
class AskVerification:
    """POST /admin/orders/{no}/verification: a template's question or the operator's own."""

    order_no: str
    template: str  # a template's name, or FREE_QUESTION
    question: str
    idempotency_key: str | None = None
    given: Mapping[str, Any] = field(default_factory=dict)  # `said`: for the audit

    SAID = ("template", "question")

    @classmethod
    def said(cls, body: Any) -> dict[str, str | None]:
        """What a request said of the fields the audit keeps, read or refused."""
        return quoted(body, *cls.SAID)

    @classmethod
    def from_body(cls, order_no: str, body: Any, templates: Mapping[str, str]) -> AskVerification:
        body = v.require_object(body)
        v.reject_unknown(body, {"template", "question", "idempotency_key"})
        template = v.choice(body, "template", (*templates, FREE_QUESTION), required=False)
        own = v.text(body, "question", required=False, max_len=500)
        if template is not None and template in templates:
            if own is not None:
                raise ValidationFailed(
                    "question: give a template or your own question, not both",
                    {"field": "question"},
                )
            chosen = (template, templates[template])
        elif own is None:
            raise ValidationFailed(
                f"question: required without a template ({', '.join(templates)})",
                {"field": "question", "templates": sorted(templates)},
            )
        else:
            chosen = (FREE_QUESTION, own)
        key = v.text(body, "idempotency_key", required=False, max_len=100)
        return cls(order_no, *chosen, key, cls.said(body))


@dataclass(frozen=True)
class AnswerVerification:
    """POST /orders/{no}/verification (shop): the buyer's answer with the reply token."""

    order_no: str
    verification_id: str
    token: str
    answer: str
    given: Mapping[str, Any] = field(default_factory=dict)  # `said`: for the audit

    SAID = ("verification_id",)

    @classmethod
    def said(cls, body: Any) -> dict[str, str | None]:
        """What a request said of the fields the audit keeps, read or refused."""
        return quoted(body, *cls.SAID)

    @classmethod
    def from_body(cls, order_no: str, body: Any) -> AnswerVerification:
        body = v.require_object(body)
        v.reject_unknown(body, {"verification_id", "token", "answer"})
        return cls(
            order_no,
            v.text(body, "verification_id", max_len=64),
            v.text(body, "token", max_len=200),
            v.text(body, "answer", max_len=MAX_ANSWER),
            cls.said(body),
        )


@dataclass(frozen=True)
class DecideVerification:
    """POST /admin/orders/{no}/verification/decision: release, or refund (`amount` of it)."""

    order_no: str
    decision: str  # one of DECISIONS
    reason: str
    amount: str | None = None
    given: Mapping[str, Any] = field(default_factory=dict)  # `said`: for the audit

    SAID = ("decision", "reason")

    @classmethod
    def said(cls, body: Any) -> dict[str, str | None]:
        """What a request said of the fields the audit keeps, read or refused."""
        return quoted(body, *cls.SAID)

    @classmethod
    def from_body(cls, order_no: str, body: Any) -> DecideVerification:
        body = v.require_object(body)
        v.reject_unknown(body, {"decision", "reason", "amount"})
        decision = v.choice(body, "decision", DECISIONS)
        reason = v.text(body, "reason", max_len=500)
        if "amount" in body and decision != "refund":
            raise ValidationFailed("amount: only a refund takes an amount", {"field": "amount"})
        amount = body.get("amount")
        if amount is not None and not isinstance(amount, str):
            raise ValidationFailed('amount: a decimal string such as "8.00"', {"field": "amount"})
        return cls(order_no, decision, reason, amount, cls.said(body))


# ------------------------------------------------------------------ the shop API

ORDER_NO = re.compile(r"[A-Za-z0-9_-]{1,32}")
_REGISTER_FIELDS = {
    "order_no",
    "product_id",
    "product_name",
    "quantity",
    "amount",
    "currency",
    "channel",
    "buyer_email",
    "buyer_id",
    "buyer_ip",
    "user_agent",
    "expires_in_s",
}


def _amount(body: Mapping[str, Any], currency: str) -> Money:
    """A positive decimal string with at most the currency's minor digits, read exactly."""
    text = body.get("amount")
    if not isinstance(text, str):
        raise ValidationFailed(
            'amount: must be a decimal string such as "58.00"', {"field": "amount"}
        )
    try:
        amount = Money.parse(text, currency)
    except InvalidMoney as error:
        raise InvalidMoney(f"amount: {error.message}", {"field": "amount"}) from None
    if amount.minor <= 0:
        raise ValidationFailed("amount: must be greater than zero", {"field": "amount"})
    return amount


@dataclass(frozen=True)
class RegisterOrder:
    """POST /orders (shop): an order to register. `order_no` None: paytrack numbers it."""

    order_no: str | None
    product_id: str
    product_name: str
    quantity: int
    amount: Money
    channel: str
    buyer_email: str | None
    buyer_id: str | None
    buyer_ip: str | None
    user_agent: str | None
    expires_in_s: int

    @classmethod
    def from_body(
        cls,
        body: Any,
        channels: Collection[str],
        currencies_of: Callable[[str], frozenset[str] | None],
        default_expires_in_s: int,
    ) -> RegisterOrder:
        """`channels`: the configured channel ids; `currencies_of(channel)`: the currencies it
        declares it takes (None: all of them)."""
        body = v.require_object(body)
        v.reject_unknown(body, _REGISTER_FIELDS)
        channel = v.text(body, "channel", max_len=64)
        if channel not in channels:
            raise ValidationFailed(
                f"channel: {channel!r} is not a configured channel",
                {"field": "channel", "allowed": sorted(channels)},
            )
        currency = normalize_currency(v.text(body, "currency", required=False, max_len=3) or "CNY")
        accepted = currencies_of(channel)
        if accepted is not None and currency not in accepted:
            raise ValidationFailed(
                f"currency: channel {channel} takes {', '.join(sorted(accepted))} only",
                {"field": "currency", "allowed": sorted(accepted)},
            )
        amount = _amount(body, currency)
        return cls(
            order_no=v.text(body, "order_no", required=False, max_len=32, pattern=ORDER_NO),
            product_id=v.text(body, "product_id", max_len=64),
            product_name=v.text(body, "product_name", max_len=200),
            quantity=v.integer(body, "quantity", default=1, minimum=1, maximum=10_000),
            amount=amount,
            channel=channel,
            buyer_email=v.email(body, "buyer_email"),
            buyer_id=v.text(body, "buyer_id", required=False, max_len=64),
            buyer_ip=v.ip_address(body, "buyer_ip"),
            user_agent=v.text(body, "user_agent", required=False, max_len=1000),
            expires_in_s=v.integer(
                body, "expires_in_s", default=default_expires_in_s, minimum=60, maximum=7 * 86400
            ),
        )

    def fingerprint(self) -> str:
        """The registration's digest (every field but the number): the same number registered
        again with the same body is the same order. Stored: its form never changes."""
        canonical = {
            "product_id": self.product_id,
            "product_name": self.product_name,
            "quantity": self.quantity,
            "amount": str(self.amount),
            "channel": self.channel,
            "buyer_email": self.buyer_email,
            "buyer_id": self.buyer_id,
            "buyer_ip": self.buyer_ip,
            "user_agent": self.user_agent,
            "expires_in_s": self.expires_in_s,
        }
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ReportDelivery:
    """POST /orders/{no}/delivery (shop): delivered or failed, with a detail."""

    order_no: str
    delivered: bool
    detail: str | None = None

    @classmethod
    def from_body(cls, order_no: str, body: Any) -> ReportDelivery:
        body = v.require_object(body)
        v.reject_unknown(body, {"status", "detail"})
        status = v.choice(body, "status", ("delivered", "failed"))
        return cls(
            order_no, status == "delivered", v.text(body, "detail", required=False, max_len=500)
        )


# ------------------------------------------------------------------ jobs


@dataclass(frozen=True)
class RunJob:
    """POST /admin/jobs/{name}: a scheduled job now; `reconcile` takes a `date` and a `channel`
    (a schedule runs each with neither)."""

    name: str
    day: date | None = None
    channel: str | None = None
    given: Mapping[str, Any] = field(default_factory=dict)  # the body as sent, for the audit

    @classmethod
    def from_body(cls, name: str, body: Any, jobs: Mapping[str, frozenset[str]]) -> RunJob:
        """`jobs`: each job's name and the body fields it takes."""
        if name not in jobs:
            raise NotFound(
                f"no job {name!r}; jobs: {', '.join(sorted(jobs))}",
                {"job": name, "jobs": sorted(jobs)},
            )
        body = v.require_object(body)
        v.reject_unknown(body, set(jobs[name]))
        return cls(
            name,
            p.day_value(body, "date"),
            v.text(body, "channel", required=False, max_len=64),
            dict(body),
        )
