"""The admin page's review flows in a real browser against the local stack: the order search for a
trade number paytrack never heard of falls through to the gateways and the found payment is
applied from the page; a held order's buyer is verified through the shop (the local shop answers
by itself) and released from the page, then delivered. Screens saved beside test_admin_page's."""

from __future__ import annotations

import requests

from tests.e2e.conftest import SHOP_KEY
from tests.e2e.test_admin_page import browser, keys, new_page, shot, sign_in, wait_for  # noqa: F401  (fixtures)
from tests.e2e.test_local_stack import register


def sim_pay(stack, channel: str, order_no: str, amount: str, notify: bool = True) -> dict:
    response = requests.post(
        f"http://127.0.0.1:{stack.sim_port}/sim/pay",
        timeout=30,
        json={"channel": channel, "out_trade_no": order_no, "amount": amount, "notify": notify},
    )
    assert response.status_code == 201, response.text
    return response.json()


def shop_view(stack, order_no: str) -> dict:
    return stack.call("GET", f"/orders/{order_no}", key=SHOP_KEY).json()


def serve_once_as_read_before_the_answer(page, stack, order_no: str) -> None:
    """The page's next read of the order comes back without the buyer's answer, as when the shop
    answers between the page reading the order and reading its verification."""

    def without_the_answer(route):
        order = route.fetch().json()
        order["timeline"] = [e for e in order["timeline"] if e["type"] != "verification_answered"]
        route.fulfill(json=order)

    page.route(f"{stack.api}/admin/orders/{order_no}", without_the_answer, times=1)


def test_a_trade_number_search_falls_through_to_the_gateway_and_applies(stack, browser, keys):
    order_no = register(stack, "epay-main")
    trade = sim_pay(stack, "epay-main", order_no, "58.00", notify=False)
    page = new_page(browser, stack)
    sign_in(page, stack, keys["operator"], "operator")

    page.goto(f"{stack.api}/admin/#/orders?q={trade['trade_no']}")
    page.wait_for_selector("[data-lookup=found][data-channel=epay-main]")
    assert "TRADE_SUCCESS" in page.inner_text("[data-field=gateway-status]")
    assert order_no in page.inner_text("[data-lookup=found]")
    shot(page, "20-lookup-found")
    page.click("[data-action=apply-lookup]")
    wait_for(lambda: shop_view(stack, order_no)["pay_status"] == "paid")
    page.wait_for_selector(f"#lookup a[href='#/orders/{order_no}']")  # now paytrack knows it
    assert not page.problems, page.problems


def test_a_held_order_is_verified_from_the_page_and_delivered(stack, browser, keys):
    order_no = register(stack, "alipay-main")
    sim_pay(stack, "alipay-main", order_no, "5.80")
    wait_for(lambda: shop_view(stack, order_no)["hold"])
    page = new_page(browser, stack)
    sign_in(page, stack, keys["operator"], "operator")

    page.goto(f"{stack.api}/admin/#/orders/{order_no}")
    page.wait_for_selector("#verification [data-action=verification-ask]")
    page.click("#verification [data-action=verification-ask]")
    page.select_option("dialog #verification-template", "last4")
    page.click("dialog [data-action=confirm]")
    page.wait_for_selector("#verification [data-verification-state]")

    def answered():
        page.reload()
        return (
            page.wait_for_selector("#verification [data-verification-state]").get_attribute(
                "data-verification-state"
            )
            == "answered"
        )

    wait_for(answered, timeout=30, every=1)
    assert page.inner_text("[data-field=verification-answer]").isdigit()
    page.wait_for_selector(".tl-item[data-type=verification_answered]")
    serve_once_as_read_before_the_answer(page, stack, order_no)
    page.reload()  # the order read misses the answer the review read sees
    page.wait_for_selector(".tl-item[data-type=verification_answered]")
    assert (
        page.get_attribute("#verification [data-verification-state]", "data-verification-state")
        == "answered"
    )
    shot(page, "21-verification-answered")

    page.click("#verification [data-action=verification-release]")
    page.click("dialog [data-action=confirm]")
    page.wait_for_selector("dialog .text-danger")  # no reason: refused in words, nothing sent
    page.fill("dialog #decision-reason", "付款账户后四位与渠道记录一致（e2e）")
    page.click("dialog [data-action=confirm]")
    page.wait_for_selector("#verification [data-verification-state=released]")
    shot(page, "22-verification-released")
    wait_for(lambda: shop_view(stack, order_no)["delivery_status"] == "delivered")
    assert not page.problems, page.problems
