"""What each export kind contains: a header and a lazy stream of rows (never a list of them).

Times are in the shop's time zone, money is the exact decimal string, PII goes through the
caller's masker."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any, cast

from ..domain import params as p
from ..domain.anomaly import printed_id
from ..domain.clock import day_of, from_iso
from ..domain.errors import ValidationFailed
from ..domain.money import Money
from ..domain.order import Order
from ..domain.order_filter import OrderFilter
from ..domain.settlement import settlement_of
from ..platform.read_budget import metered
from ..store import order_search, reconciliations
from ..store.models import AnomalyModel, NoticeModel
from . import export_rows
from .export_rows import WireOrder
from .export_words import Words
from .ports import clock

Masker = Callable[[str, "str | None"], "str | None"]
MAX_DAYS = 366
PAGE = 1000  # DynamoDB's own page: a Query returns at most 1 MB

ORDER_HEADER = [
    "订单编号",
    "创建时间",
    "商品编号",
    "商品名称",
    "数量",
    "订单金额",
    "币种",
    "实付金额",
    "手续费",
    "实际到账",
    "退款金额",
    "支付状态",
    "发货状态",
    "暂停原因",
    "渠道",
    "支付方式",
    "渠道订单号",
    "支付时间",
    "发货时间",
    "支付到发货(秒)",
    "买家邮箱",
    "买家ID",
    "IP",
    "设备",
    "浏览器",
    "系统",
    # the fee and net are in the settlement currency, which differs when the gateway converted
    "结算币种",
    "结算金额",
    "汇率",
    "手续费来源",
]


def _local(value: datetime | None, zone: tzinfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _money(value) -> str:
    return value.format() if value is not None else ""


def _order_row(order, zone: tzinfo, pii: Masker, word: Words = Words()) -> list[Any]:
    """An order's row from the domain Order: the reference the wire-format rows the export
    writes (services/export_rows.py) are tested against."""
    settled = settlement_of(order)
    latency = (
        int((order.delivered_at - order.paid_at).total_seconds())
        if order.delivered_at and order.paid_at
        else ""
    )
    settlement_money = settled.fee or settled.net
    settlement_currency = settlement_money.currency if settlement_money else ""
    return [
        order.order_no,
        _local(order.created_at, zone),
        order.product_id,
        order.product_name,
        order.quantity,
        order.amount.format(),
        order.amount.currency,
        _money(order.paid_amount),
        _money(settled.fee),
        _money(settled.net),
        _money(order.refunded_amount),
        word("pay_status", order.pay_status.value),
        word("delivery_status", order.delivery_status.value),
        word.joined("hold_reason", order.hold_reasons),
        order.channel,
        order.method or "",
        order.trade_no or "",
        _local(order.paid_at, zone),
        _local(order.delivered_at, zone),
        latency,
        pii("email", order.buyer_email) or "",
        pii("id", order.buyer_id) or "",
        pii("ip", order.buyer_ip) or "",
        word("device", order.device) or "",
        order.browser or "",
        order.os or "",
        settlement_currency,
        _money(settled.settled),
        settled.rate or "",
        settled.status or "",
    ]


def orders(order_filter: OrderFilter, zone: tzinfo, pii: Masker, word: Words = Words()):
    """Every matching order, read with a projection of what its row and the filter's checks
    use (export_rows.ATTRIBUTES: never the timeline, the applied notices, the user agent, the
    derived keys) and turned into its row straight from DynamoDB's wire format
    (services/export_rows.py: no model and no Order per item, the same cells as `_order_row`)."""
    row = export_rows.order_row(zone, pii, word)

    def rows() -> Iterator[list[Any]]:
        found = order_search.candidates(
            order_filter, None, attributes=list(export_rows.ATTRIBUTES), wire=True
        )
        for item in found:
            if order_filter.matches(cast(Order, WireOrder(item)), export_rows.flagged(item)):
                yield row(item)

    return ORDER_HEADER, rows()


def _range(filters: Mapping[str, Any]) -> tuple[datetime, datetime]:
    return p.time_range(filters).resolve(
        clock().now(), timedelta(days=30), timedelta(days=MAX_DAYS)
    )


def _days(since: datetime, until: datetime) -> Iterator[str]:
    day = until
    while day.date() >= since.date():
        yield day_of(day)
        day -= timedelta(days=1)


def notifications(filters: Mapping[str, Any], zone: tzinfo, pii: Masker, word: Words = Words()):
    since, until = _range(filters)
    channel = filters.get("channel")
    header = [
        "接收时间",
        "渠道",
        "网关",
        "类型",
        "网关状态",
        "订单编号",
        "渠道订单号",
        "金额",
        "币种",
        "投递次数",
        "等待订单",
        "来源",
        "付款人",
    ]

    def rows() -> Iterator[list[Any]]:
        for day in _days(since, until):
            for item in metered(NoticeModel.by_day.query(day, scan_index_forward=False), PAGE):
                if channel and item.channel != channel:
                    continue
                at = from_iso(item.received_at)
                if not since <= at <= until:
                    continue
                amount = (
                    ""
                    if item.amount_minor is None
                    else _minor_text(item.amount_minor, item.currency)
                )
                yield [
                    _local(at, zone),
                    item.channel,
                    item.gateway,
                    word("notice_kind", item.kind),
                    item.gateway_status,
                    item.out_trade_no,
                    item.trade_no or "",
                    amount,
                    item.currency or "",
                    len(item.attempts or []),
                    word("yes", "yes") if item.awaiting_day else "",
                    word("notice_source", item.source),
                    pii("id", item.payer) or "",
                ]

    return header, rows()


def _minor_text(minor: int, currency: str | None) -> str:
    return Money(int(minor), currency or "CNY").format()


def anomalies(filters: Mapping[str, Any], zone: tzinfo, pii: Masker, word: Words = Words()):
    since, until = _range(filters)
    wanted = {k: filters.get(k) for k in ("status", "rule", "severity") if filters.get(k)}
    header = [
        "发现时间",
        "编号",
        "规则",
        "级别",
        "状态",
        "订单编号",
        "渠道",
        "详情",
        "处理人",
        "处理时间",
        "备注",
    ]

    def rows() -> Iterator[list[Any]]:
        for day in _days(since, until):
            for item in metered(AnomalyModel.by_day.query(day, scan_index_forward=False), PAGE):
                if any(getattr(item, k) != value for k, value in wanted.items()):
                    continue
                yield [
                    _local(from_iso(item.created_at), zone),
                    printed_id(item.anomaly_id),
                    word("rule", item.rule),
                    word("severity", item.severity),
                    word("anomaly_status", item.status),
                    item.order_no or "",
                    item.channel or "",
                    json.dumps(item.details or {}, ensure_ascii=False),
                    item.updated_by or "",
                    _local(from_iso(item.updated_at), zone) if item.updated_at else "",
                    item.note or "",
                ]

    return header, rows()


RECONCILIATION_COLUMNS = (
    "n",
    "result",
    "kind",
    "line",
    "out_trade_no",
    "trade_no",
    "order_no",
    "currency",
    "statement",
    "ledger",
    "difference",
    "fee",
    "net",
    "settlement_currency",
    "settled",
    "exchange_rate",
    "refund_ref",
    "refund_request_id",
    "at",
    "gateway_status",
    "ledger_status",
    "note",
)


def _runs(filters: Mapping[str, Any]):
    """The runs an export names: one `date` (every channel, or one), or a `channel` and a range."""
    channel, day = filters.get("channel"), filters.get("date")
    try:
        if day:
            p.parse_day(day)
            return [
                run for run in reconciliations.by_date(day) if not channel or run.channel == channel
            ]
        if not channel:
            raise ValidationFailed(
                "reconciliation exports need `date`, or `channel` with `from`/`to` dates",
                {"field": "date"},
            )
        until = p.parse_day(filters["to"][:10]) if filters.get("to") else clock().now().date()
        since = (
            p.parse_day(filters["from"][:10]) if filters.get("from") else until - timedelta(days=31)
        )
    except ValueError:
        raise ValidationFailed("date, from, to: YYYY-MM-DD", {"field": "date"}) from None
    p.check_range(since, until, timedelta(days=MAX_DAYS))
    return reconciliations.by_channel(channel, since.isoformat(), until.isoformat())


def reconciliation(filters: Mapping[str, Any], zone: tzinfo, pii: Masker, word: Words = Words()):
    """The lines of the named runs that did not match (every line is in the run's CSV report)."""
    runs = _runs(filters)
    wanted = filters.get("result")
    header = word.header(["channel", "date", *RECONCILIATION_COLUMNS])

    def rows() -> Iterator[list[Any]]:
        for run in runs:
            for line in reconciliations.lines(run):
                if wanted and line.get("result") != wanted:
                    continue
                yield [
                    run.channel,
                    run.date,
                    *(_line_cell(word, c, line.get(c)) for c in RECONCILIATION_COLUMNS),
                ]

    return header, rows()


def _line_cell(word: Words, column: str, value: Any) -> Any:
    if value is None:
        return ""
    groups = {"result": "result", "kind": "line_kind", "ledger_status": "pay_status"}
    return word(groups[column], value) if column in groups else value


SOURCES: dict[str, Callable[..., tuple[list[str], Iterable[list[Any]]]]] = {
    "notifications": notifications,
    "anomalies": anomalies,
    "reconciliation": reconciliation,
}
