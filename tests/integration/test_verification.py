"""Buyer verification on moto through the app: an operator asks on a held order, the shop gets
`order.verification_requested` with the question and the reply token, answers once with that
token (a wrong one is 403, a second answer 409), the answer is on the timeline and in the inbox,
and the review ends by release (the shop gets `order.ready` again) or refund (through the
gateway, once, or recorded where the channel cannot refund); an unanswered
request reads as expired once its time is up. Every step audited. The answer is masked for
viewers. SNS refusing while an operator asks is no error: the orders stream publishes later."""

from __future__ import annotations

import botocore.client
import pytest
from botocore.exceptions import ClientError

from chalicelib.domain import verification as review
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import Conflict
from chalicelib.domain.refunds import refund_request_id, refund_requests
from chalicelib.gateways._http import GatewayHttp
from chalicelib.services import auth, gateway_calls, verification
from chalicelib.store import orders as order_store
from chalicelib.store.models import AuditModel
from tests.integration.test_refunds import _at_gateway, deliver, without_refund_api
from tests.integration.test_streams import events_queue, run_orders_stream  # noqa: F401  (a fixture)
from tests.support import notifications as wires
from tests.support.gateway_sim import start_simulator


@pytest.fixture
def keys(api):
    return {
        role: auth.create_key(f"verify {role}", role, "test")[1] for role in ("viewer", "operator")
    }


def held_order(api) -> str:
    order_no = api.json(api.register())["order_no"]
    api.send(wires.alipay(order_no, "5.80"))  # 58.00 asked, 5.80 paid: held
    assert order_store.get(order_no).on_hold
    return order_no


@pytest.fixture
def sim(aws, monkeypatch):
    """The gateway simulator over real HTTP, the stage's channels pointed at it (one try per call)."""
    monkeypatch.setattr(
        gateway_calls, "http", lambda: GatewayHttp(timeout_s=5, attempts=1, backoff_s=0)
    )
    simulator = start_simulator()
    yield simulator
    simulator.close()


def held_at_gateway(api, sim, channel: str):
    """An order of 58.00 paid 5.80 at the simulator (its notification applied): held, refundable there."""
    order_no = api.json(api.register(channel=channel))["order_no"]
    trade = sim.pay(channel, order_no, "5.80", "CNY", notify=False)
    event = sim._send(
        channel,
        "pay",
        order_no,
        trade.trade_no,
        sim._gateways[channel].payment_notice(trade, utcnow(), False),
    )
    assert deliver(api, sim, event).status_code in (200, 204)
    assert order_store.get(order_no).on_hold
    return order_no, trade


def answered_review(api, key, order_no, drain) -> str:
    """Asked and answered (badly): the review waits for the operator's decision."""
    request = api.json(ask(api, key, order_no, question="您在哪个城市付款？"))["current"]
    (event,) = requested_events(drain)
    assert (
        shop_answer(
            api,
            order_no,
            verification_id=request["id"],
            token=event["verification"]["reply_token"],
            answer="不知道",
        ).status_code
        == 200
    )
    return request["id"]


def ask(api, key, order_no, **body):
    return api.call("POST", f"/admin/orders/{order_no}/verification", body, key=key)


def shop_answer(api, order_no, **body):
    return api.call("POST", f"/orders/{order_no}/verification", body)


def decide(api, key, order_no, **body):
    return api.call("POST", f"/admin/orders/{order_no}/verification/decision", body, key=key)


def requested_events(drain) -> list[dict]:
    return [m for m in drain() if m["event"] == "order.verification_requested"]


def inbox(api, key, **params) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api.json(api.call("GET", f"/admin/anomalies?{query}", key=key))["items"]


def audited(order_no: str) -> list[tuple[str, str | None]]:
    items = sorted(
        (i for i in AuditModel.scan() if i.kind == "api" and i.target == order_no),
        key=lambda i: i.sk,
    )
    return [
        (i.action, (i.detail or {}).get("refused"))
        for i in items
        if i.action.startswith("verification")
    ]


