"""易支付 / epay API calls: `act=order` (补单) and the paged `act=orders` list (对账).

The merchant key travels in the query string — the protocol's own design, over HTTPS. The URL
is therefore never logged and never put in an error (GatewayHttp's errors name only what was
asked). epay has no statement file: the day is read from the order list, newest first, 50 a
page, as far back as the aggregator lets it page; when that is not far enough the statement is
marked incomplete and the reconciliation asks about each of the day's orders (`act=order`).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Mapping

from ..domain.errors import InvalidMoney
from ..domain.lookup import GatewayTrade
from ..domain.money import Money
from ..domain.notice import Notice, NoticeKind, NoticeSource
from ..domain.query import QueryResult, QueryStatus
from ..domain.statement import (LineKind, Statement, StatementLine, StatementUnparseable, beijing_time,
                                day_bounds, read_at)
from ._http import GatewayHttp, invalid_answer, readable
from ._signing import config_value

GATEWAY = "epay"
PAGE_SIZE = 50
MAX_PAGES = 40                      # 2,000 orders: how far back 彩虹-style lists let one page
LOOKBACK = timedelta(days=1)        # an order created this long before the day may be paid in it
_PAID = "TRADE_SUCCESS"


def _get(config: Mapping[str, Any], params: Mapping[str, Any], http: GatewayHttp, what: str) -> dict[str, Any]:
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
        channel=channel, gateway=GATEWAY, kind=NoticeKind.PAYMENT, dedupe_key=f"{channel}:{trade_no}:{_PAID}",
        out_trade_no=item["out_trade_no"], trade_no=trade_no, amount=Money.parse(item["money"], "CNY"),
        gateway_status=_PAID, event_time=beijing_time(item["endtime"]) if item.get("endtime") else None,
        raw=dict(item), payment_ref=trade_no, method=item.get("type") or None, source=NoticeSource.QUERY)


def query(config: Mapping[str, Any], channel: str, out_trade_no: str, http: GatewayHttp,
          now: datetime) -> QueryResult:
    what = "epay act=order"
    answer = _get(config, {"act": "order", "out_trade_no": out_trade_no}, http, what)
    code = str(answer.get("code"))
    if code == "-1":
        return QueryResult(QueryStatus.NOT_FOUND, "code -1")
    if code != "1":
        raise invalid_answer(what, f"code {code}")
    with readable(what):
        pid = config_value(config, "pid")
        if answer["out_trade_no"] != out_trade_no or str(answer.get("pid", pid)) != pid:
            raise invalid_answer(what, "the answer names another merchant or order")
        if str(answer["status"]) == "1":
            return QueryResult(QueryStatus.PAID, _PAID, payment_notice(answer, channel))
        return QueryResult(QueryStatus.NOT_PAID, f"status {answer['status']}")


def find_trade(config: Mapping[str, Any], channel: str, trade_no: str, http: GatewayHttp,
               now: datetime) -> GatewayTrade | None:
    """`act=order` by the aggregator's `trade_no`: the trade, or None."""
    what = "epay act=order"
    answer = _get(config, {"act": "order", "trade_no": trade_no}, http, what)
    code = str(answer.get("code"))
    if code == "-1":
        return None
    if code != "1":
        raise invalid_answer(what, f"code {code}")
    with readable(what):
        pid = config_value(config, "pid")
        if answer["trade_no"] != trade_no or str(answer.get("pid", pid)) != pid:
            raise invalid_answer(what, "the answer names another merchant or trade")
        paid = str(answer["status"]) == "1"
        return GatewayTrade(channel, trade_no, answer["out_trade_no"],
                            QueryStatus.PAID if paid else QueryStatus.NOT_PAID,
                            _PAID if paid else f"status {answer['status']}", Money.parse(answer["money"], "CNY"),
                            beijing_time(answer["endtime"]) if paid and answer.get("endtime") else None)


def _line(item: Mapping[str, Any], n: int, window: tuple[datetime, datetime], source: str) -> StatementLine | None:
    """The item as a payment line of the day, or None (unpaid, or paid on another day)."""
    try:
        if str(item["status"]) != "1" or not item.get("endtime"):
            return None
        paid_at = beijing_time(item["endtime"])
        if not window[0] <= paid_at < window[1]:
            return None
        return StatementLine(n, LineKind.PAYMENT, item["out_trade_no"], item["trade_no"],
                             Money.parse(item["money"], "CNY"), at=paid_at, status="1")
    except (KeyError, ValueError, TypeError) as error:
        raise StatementUnparseable(source, n, f"unreadable order ({type(error).__name__}: {error})") from None
    except InvalidMoney as error:
        raise StatementUnparseable(source, n, error.message) from None


def fetch_orders(config: Mapping[str, Any], channel: str, day: date, http: GatewayHttp,
                 now: datetime) -> Statement:
    """The day's paid orders from the list; `complete` is False when paging could not reach back
    to the start of the day."""
    what, source = "epay act=orders", f"epay order list {channel} {day.isoformat()}"
    window = day_bounds(day)
    lines: list[StatementLine] = []
    seen = 0
    for page in range(1, MAX_PAGES + 1):
        answer = _get(config, {"act": "orders", "limit": PAGE_SIZE, "page": page}, http, what)
        items = answer.get("data") or []
        if str(answer.get("code")) != "1" or not isinstance(items, list):
            raise invalid_answer(what, f"code {answer.get('code')}")
        for item in items:
            seen += 1
            line = _line(item, seen, window, source)
            if line is not None:
                lines.append(line)
        if len(items) < PAGE_SIZE or _older_than(items[-1], window[0] - LOOKBACK, seen, source):
            return read_at(Statement(channel, day, lines, source), now)
    return read_at(Statement(channel, day, lines, source, complete=False), now)


def _older_than(item: Mapping[str, Any], limit: datetime, n: int, source: str) -> bool:
    try:
        return beijing_time(item["addtime"]) < limit
    except (KeyError, ValueError, TypeError) as error:
        raise StatementUnparseable(source, n, f"unreadable addtime ({error})") from None
