"""GET /admin/orders: every filter of API.md, combinable, served by an index, with key-set
cursor pagination and totals: of the whole filtered set (one pass over it), or capped at the
first page (`totals=capped`: what the page read, exact when it holds the whole set)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from ..domain.commands import OrderCriteria, OrderCursor, SearchOrders
from ..domain.money import Money
from ..domain.order import PAID_STATES, Order
from ..domain.order_filter import OrderFilter
from ..store import audit
from ..store import orders as order_store
from ..store.order_search import SWEEP_PAGE, candidates, choose_plan
from .auth import Principal
from .ports import clock


def parse_filter(params: Mapping[str, Any], statuses: list[str]) -> OrderFilter:
    """The filter of stored parameters (an export's), every one checked, on the clock now."""
    return OrderCriteria.from_query(params, statuses).to_filter(clock().now())


def _matching(f: OrderFilter, after: tuple[str, str] | None, page_size: int = SWEEP_PAGE):
    for item in candidates(f, after, page_size):
        order = order_store.to_domain(item)
        if f.matches(order, flagged=bool(item.flag)):
            yield item, order


def _amounts_view(by_currency: dict[str, int]) -> dict[str, str]:
    return {c: Money(m, c).format() for c, m in sorted(by_currency.items())}


def _totals(orders: Iterable[Order]) -> dict[str, Any]:
    """Two totals that never mix: every order's order amount (`count`, `amount_by_currency`), and
    what the paid ones among them took (`paid_count`, `paid_amount_by_currency`: their paid
    amounts, refunded or not)."""
    by_currency: dict[str, int] = {}
    paid_by_currency: dict[str, int] = {}
    count = paid_count = 0
    for order in orders:
        count += 1
        by_currency[order.amount.currency] = (
            by_currency.get(order.amount.currency, 0) + order.amount.minor
        )
        if order.pay_status in PAID_STATES and order.paid_amount is not None:
            paid_count += 1
            currency = order.paid_amount.currency
            paid_by_currency[currency] = paid_by_currency.get(currency, 0) + order.paid_amount.minor
    return {
        "count": count,
        "amount_by_currency": _amounts_view(by_currency),
        "paid_count": paid_count,
        "paid_amount_by_currency": _amounts_view(paid_by_currency),
    }


def _first_page_with_totals(
    f: OrderFilter, limit: int
) -> tuple[list[tuple[Any, Order]], dict[str, Any]]:
    """One pass over the whole filtered set: the totals, and its first `limit + 1` rows."""
    page: list[tuple[Any, Order]] = []

    def orders() -> Iterator[Order]:
        for item, order in _matching(f, None):
            if len(page) <= limit:
                page.append((item, order))
            yield order

    return page, _totals(orders())


def _page_and_totals(
    f: OrderFilter,
    after: tuple[str, str] | None,
    limit: int,
    want_totals: bool,
    carried: dict[str, Any] | None,
    capped: bool = False,
) -> tuple[list, dict[str, Any] | None]:
    """The page's `limit + 1` rows, reading about that many items, and the totals: carried in the
    cursor, counted in the same pass as the first page, or (capped) of the first page's rows."""
    if capped and carried is None and after is None:
        page = list(islice(_matching(f, None, limit + 2), limit + 1))
        more = len(page) > limit
        return page, _totals(order for _, order in page[:limit]) | {"capped": more}
    if capped:
        want_totals = carried is not None  # a later page: the first page's totals, if it had any
    if want_totals and carried is None:
        if after is None:
            return _first_page_with_totals(f, limit)
        _, carried = _first_page_with_totals(f, 0)  # a cursor from a totals=false search
    # limit + 1 rows tell whether there is more; +1 again for the row at the cursor, which the
    # index's inclusive bound yields once more before the rows after it
    page = list(islice(_matching(f, after, limit + 2), limit + 1))
    return page, carried if want_totals else None


@dataclass(frozen=True)
class OrderPage:
    orders: list[Order]
    next_cursor: str | None
    totals: dict[str, Any] | None
    index: str  # the index that served the search
    masked: bool


def search(principal: Principal, command: SearchOrders) -> OrderPage:
    f = command.criteria.to_filter(clock().now())
    limit, cursor = command.limit, command.cursor
    plan = choose_plan(f)
    page, totals = _page_and_totals(
        f,
        cursor.after if cursor else None,
        limit,
        command.want_totals,
        cursor.totals if cursor else None,
        command.capped_totals,
    )
    more = len(page) > limit
    page = page[:limit]
    next_cursor = None
    if more:
        last_item = page[-1][0]
        after = (getattr(last_item, plan.sort_attr) or "", last_item.order_no)
        next_cursor = OrderCursor(after, totals).encode()
    masked = not principal.sees_pii
    audit.record_api(
        clock().now(),
        principal.key_id,
        principal.role,
        "search_orders",
        None,
        {"filters": dict(command.given), "masked": masked},
    )
    return OrderPage([order for _, order in page], next_cursor, totals, plan.index, masked)
