"""GET /admin/orders: every filter of API.md, combinable, served by an index, with key-set
cursor pagination and totals for the whole filtered set."""
from __future__ import annotations

import base64
import binascii
import json
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any, Callable, Mapping

from ..domain import validation as v
from ..domain.clock import utcnow
from ..domain.errors import ValidationFailed
from ..domain.money import Money
from ..domain.order import DeliveryStatus, PayStatus
from ..domain.order_filter import OrderFilter
from ..store import audit, orders as order_store
from ..store.order_search import SWEEP_PAGE, candidates, choose_plan
from . import render
from .auth import Principal

DEFAULT_DAYS = 30
MAX_DAYS = 366
MAX_LIMIT = 200


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", {"field": field})


def _amount(params: Mapping[str, str], name: str) -> Decimal | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise _fail(name, "expected a decimal amount such as 58.00") from None
    if not amount.is_finite() or amount < 0:
        raise _fail(name, "expected a non-negative amount")
    return amount


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(name) or None
    if value is not None and value not in allowed:
        raise ValidationFailed(f"{name}: one of {', '.join(allowed)}", {"field": name, "allowed": list(allowed)})
    return value


def parse_filter(params: Mapping[str, str], statuses: list[str]) -> OrderFilter:
    now = utcnow()
    created_to = v.time_param(params, "to") or now
    created_from = v.time_param(params, "from") or created_to - timedelta(days=DEFAULT_DAYS)
    if created_from > created_to or created_to - created_from > timedelta(days=MAX_DAYS):
        raise _fail("from", f"must be before `to` and at most {MAX_DAYS} days earlier")
    pay_values = tuple(s.value for s in PayStatus)
    for status in statuses:
        if status not in pay_values:
            raise ValidationFailed(f"status: one of {', '.join(pay_values)}", {"field": "status"})
    flagged = _choice(params, "flagged", ("true", "false"))
    text = {name: (params.get(name) or "").strip()[:200] or None
            for name in ("channel", "method", "order_no", "trade_no", "email", "buyer_id", "product", "ip")}
    exact_only = bool(text["order_no"] or text["trade_no"]) and not (params.get("from") or params.get("to"))
    return OrderFilter(
        created_from=created_from, created_to=created_to, time_bounded=not exact_only, paid_from=v.time_param(params, "paid_from"),
        paid_to=v.time_param(params, "paid_to"), statuses=tuple(dict.fromkeys(statuses)),
        delivery=_choice(params, "delivery", tuple(s.value for s in DeliveryStatus)),
        min_amount=_amount(params, "min_amount"), max_amount=_amount(params, "max_amount"),
        flagged=None if flagged is None else flagged == "true", **text)


def _limit(params: Mapping[str, str]) -> int:
    raw = params.get("limit") or "50"
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise _fail("limit", f"a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def _encode_cursor(after: tuple[str, str], totals: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"a": list(after), "t": totals}).encode()).decode()


def _decode_cursor(cursor: str | None) -> tuple[tuple[str, str] | None, dict[str, Any] | None]:
    if not cursor:
        return None, None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        after = data["a"]
        if not (isinstance(after, list) and len(after) == 2 and all(isinstance(x, str) for x in after)):
            raise ValueError
        return (after[0], after[1]), data["t"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _fail("cursor", "not a cursor this API gave out; start again without it") from None


def _matching(f: OrderFilter, after: tuple[str, str] | None, page_size: int = SWEEP_PAGE):
    for item in candidates(f, after, page_size):
        order = order_store.to_domain(item)
        if f.matches(order, flagged=bool(item.flag)):
            yield item, order


def _totals_view(count: int, by_currency: dict[str, int]) -> dict[str, Any]:
    return {"count": count,
            "amount_by_currency": {c: Money(m, c).format() for c, m in sorted(by_currency.items())}}


def _first_page_with_totals(f: OrderFilter, limit: int) -> tuple[list, dict[str, Any]]:
    """One pass over the whole filtered set: the totals, and its first `limit + 1` rows."""
    page, count, by_currency = [], 0, {}
    for item, order in _matching(f, None):
        if len(page) <= limit:
            page.append((item, order))
        count += 1
        by_currency[order.amount.currency] = by_currency.get(order.amount.currency, 0) + order.amount.minor
    return page, _totals_view(count, by_currency)


def _page_and_totals(f: OrderFilter, after: tuple[str, str] | None, limit: int, want_totals: bool,
                     carried: dict[str, Any] | None) -> tuple[list, dict[str, Any] | None]:
    """The page's `limit + 1` rows, reading about that many items, and the totals: carried in the
    cursor, or counted in the same pass as the first page."""
    if want_totals and carried is None:
        if after is None:
            return _first_page_with_totals(f, limit)
        _, carried = _first_page_with_totals(f, 0)   # a cursor from a totals=false search
    # limit + 1 rows tell whether there is more; +1 again for the row at the cursor, which the
    # index's inclusive bound yields once more before the rows after it
    page = list(islice(_matching(f, after, limit + 2), limit + 1))
    return page, carried if want_totals else None


def search(principal: Principal, params: Mapping[str, str], getlist: Callable[[str], list[str]]) -> dict[str, Any]:
    f = parse_filter(params, getlist("status"))
    limit = _limit(params)
    want_totals = _choice(params, "totals", ("true", "false")) != "false"
    after, carried_totals = _decode_cursor(params.get("cursor"))
    plan = choose_plan(f)
    page, totals = _page_and_totals(f, after, limit, want_totals, carried_totals)
    more = len(page) > limit
    page = page[:limit]
    next_cursor = None
    if more:
        last_item = page[-1][0]
        next_cursor = _encode_cursor((getattr(last_item, plan.sort_attr) or "", last_item.order_no), totals)
    masked = not principal.sees_pii
    audit.record_api(utcnow(), principal.key_id, principal.role, "search_orders", None,
                     {"filters": {k: v for k, v in params.items() if k != "cursor"}, "masked": masked})
    return {"items": [render.order_row(order, masked=masked) for _, order in page],
            "next_cursor": next_cursor, "totals": totals, "index": plan.index}
