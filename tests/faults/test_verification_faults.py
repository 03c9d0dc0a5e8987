"""Crash at every step of buyer verification: the Nth AWS call fails while an operator asks (then
the operator sends the same request, same idempotency key, until it is answered 201), while the
orders stream handles a request whose asking process died right after its order write (then
Lambda redelivers), or while the shop answers (then the shop sends its answer again). Whatever
failed: one request on the order, `order.verification_requested` at the shop at least once under
one event_id and one reply token, which the answer endpoint takes; the inbox shows the request
once, then its answer once."""

from __future__ import annotations

import app
from chalicelib.services import verification
from chalicelib.store import orders as order_store
from chalicelib.store.models import AnomalyModel
from tests.faults.invariants import assert_no_anomaly_twice, register
from tests.integration.conftest import ADMIN_KEY
from tests.support import notifications as wires
from tests.support.faults import assert_announced, sweep

ASK = {"template": "last4", "idempotency_key": "ask-1"}
EVENT = "order.verification_requested"


def held_order(world) -> str:
    order_no, _ = register(world)
    assert world.api.send(wires.alipay(order_no, "5.80")).body == b"success"  # underpaid: held
    world.streams.settle()
    assert order_store.get(order_no).on_hold
    return order_no


def ask(world, order_no: str):
    return world.api.call("POST", f"/admin/orders/{order_no}/verification", ASK, key=ADMIN_KEY)


def answer(world, order_no: str, request: dict):
    return world.api.call(
        "POST",
        f"/orders/{order_no}/verification",
        {"verification_id": request["id"], "token": request["reply_token"], "answer": "6789"},
    )


def until_answered(send, expected: int, attempts: int = 4) -> None:
    for _ in range(attempts):
        if send().status_code == expected:
            return
    raise AssertionError(f"never answered {expected} after {attempts} retries")


def verification_items(order_no: str) -> dict[str, list[str]]:
    """The order's verification anomalies: rule -> their statuses."""
    found: dict[str, list[str]] = {}
    for item in AnomalyModel.by_order.query(order_no):
        if item.rule.startswith("verification"):
            found.setdefault(item.rule, []).append(item.status)
    return found


def requests_on(order_no: str) -> list[str]:
    return [
        e.data["verification_id"]
        for e in order_store.get(order_no).timeline
        if e.type == "verification_requested"
    ]


def assert_asked_once(world, order_no: str) -> dict:
    """One request, published (every copy: one event_id, one token), in the inbox once.
    Returns the request as the shop received it."""
    (vid,) = requests_on(order_no)
    messages = world.inbox.of(order_no)
    assert_announced(messages, EVENT)
    copies = [m["verification"] for m in messages if m["event"] == EVENT]
    assert {(c["id"], c["reply_token"]) for c in copies} == {(vid, copies[0]["reply_token"])}, (
        copies
    )
    assert verification_items(order_no) == {"verification": ["open"]}
    assert_no_anomaly_twice(order_store.get(order_no))
    return copies[0]


def assert_answered_once(world, order_no: str) -> None:
    order = order_store.get(order_no)
    assert [e.type for e in order.timeline].count("verification_answered") == 1
    assert verification_items(order_no) == {
        "verification": ["resolved"],
        "verification_answered": ["open"],
    }
    assert_no_anomaly_twice(order)


def test_an_ask_reaches_the_shop_once_whatever_call_fails(world):
    order_no = held_order(world)

    def case(arm):
        with arm():
            ask(world, order_no)
        world.streams.settle()
        until_answered(lambda: ask(world, order_no), 201)
        world.streams.settle()
        request = assert_asked_once(world, order_no)
        assert answer(world, order_no, request).status_code == 200
        world.streams.settle()
        assert_answered_once(world, order_no)

    sweep("verification ask", world.injector, case, fresh=world.checkpoint()).assert_held()


def test_the_stream_publishes_a_request_whose_process_died_after_the_write(world, monkeypatch):
    """The request's follow-ups never ran (the Lambda died right after the order write): the
    orders stream publishes and fills the inbox, whatever call of its first delivery fails."""
    monkeypatch.setattr(verification, "_eagerly", lambda order, follow_up: order)
    order_no = held_order(world)
    assert ask(world, order_no).status_code == 201
    assert EVENT not in [m["event"] for m in world.inbox.of(order_no)]

    def case(arm):
        world.streams.settle(arm, app.on_orders_stream)
        world.streams.settle()
        request = assert_asked_once(world, order_no)
        assert answer(world, order_no, request).status_code == 200
        world.streams.settle()
        assert_answered_once(world, order_no)

    sweep(
        "verification via the orders stream", world.injector, case, fresh=world.checkpoint()
    ).assert_held()


def test_an_answer_is_taken_once_whatever_call_fails(world):
    order_no = held_order(world)
    assert ask(world, order_no).status_code == 201
    world.streams.settle()
    request = assert_asked_once(world, order_no)

    def case(arm):
        with arm():
            answer(world, order_no, request)
        world.streams.settle()
        until_answered(lambda: answer(world, order_no, request), 200)
        world.streams.settle()
        assert_answered_once(world, order_no)

    sweep("verification answer", world.injector, case, fresh=world.checkpoint()).assert_held()
