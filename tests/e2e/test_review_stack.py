"""The operator's two review flows on the local stack, over real HTTP: a buyer's trade number
paytrack never heard of (the simulator never notified it) is found at the stack's gateway
simulator and applied with confirm_paid; a held order is verified by the local shop (which
answers order.verification_requested by itself, local/demo_shop.py), released, and delivered,
or refunded through the simulated gateway."""

from __future__ import annotations

import requests

from tests.e2e.conftest import ADMIN_KEY
from tests.e2e.test_local_stack import register, wait_for

#: stream pump → SNS → the local shop → its answer or delivery: seconds on an idle machine, more on a
#: busy CI machine, whose slowness must not read as a lost step
PIPELINE_S = 90


def sim(stack, path: str, body: dict) -> dict:
    response = requests.post(f"http://127.0.0.1:{stack.sim_port}/sim/{path}", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def admin(stack, method: str, path: str, **kwargs) -> requests.Response:
    return stack.call(method, path, key=ADMIN_KEY, **kwargs)


def test_a_trade_number_paytrack_never_heard_of_is_found_at_the_gateway_and_applied(stack):
    order_no = register(stack, "wxpay-main")
    trade = sim(
        stack,
        "pay",
        {"channel": "wxpay-main", "out_trade_no": order_no, "amount": "58.00", "notify": False},
    )
    assert trade["notified"] is False

    found = admin(stack, "GET", f"/admin/lookup?trade_no={trade['trade_no']}")

    assert found.status_code == 200, found.text
    (result,) = found.json()["found"]
    assert result["gateway"]["channel"] == "wxpay-main" and result["gateway"]["status"] == "paid"
    assert (
        result["gateway"]["out_trade_no"] == order_no and result["order"]["pay_status"] == "pending"
    )
    assert result["can_apply"] is True
    applied = admin(
        stack,
        "POST",
        f"/admin/orders/{order_no}/actions",
        json={"action": "confirm_paid", "reason": f"buyer's receipt {trade['trade_no']}"},
    )
    assert applied.status_code == 200, applied.text
    assert stack.call("GET", f"/orders/{order_no}").json()["pay_status"] == "paid"
    unknown = admin(stack, "GET", "/admin/lookup?trade_no=4200000000000000000000000001")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def answered_by_the_shop(stack) -> tuple[str, dict]:
    """A held order (paid 5.80 of 58.00 at the simulator) whose verification the local shop answered."""
    order_no = register(stack, "alipay-main")
    sim(
        stack, "pay", {"channel": "alipay-main", "out_trade_no": order_no, "amount": "5.80"}
    )  # held: amount
    wait_for(lambda: stack.call("GET", f"/orders/{order_no}").json()["hold"])

    asked = admin(
        stack, "POST", f"/admin/orders/{order_no}/verification", json={"template": "last4"}
    )
    assert asked.status_code == 201, asked.text

    def review():
        return admin(stack, "GET", f"/admin/orders/{order_no}/verification").json()["current"]

    return order_no, wait_for(
        lambda: (lambda current: current if current["state"] == "answered" else None)(review()),
        timeout=PIPELINE_S,
    )


def test_a_held_order_goes_through_verification_to_delivery(stack):
    order_no, answered = answered_by_the_shop(stack)
    assert len(answered["answer"]) == 4 and answered["answer"].isdigit()  # the shop asked its buyer

    released = admin(
        stack,
        "POST",
        f"/admin/orders/{order_no}/verification/decision",
        json={"decision": "release", "reason": "last four digits match the payer"},
    )
    assert released.status_code == 200, released.text
    delivered = wait_for(
        lambda: (lambda order: order if order["delivery_status"] == "delivered" else None)(
            stack.call("GET", f"/orders/{order_no}").json()
        ),
        timeout=PIPELINE_S,
    )
    assert delivered["hold"] is False and delivered["pay_status"] == "paid"


def test_a_held_order_goes_through_verification_to_a_refund_at_the_gateway(stack):
    order_no, _ = answered_by_the_shop(stack)
    refunded = admin(
        stack,
        "POST",
        f"/admin/orders/{order_no}/verification/decision",
        json={"decision": "refund", "reason": "the last four digits do not match"},
    )
    assert refunded.status_code == 200, refunded.text
    body = refunded.json()
    assert body["action"] == "refund" and body["current"]["state"] == "refunded"
    assert body["refund"]["amount"] == "5.80" and body["refund"]["state"] == "succeeded"
    order = stack.call("GET", f"/orders/{order_no}").json()
    assert order["pay_status"] == "refunded" and order["delivery_status"] != "delivered"
