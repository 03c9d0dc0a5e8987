"""GET /admin/orders: every filter of API.md, combinable, served by an index, with key-set
cursor pagination and totals for the whole filtered set."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from datetime import timedelta
from itertools import islice
from typing import Any

from ..domain import params as p
from ..domain.clock import utcnow
from ..domain.errors import ValidationFailed
from ..domain.money import Money
from ..domain.order import PAID_STATES, DeliveryStatus, Order, PayStatus
from ..domain.order_filter import OrderFilter
from ..store import audit
from ..store import orders as order_store
from ..store.order_search import SWEEP_PAGE, candidates, choose_plan
from . import render
from .auth import Principal

DEFAULT_DAYS = 30
MAX_DAYS = 366
MAX_LIMIT = 200
MAX_CURSOR = 2048  # ours are a few hundred characters


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", {"field": field})


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(name) or None
    if value is not None and value not in allowed:
        raise ValidationFailed(
            f"{name}: one of {', '.join(allowed)}", {"field": name, "allowed": list(allowed)}
        )
    return value


def parse_filter(params: Mapping[str, str], statuses: list[str]) -> OrderFilter:
    """The filter, every parameter checked (time ranges at most MAX_DAYS wide) before any read."""
    now = utcnow()
    created_from, created_to = p.time_range(
        params, now, timedelta(days=DEFAULT_DAYS), timedelta(days=MAX_DAYS)
    )
    paid_from, paid_to = p.time_value(params, "paid_from"), p.time_value(params, "paid_to")
    # the days the by_paid index is read over (store/order_search.py): an open start is taken as
    # the creation range's start, an open end as now
    since = paid_from or (min(created_from, paid_to) if paid_to else None)
    if since is not None:
        p.check_range(
            since, paid_to or max(now, since), timedelta(days=MAX_DAYS), "paid_from", "paid_to"
        )
    pay_values = tuple(s.value for s in PayStatus)
    for status in statuses:
        if status not in pay_values:
            raise ValidationFailed(f"status: one of {', '.join(pay_values)}", {"field": "status"})
    flagged = _choice(params, "flagged", ("true", "false"))
    text = {
        name: (params.get(name) or "").strip()[:200] or None
        for name in (
            "channel",
            "method",
            "order_no",
            "trade_no",
            "email",
            "buyer_id",
            "product",
            "ip",
        )
    }
    exact_only = bool(text["order_no"] or text["trade_no"]) and not (
        params.get("from") or params.get("to")
    )
    return OrderFilter(
        created_from=created_from,
        created_to=created_to,
        time_bounded=not exact_only,
        paid_from=paid_from,
        paid_to=paid_to,
        statuses=tuple(dict.fromkeys(statuses)),
        delivery=_choice(params, "delivery", tuple(s.value for s in DeliveryStatus)),
        min_amount=p.amount(params, "min_amount"),
        max_amount=p.amount(params, "max_amount"),
        flagged=None if flagged is None else flagged == "true",
        **text,
    )


def _limit(params: Mapping[str, str]) -> int:
    return p.whole_number(params, "limit", 50, 1, MAX_LIMIT)


def _encode_cursor(after: tuple[str, str], totals: dict[str, Any] | None) -> str:
    return base64.urlsafe_b64encode(json.dumps({"a": list(after), "t": totals}).encode()).decode()


def _decode_cursor(cursor: str | None) -> tuple[tuple[str, str] | None, dict[str, Any] | None]:
    """The position (a stored time, an order number) and the carried totals, each checked: the
    cursor comes back from the client and bounds the next Query."""
    if not cursor:
        return None, None
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError
        data = p.parse_json(base64.urlsafe_b64decode(cursor.encode()), "cursor")
        after, totals = data["a"], data["t"]
        if not (
            isinstance(after, list) and len(after) == 2 and all(isinstance(x, str) for x in after)
        ):
            raise ValueError
        p.parse_time(after[0])
        return (after[0], after[1]), _checked_totals(totals)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _fail("cursor", "not a cursor this API gave out; start again without it") from None


def _checked_totals(totals: Any) -> dict[str, Any] | None:
    """Totals as `_first_page_with_totals` wrote them (or None), else ValueError."""
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


_TOTALS = frozenset({"count", "amount_by_currency"})
_PAID_TOTALS = frozenset({"paid_count", "paid_amount_by_currency"})  # cursors from before lack them


def _amounts_ok(amounts: Any) -> bool:
    return isinstance(amounts, dict) and all(
        isinstance(k, str) and isinstance(val, str) and len(k) + len(val) <= 64
        for k, val in amounts.items()
    )


def _matching(f: OrderFilter, after: tuple[str, str] | None, page_size: int = SWEEP_PAGE):
    for item in candidates(f, after, page_size):
        order = order_store.to_domain(item)
        if f.matches(order, flagged=bool(item.flag)):
            yield item, order


def _amounts_view(by_currency: dict[str, int]) -> dict[str, str]:
    return {c: Money(m, c).format() for c, m in sorted(by_currency.items())}


def _first_page_with_totals(
    f: OrderFilter, limit: int
) -> tuple[list[tuple[Any, Order]], dict[str, Any]]:
    """One pass over the whole filtered set: the totals, and its first `limit + 1` rows.

    Two totals that never mix: every matching order's order amount (`count`,
    `amount_by_currency`), and what the paid ones among them took (`paid_count`,
    `paid_amount_by_currency`: their paid amounts, refunded or not)."""
    page: list[tuple[Any, Order]] = []
    by_currency: dict[str, int] = {}
    paid_by_currency: dict[str, int] = {}
    count = paid_count = 0
    for item, order in _matching(f, None):
        if len(page) <= limit:
            page.append((item, order))
        count += 1
        by_currency[order.amount.currency] = (
            by_currency.get(order.amount.currency, 0) + order.amount.minor
        )
        if order.pay_status in PAID_STATES and order.paid_amount is not None:
            paid_count += 1
            currency = order.paid_amount.currency
            paid_by_currency[currency] = paid_by_currency.get(currency, 0) + order.paid_amount.minor
    return page, {
        "count": count,
        "amount_by_currency": _amounts_view(by_currency),
        "paid_count": paid_count,
        "paid_amount_by_currency": _amounts_view(paid_by_currency),
    }


def _page_and_totals(
    f: OrderFilter,
    after: tuple[str, str] | None,
    limit: int,
    want_totals: bool,
    carried: dict[str, Any] | None,
) -> tuple[list, dict[str, Any] | None]:
    """The page's `limit + 1` rows, reading about that many items, and the totals: carried in the
    cursor, or counted in the same pass as the first page."""
    if want_totals and carried is None:
        if after is None:
            return _first_page_with_totals(f, limit)
        _, carried = _first_page_with_totals(f, 0)  # a cursor from a totals=false search
    # limit + 1 rows tell whether there is more; +1 again for the row at the cursor, which the
    # index's inclusive bound yields once more before the rows after it
    page = list(islice(_matching(f, after, limit + 2), limit + 1))
    return page, carried if want_totals else None


def search(
    principal: Principal, params: Mapping[str, str], getlist: Callable[[str], list[str]]
) -> dict[str, Any]:
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
        next_cursor = _encode_cursor(
            (getattr(last_item, plan.sort_attr) or "", last_item.order_no), totals
        )
    masked = not principal.sees_pii
    audit.record_api(
        utcnow(),
        principal.key_id,
        principal.role,
        "search_orders",
        None,
        {"filters": {k: v for k, v in params.items() if k != "cursor"}, "masked": masked},
    )
    return {
        "items": [render.order_row(order, masked=masked) for _, order in page],
        "next_cursor": next_cursor,
        "totals": totals,
        "index": plan.index,
        "channel_names": render.channel_names(),
    }
