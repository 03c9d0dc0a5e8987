"""The order search's derived keys (store/search_keys.py) and the e-mail filter they serve
(domain/order_filter.py): what each key holds, and that every order a prefix or domain search
matches is in the index partition and key range the planner reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.money import Money
from chalicelib.domain.order import Order
from chalicelib.domain.order_filter import OrderFilter
from chalicelib.store.search_keys import HEAD, SEP, amount_at, amount_keys, email_keys

AT = "2026-11-25T08:00:00.000000Z"
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def test_amount_keys_sort_by_price_then_time():
    keys = amount_keys("alipay-main", "paid", 5800, AT)
    assert keys == {
        "amount_band": "5000",
        "amount_at": f"000000000005800{SEP}{AT}",
        "channel_band": "alipay-main#5000",
        "channel_status": "alipay-main#paid",
        "status_band": "paid#5000",
    }
    # every time of a lower price sorts below every time of a higher one
    assert amount_at(5799, "9999") < amount_at(5800, "0000") < amount_at(58000, "0000")


@pytest.mark.parametrize(
    "email,keys",
    [
        ("ZhangWei88@163.com", {"email_head": "zha", "email_domain": "163.com"}),
        ("ab@qq.com", {"email_head": "ab", "email_domain": "qq.com"}),
        ("no-at-sign", {"email_head": "no-"}),
        (None, {}),
    ],
    ids=["mixed case", "short local part", "no domain", "none"],
)
def test_email_keys(email, keys):
    found = email_keys(email, AT)
    assert {k: v for k, v in found.items() if k != "email_at"} == keys
    if email:
        assert found["email_at"] == f"{email.casefold()}{SEP}{AT}"


def _order(email: str) -> Order:
    created = NOW - timedelta(hours=1)
    return Order(
        order_no="O1",
        amount=Money(5800),
        channel="alipay-main",
        product_id="p1",
        product_name="VIP",
        quantity=1,
        created_at=created,
        expires_at=created + timedelta(minutes=15),
        buyer_email=email,
    )


@pytest.mark.parametrize(
    "needle,matches",
    [
        ("@163.COM", True),
        ("@163", False),  # a whole domain, not a part of one
        ("zhangwei", True),
        ("ZHANGWEI88@", True),
        ("zhangwei88@16", True),
        ("wei88", False),  # inside the address: not its beginning
        ("zhangwei88@163.com", True),
        ("zhangwei88@126.com", False),
    ],
)
def test_email_filter_is_a_beginning_a_domain_or_the_address(needle, matches):
    f = OrderFilter(created_from=NOW - timedelta(days=1), created_to=NOW, email=needle)
    order = _order("ZhangWei88@163.com")
    assert f.matches(order, flagged=False) is matches
    keys = email_keys(order.buyer_email, AT)
    if matches and not f.exact_email and f.email_domain is None:
        # the prefix plan reads the needle's head partition, sort keys from the needle up
        local = needle.casefold().partition("@")[0]
        assert len(local) >= HEAD and keys["email_head"] == local[:HEAD]
        assert keys["email_at"].startswith(needle.casefold())
    if matches and f.email_domain is not None:
        assert keys["email_domain"] == f.email_domain