def test_a_held_order_is_verified_by_the_shop_then_released_for_delivery(api, keys, events_queue):
    order_no = held_order(api)
    run_orders_stream()
    events_queue()  # order.held: not ours

    asked = ask(api, keys["operator"], order_no, template="last4")
    assert asked.status_code == 201, asked.body
    current = api.json(asked)["current"]
    assert current["state"] == "awaiting_answer" and "后四位" in current["question"]
    (event,) = requested_events(events_queue)
    request = event["verification"]
    assert (
        request["id"] == current["id"]
        and request["question"] == current["question"]
        and request["reply_token"]
    )
    assert (
        event["answer_url"] == "/orders/{order_no}/verification"
        and event["order"]["order_no"] == order_no
    )
    assert request["reply_token"] not in str(
        order_store.get(order_no).timeline
    )  # derived, never kept
    (waiting,) = [a for a in inbox(api, keys["viewer"]) if a["rule"] == "verification"]
    assert waiting["details"]["state"] == "awaiting_answer" and waiting["order_no"] == order_no

    wrong = shop_answer(
        api, order_no, verification_id=request["id"], token="not-the-token", answer="6789"
    )
    assert wrong.status_code == 403 and api.json(wrong)["error"]["code"] == "forbidden"
    right = shop_answer(
        api, order_no, verification_id=request["id"], token=request["reply_token"], answer="6789"
    )
    assert right.status_code == 200 and api.json(right)["state"] == "answered"
    twice = shop_answer(
        api, order_no, verification_id=request["id"], token=request["reply_token"], answer="0000"
    )
    assert twice.status_code == 409 and api.json(twice)["error"]["details"]["state"] == "answered"

    order = order_store.get(order_no)
    assert [e.data["answer"] for e in order.timeline if e.type == "verification_answered"] == [
        "6789"
    ]
    (answered,) = inbox(api, keys["operator"], rule="verification_answered")
    assert answered["details"]["answer"] == "6789" and answered["status"] == "open"
    (for_viewer,) = inbox(api, keys["viewer"], rule="verification_answered")
    assert for_viewer["details"]["answer"] == "****"
    viewer_view = api.json(
        api.call("GET", f"/admin/orders/{order_no}/verification", key=keys["viewer"])
    )
    assert (
        viewer_view["current"]["answer"] == "****" and viewer_view["current"]["state"] == "answered"
    )
    (entry,) = [e for e in viewer_view["order"]["timeline"] if e["type"] == "verification_answered"]
    assert "6789" not in str(entry) and entry["data"]["answer"] == "****"
    operator_view = api.json(
        api.call("GET", f"/admin/orders/{order_no}/verification", key=keys["operator"])
    )
    assert operator_view["current"]["answer"] == "6789"

    released = decide(
        api, keys["operator"], order_no, decision="release", reason="last four digits match"
    )
    assert released.status_code == 200, released.body
    body = api.json(released)
    assert body["current"]["state"] == "released" and body["order"]["hold"] is False
    assert body["action"] == "release_hold" and body["outcome"] == "applied"
    run_orders_stream()
    ready = [m for m in events_queue() if m["event"] == "order.ready"]
    assert [m["order"]["order_no"] for m in ready] == [order_no] and ready[0]["generation"] == 1
    assert {
        a["rule"]: a["status"]
        for a in inbox(api, keys["viewer"])
        if a["order_no"] == order_no and a["rule"].startswith("verification")
    } == {"verification": "resolved", "verification_answered": "resolved"}
    assert audited(order_no) == [
        ("verification_requested", None),
        ("verification_answered", "forbidden"),
        ("verification_answered", None),
        ("verification_answered", "conflict"),
        ("verification_decided", None),
    ]
    again = decide(api, keys["operator"], order_no, decision="refund", reason="changed my mind")
    assert again.status_code == 409 and order_store.get(order_no).pay_status.value == "paid"


def _refusing(operation: str):
    """botocore answering `operation` with a 500, every time (as after all of its retries)."""
    original = botocore.client.BaseClient._make_api_call

    def refusing(client, name, params):
        if name == operation:
            raise ClientError(
                {
                    "Error": {"Code": "InternalError", "Message": "injected"},
                    "ResponseMetadata": {"HTTPStatusCode": 500},
                },
                name,
            )
        return original(client, name, params)

    return refusing


