"""易支付 / epay API calls: `act=order` (补单), the paged `act=orders` list (对账) and, where the
aggregator offers it (彩虹易支付), `act=refund` (退款).

The merchant key travels in the query string — the protocol's own design, over HTTPS. The URL
is therefore never logged and never put in an error (GatewayHttp's errors name only what was
asked). epay has no statement file: the day is read from the order list, newest first, 50 a
page, as far back as the aggregator lets it page; when that is not far enough the statement is
marked incomplete and the reconciliation asks about each of the day's orders (`act=order`).

An order's `status` (彩虹易支付's `pay_order.status`, which the compatible aggregators copy):

| status | 彩虹's word | means | on the statement |
|---|---|---|---|
| 0 | 未支付 | created, not paid | nothing |
| 1 | 已支付 | paid | a payment (at `endtime`) |
| 2 | 已退款 | paid, then refunded | the payment and a refund of `refundmoney` (the whole `money` when the aggregator does not list it) |
| 3 | 已冻结 | paid, the aggregator holds the funds (a complaint) | a payment: the money was taken |

Any other status fails the read (never reconcile a guess). The list shows no refund time: a
refund is counted on its payment's day.

The list pages by offset, newest first: an order created while the day is read pushes every
row down, so a row of one page comes again at the top of the next. Rows are kept once per
trade number, and the whole list is read again until two reads agree on the rows of the day
(a row that changed status or went missing between them shows up as a difference); a list
that never settles within `MAX_READS` is marked incomplete, so each of our orders is asked
about one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from ..domain.errors import InvalidMoney
from ..domain.lookup import GatewayTrade
from ..domain.money import Money
from ..domain.notice import Notice, NoticeKind, NoticeSource
from ..domain.query import QueryResult, QueryStatus
from ..domain.refunds import RefundAnswer, RefundCall, RefundState
from ..domain.statement import (
    LineKind,
    Statement,
    StatementLine,
    StatementUnparseable,
    beijing_time,
    day_bounds,
    read_at,
)
from ._http import GatewayHttp, invalid_answer, readable
from ._signing import config_value
from .base import CallContext

GATEWAY = "epay"
PAGE_SIZE = 50
MAX_PAGES = 40  # 2,000 orders: how far back 彩虹-style lists let one page
MAX_READS = 3  # whole reads of the list until two agree
LOOKBACK = timedelta(days=1)  # an order created this long before the day may be paid in it
_PAID = "TRADE_SUCCESS"


class EpayStatus:
    """彩虹易支付's order statuses (the table above)."""

    UNPAID, PAID, REFUNDED, FROZEN = "0", "1", "2", "3"
    TAKEN = frozenset({PAID, REFUNDED, FROZEN})  # the aggregator took the buyer's money
    KNOWN = frozenset({UNPAID, *TAKEN})


def _get(
    config: Mapping[str, Any], params: Mapping[str, Any], http: GatewayHttp, what: str
) -> dict[str, Any]:
    url = config_value(config, "api_base").rstrip("/") + "/api.php"
    credentials = {"pid": config_value(config, "pid"), "key": config_value(config, "key")}
    response = http.call("GET", url, what, params={**params, **credentials})
    if response.status_code != 200:
        raise invalid_answer(what, f"HTTP {response.status_code}")
    with readable(what):
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        return document


def payment_notice(item: Mapping[str, Any], channel: str) -> Notice:
    """A paid order of the list or the query as the payment notice. Its dedupe key is the one the
    notification of that payment has (epay sends no event id): whichever comes second is a
    duplicate of the first."""
    trade_no = item["trade_no"]
    return Notice(
        channel=channel,
        gateway=GATEWAY,
        kind=NoticeKind.PAYMENT,
        dedupe_key=f"{channel}:{trade_no}:{_PAID}",
        out_trade_no=item["out_trade_no"],
        trade_no=trade_no,
        amount=Money.parse(item["money"], "CNY"),
        gateway_status=_PAID,
        event_time=beijing_time(item["endtime"]) if item.get("endtime") else None,
        raw=dict(item),
        payment_ref=trade_no,
        method=item.get("type") or None,
        source=NoticeSource.QUERY,
    )


def _order(
    config: Mapping[str, Any], key: str, value: str, http: GatewayHttp, what: str
) -> dict[str, Any] | None:
    """`act=order` by `key` (`out_trade_no` or `trade_no`): the answer when it names this merchant
    and that order, None for code -1 (not found); anything else is unreadable."""
    answer = _get(config, {"act": "order", key: value}, http, what)
    code = str(answer.get("code"))
    if code == "-1":
        return None
    if code != "1":
        raise invalid_answer(what, f"code {code}")
    with readable(what):
        pid = config_value(config, "pid")
        if answer[key] != value or str(answer.get("pid", pid)) != pid:
            raise invalid_answer(what, f"the answer names another merchant or {key}")
    return answer


def query(ctx: CallContext, out_trade_no: str, trade_no: str | None = None) -> QueryResult:
    """Asked by the order number; the trade number, when known, is not needed."""
    config, channel, http = ctx.config, ctx.channel, ctx.http
    what = "epay act=order"
    answer = _order(config, "out_trade_no", out_trade_no, http, what)
    if answer is None:
        return QueryResult(QueryStatus.NOT_FOUND, "code -1")
    with readable(what):
        status = str(answer["status"])
        if status in (EpayStatus.PAID, EpayStatus.FROZEN):
            return QueryResult(QueryStatus.PAID, _PAID, payment_notice(answer, channel))
        if status == EpayStatus.REFUNDED:
            notice = payment_notice(answer, channel)
            return QueryResult(
                QueryStatus.REFUNDED,
                "status 2 (已退款)",
                replace(
                    notice,
                    kind=NoticeKind.INFO,
                    gateway_status="status 2",
                    dedupe_key=f"{channel}:{notice.trade_no}:refunded",
                    refunded_total=_refunded(answer),
                ),
            )
        if status == EpayStatus.UNPAID:
            return QueryResult(QueryStatus.NOT_PAID, "status 0")
        raise invalid_answer(what, f"unknown status {status}")


def find_trade(ctx: CallContext, trade_no: str) -> GatewayTrade | None:
    """`act=order` by the aggregator's `trade_no`: the trade, or None."""
    config, channel, http = ctx.config, ctx.channel, ctx.http
    what = "epay act=order"
    answer = _order(config, "trade_no", trade_no, http, what)
    if answer is None:
        return None
    with readable(what):
        status = str(answer["status"])
        if status not in EpayStatus.KNOWN:
            raise invalid_answer(what, f"unknown status {status}")
        taken = status in EpayStatus.TAKEN
        found = {EpayStatus.UNPAID: QueryStatus.NOT_PAID, EpayStatus.REFUNDED: QueryStatus.REFUNDED}
        return GatewayTrade(
            channel,
            trade_no,
            answer["out_trade_no"],
            found.get(status, QueryStatus.PAID),
            _PAID if status == EpayStatus.PAID else f"status {status}",
            Money.parse(answer["money"], "CNY"),
            beijing_time(answer["endtime"]) if taken and answer.get("endtime") else None,
        )


def _refunded(item: Mapping[str, Any]) -> Money:
    """What a refunded order gave back: `refundmoney` where the aggregator lists it, else all."""
    return Money.parse(str(item.get("refundmoney") or item["money"]), "CNY")


def _lines(
    item: Mapping[str, Any], n: int, window: tuple[datetime, datetime], source: str
) -> list[StatementLine]:
    """The item's lines of the day: its payment (and refund) when paid in the window, else none."""
    try:
        status = str(item["status"])
        if status not in EpayStatus.KNOWN:
            raise StatementUnparseable(source, n, f"unknown order status {status!r} (0, 1, 2 or 3)")
        if status not in EpayStatus.TAKEN or not item.get("endtime"):
            return []
        paid_at = beijing_time(item["endtime"])
        if not window[0] <= paid_at < window[1]:
            return []
        payment = StatementLine(
            n,
            LineKind.PAYMENT,
            item["out_trade_no"],
            item["trade_no"],
            Money.parse(item["money"], "CNY"),
            at=paid_at,
            status=status,
        )
        if status != EpayStatus.REFUNDED:
            return [payment]
        return [payment, payment._replace(kind=LineKind.REFUND, amount=_refunded(item))]
    except (KeyError, ValueError, TypeError) as error:
        raise StatementUnparseable(
            source, n, f"unreadable order ({type(error).__name__}: {error})"
        ) from None
    except InvalidMoney as error:
        raise StatementUnparseable(source, n, error.message) from None


class _Read(NamedTuple):
    lines: list[StatementLine]
    rows: dict[str, tuple[Any, ...]]  # trade_no -> what the list says of a row of the day
    complete: bool  # the pages reached back before the day