def test_sns_refusing_while_asking_is_no_error_and_the_stream_publishes_the_request(
    api, keys, events_queue, monkeypatch
):
    order_no = held_order(api)
    run_orders_stream()
    events_queue()
    with monkeypatch.context() as sns_down:
        sns_down.setattr(botocore.client.BaseClient, "_make_api_call", _refusing("Publish"))
        asked = ask(api, keys["operator"], order_no, template="last4", idempotency_key="k1")
    assert asked.status_code == 201, asked.body
    vid = api.json(asked)["current"]["id"]
    assert requested_events(events_queue) == []
    (waiting,) = [
        a for a in inbox(api, keys["viewer"], rule="verification") if a["order_no"] == order_no
    ]
    assert waiting["details"]["verification_id"] == vid  # the inbox shows it already

    run_orders_stream()
    run_orders_stream()  # a replay publishes nothing new
    (event,) = requested_events(events_queue)
    assert event["verification"]["id"] == vid
    again = ask(api, keys["operator"], order_no, template="last4", idempotency_key="k1")
    assert again.status_code == 201 and api.json(again)["current"]["id"] == vid
    assert [e.type for e in order_store.get(order_no).timeline].count("verification_requested") == 1
    assert requested_events(events_queue) == []  # published already: claimed
    answered = shop_answer(
        api,
        order_no,
        verification_id=vid,
        token=event["verification"]["reply_token"],
        answer="6789",
    )
    assert answered.status_code == 200, answered.body
    retried = shop_answer(
        api,
        order_no,
        verification_id=vid,
        token=event["verification"]["reply_token"],
        answer="6789",
    )
    assert retried.status_code == 200 and api.json(retried)["state"] == "answered"
    assert [
        a["status"]
        for a in inbox(api, keys["viewer"], rule="verification")
        if a["order_no"] == order_no
    ] == ["resolved"]
    another_question = ask(
        api, keys["operator"], order_no, question="其他问题?", idempotency_key="k1"
    )
    assert (
        another_question.status_code == 409
        and "idempotency key" in api.json(another_question)["error"]["message"]
    )


def test_the_orders_stream_alone_finishes_every_step(api, keys, events_queue, monkeypatch):
    """Each step's follow-ups died right after its order write: the stream publishes the request
    and keeps the inbox in step with the answer and the decision."""
    monkeypatch.setattr(verification, "_eagerly", lambda order, follow_up: order)
    order_no = held_order(api)

    def items() -> dict[str, str]:
        return {
            a["rule"]: a["status"]
            for a in inbox(api, keys["operator"])
            if a["order_no"] == order_no and a["rule"] in ("verification", "verification_answered")
        }

    vid = api.json(ask(api, keys["operator"], order_no, template="last4"))["current"]["id"]
    assert requested_events(events_queue) == [] and items() == {}
    run_orders_stream()
    (event,) = requested_events(events_queue)
    assert items() == {"verification": "open"}
    assert (
        shop_answer(
            api,
            order_no,
            verification_id=vid,
            token=event["verification"]["reply_token"],
            answer="6789",
        ).status_code
        == 200
    )
    assert items() == {"verification": "open"}
    run_orders_stream()
    assert items() == {"verification": "resolved", "verification_answered": "open"}
    assert (
        decide(api, keys["operator"], order_no, decision="release", reason="matches").status_code
        == 200
    )
    run_orders_stream()
    assert items() == {"verification": "resolved", "verification_answered": "resolved"}


def test_a_review_ended_by_refund_refunds_through_the_gateway_once(
    api, keys, sim, events_queue, monkeypatch
):
    order_no, trade = held_at_gateway(api, sim, "alipay-main")
    vid = answered_review(api, keys["operator"], order_no, events_queue)
    real_decide = review.decide

    def crash_once(*args, **kwargs):  # the refund is done, then the review's own write fails
        monkeypatch.setattr(review, "decide", real_decide)
        raise Conflict("injected: the order changed meanwhile")

    monkeypatch.setattr(review, "decide", crash_once)
    failed = decide(
        api, keys["operator"], order_no, decision="refund", reason="the buyer cannot say"
    )
    assert failed.status_code == 409 and trade.refunded_minor == 580

    refunded = decide(
        api, keys["operator"], order_no, decision="refund", reason="the buyer cannot say"
    )
    assert refunded.status_code == 200, refunded.body
    body = api.json(refunded)
    assert (
        body["action"] == "refund"
        and body["outcome"] == "already_applied"
        and "manual_refund" not in body
    )
    assert body["refund"]["state"] == "succeeded" and body["current"]["state"] == "refunded"
    assert body["refund"]["refund_request_id"] == refund_request_id(order_no, f"verification-{vid}")
    assert trade.refunded_minor == 580 and len(_at_gateway(sim, order_no)) == 1
    order = order_store.get(order_no)
    assert (
        order.pay_status.value == "refunded"
        and order.refunded_amount.format() == "5.80"
        and order.on_hold
    )
    assert [r.state.value for r in refund_requests(order)] == ["succeeded"]
    assert [e.type for e in order.timeline].count(review.DECIDED) == 1


def test_a_review_ended_by_refund_records_a_manual_refund_where_the_channel_cannot_refund(
    api, keys, sim, events_queue
):
    order_no, trade = held_at_gateway(api, sim, "epay-main")
    answered_review(api, keys["operator"], order_no, events_queue)
    with without_refund_api("epay-main"):
        refunded = decide(
            api, keys["operator"], order_no, decision="refund", reason="the buyer cannot say"
        )
    assert refunded.status_code == 200, refunded.body
    body = api.json(refunded)
    assert (
        body["action"] == "mark_refunded"
        and "mark_refunded" in body["manual_refund"]
        and "refund" not in body
    )
    assert body["current"]["state"] == "refunded"
    order = order_store.get(order_no)
    assert order.pay_status.value == "refunded" and order.refunded_amount.format() == "5.80"
    assert (
        not refund_requests(order) and not _at_gateway(sim, order_no) and trade.refunded_minor == 0
    )


def test_an_unanswered_request_expires_in_the_inbox_and_refuses_a_late_answer(
    api, keys, events_queue, clock
):
    order_no = held_order(api)
    request = api.json(ask(api, keys["operator"], order_no, template="pay_time"))["current"]
    token = requested_events(events_queue)[0]["verification"]["reply_token"]
    clock.advance(hours=25)  # past the default 24 hours

    (expired,) = [a for a in inbox(api, keys["viewer"]) if a["rule"] == "verification"]
    assert expired["details"]["state"] == "expired" and expired["status"] == "open"
    late = shop_answer(api, order_no, verification_id=request["id"], token=token, answer="昨天")
    assert late.status_code == 409 and api.json(late)["error"]["details"]["state"] == "expired"
    view = api.json(api.call("GET", f"/admin/orders/{order_no}/verification", key=keys["viewer"]))
    assert view["current"]["state"] == "expired"
    released = decide(
        api, keys["operator"], order_no, decision="release", reason="known buyer, no answer needed"
    )
    assert released.status_code == 200 and not order_store.get(order_no).on_hold


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"template": "last4", "question": "both?"}, 400, "validation_failed"),
        ({"template": "nope"}, 400, "validation_failed"),
        ({}, 400, "validation_failed"),
        ({"question": "x", "extra": 1}, 400, "validation_failed"),
        (["last4"], 400, "validation_failed"),
    ],
)
def test_bad_requests_are_refused_and_audited(api, keys, body, status, code):
    order_no = held_order(api)
    response = api.call(
        "POST", f"/admin/orders/{order_no}/verification", body, key=keys["operator"]
    )
    assert response.status_code == status and api.json(response)["error"]["code"] == code
    assert audited(order_no) == [("verification_requested", code)]
    assert not [e for e in order_store.get(order_no).timeline if e.type.startswith("verification")]


def test_only_a_held_order_is_verified_and_an_answer_needs_a_request(api, keys):
    order_no = api.json(api.register())["order_no"]
    api.send(wires.alipay(order_no, "58.00"))
    assert ask(api, keys["operator"], order_no, template="last4").status_code == 409
    no_request = shop_answer(api, order_no, verification_id="ver_0", token="t", answer="a")
    assert no_request.status_code == 404
    assert (
        shop_answer(api, "NOPE-1", verification_id="ver_0", token="t", answer="a").status_code
        == 404
    )
    assert (
        decide(api, keys["operator"], order_no, decision="release", reason="r").status_code == 409
    )