def _read_list(
    config: Mapping[str, Any], http: GatewayHttp, window: tuple[datetime, datetime], source: str
) -> _Read:
    """One read of the list, page by page, each trade number kept once."""
    what, oldest = "epay act=orders", window[0] - LOOKBACK
    lines: list[StatementLine] = []
    rows: dict[str, tuple[Any, ...]] = {}
    seen, met = 0, set[str]()
    for page in range(1, MAX_PAGES + 1):
        answer = _get(config, {"act": "orders", "limit": PAGE_SIZE, "page": page}, http, what)
        items = answer.get("data") or []
        if str(answer.get("code")) != "1" or not isinstance(items, list):
            raise invalid_answer(what, f"code {answer.get('code')}")
        for item in items:
            seen += 1
            trade_no = _trade_no(item, seen, source)
            if trade_no in met:  # pushed down a page by an order created meanwhile
                continue
            met.add(trade_no)
            if (
                not _older_than(item, oldest, seen, source)
                and _created(item, seen, source) < window[1]
            ):
                rows[trade_no] = tuple(
                    item.get(k) for k in ("status", "money", "endtime", "refundmoney")
                )
            lines += _lines(item, seen, window, source)
        if len(items) < PAGE_SIZE or _older_than(items[-1], oldest, seen, source):
            return _Read(lines, rows, True)
    return _Read(lines, rows, False)


def fetch_orders(ctx: CallContext, day: date) -> Statement:
    """The day's paid (and refunded) orders from the list, read until two reads agree on the
    day's rows; `complete` is False when paging could not reach back to the start of the day or
    the list would not hold still."""
    config, channel, http, now = ctx.config, ctx.channel, ctx.http, ctx.now
    source = f"epay order list {channel} {day.isoformat()}"
    window = day_bounds(day)
    read = _read_list(config, http, window, source)
    for _ in range(MAX_READS - 1):
        again = _read_list(config, http, window, source)
        stable = again.rows == read.rows and again.complete == read.complete
        read = again
        if stable:
            return read_at(
                Statement(
                    channel, day, read.lines, source, complete=read.complete, refunds_dated=False
                ),
                now,
            )
    return read_at(
        Statement(
            channel,
            day,
            read.lines,
            f"{source} (the list kept changing)",
            complete=False,
            refunds_dated=False,
        ),
        now,
    )


def _trade_no(item: Mapping[str, Any], n: int, source: str) -> str:
    trade_no = item.get("trade_no") if isinstance(item, Mapping) else None
    if not isinstance(trade_no, str) or not trade_no:
        raise StatementUnparseable(source, n, "order without a trade_no")
    return trade_no


def _created(item: Mapping[str, Any], n: int, source: str) -> datetime:
    try:
        return beijing_time(item["addtime"])
    except (KeyError, ValueError, TypeError) as error:
        raise StatementUnparseable(source, n, f"unreadable addtime ({error})") from None


def _older_than(item: Mapping[str, Any], limit: datetime, n: int, source: str) -> bool:
    return _created(item, n, source) < limit


# ------------------------------------------------------------------ 退款


def refund(ctx: CallContext, call: RefundCall) -> RefundAnswer:
    """彩虹易支付's `act=refund` (POST; the key in the form, not the URL): `code` 1 refunded, any
    other code a refusal with its `msg`. `out_refund_no` is the request id, which newer 彩虹
    versions dedupe on; the aggregator has no refund query, so a call that times out stays
    pending for a person to check in the aggregator's console."""
    config, http = ctx.config, ctx.http
    what = "epay act=refund"
    url = config_value(config, "api_base").rstrip("/") + "/api.php?act=refund"
    response = http.call(
        "POST",
        url,
        what,
        data={
            "pid": config_value(config, "pid"),
            "key": config_value(config, "key"),
            "trade_no": call.trade_no,
            "out_trade_no": call.out_trade_no,
            "out_refund_no": call.request_id,
            "money": call.amount.format(),
        },
    )
    if response.status_code != 200:
        raise invalid_answer(what, f"HTTP {response.status_code}")
    with readable(what):
        answer = response.json()
        if not isinstance(answer, dict):
            raise ValueError("not a JSON object")
        if str(answer.get("code")) == "1":
            return RefundAnswer(RefundState.SUCCEEDED, "code 1", None, call.amount)
        return RefundAnswer(
            RefundState.FAILED, f"code {answer.get('code')} {answer.get('msg') or ''}".strip()
        )
