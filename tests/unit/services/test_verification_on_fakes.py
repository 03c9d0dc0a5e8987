"""Buyer verification on in-memory ports (services/verification.py): the operator asks, the shop
answers with the reply token, the operator releases or refunds through the gateway; each step
on the timeline, in the inbox (the anomalies port), to the shop (the events topic) and in the
audit, once under a retry and completed by the orders stream when the eager part failed.
(The real tables, topic and HTTP edge: tests/integration/test_verification.py.)"""

from __future__ import annotations

import pytest

from chalicelib.domain.anomaly import AnomalyStatus
from chalicelib.domain.commands import (
    AnswerVerification,
    AskVerification,
    DecideVerification,
    OrderAction,
)
from chalicelib.domain.errors import Forbidden
from chalicelib.domain.order import PayStatus
from chalicelib.domain.refunds import RefundAnswer, RefundState
from chalicelib.domain.rules.change import OrderChange, PriorState
from chalicelib.platform.verification_settings import get_verification_settings
from chalicelib.services import actions, ingest, orders, verification
from chalicelib.services.auth import Principal
from tests.support.notifications import epay
from tests.unit.services.support import OPERATOR, ORDER_NO, inbound, registration

SHOP = Principal(key_id="key_shop", name="the shop", role="shop")
QUESTION = "What is the last four digits of the card you paid with?"


@pytest.fixture
def held(world):
    """A paid order an operator holds, so it can be reviewed."""
    orders.register(registration())
    assert ingest.handle_notification("epay-main", inbound(epay(ORDER_NO, "58.00"))).body == (
        "success"
    )
    actions.perform(OPERATOR, OrderAction(ORDER_NO, "hold", "chargeback risk"))
    return world.orders.get(ORDER_NO)


def _ask(key: str | None = "ask-1") -> verification.Review:
    body = {"question": QUESTION, **({"idempotency_key": key} if key else {})}
    templates = get_verification_settings().templates
    return verification.ask(OPERATOR, AskVerification.from_body(ORDER_NO, body, templates))


def _answer(world, verification_id: str, token: str | None = None) -> verification.Answered:
    (sent,) = [
        s for s in world.shop_events.sent if s.message["event"] == "order.verification_requested"
    ]
    body = {
        "verification_id": verification_id,
        "token": token or sent.message["verification"]["reply_token"],
        "answer": "4242",
    }
    return verification.answer(SHOP, AnswerVerification.from_body(ORDER_NO, body))


def _inbox(world) -> list[tuple[str, AnomalyStatus]]:
    return sorted((a.rule, a.status) for a in world.anomalies.anomalies.values())


def test_a_request_is_on_the_timeline_in_the_inbox_and_sent_to_the_shop_once(world, held):
    asked = _ask()
    (current,) = asked.history
    assert current.question == QUESTION and asked.order == world.orders.get(ORDER_NO)
    assert _inbox(world) == [("verification", AnomalyStatus.OPEN)]
    (sent,) = world.shop_events.sent
    assert sent.message["verification"]["id"] == current.verification_id
    assert sent.message["verification"]["reply_token"]
    again = _ask()  # the same key: the same request, nothing new
    assert [v.verification_id for v in again.history] == [current.verification_id]
    assert len(world.shop_events.sent) == 1 and len(world.anomalies.anomalies) == 1
    assert [r.action for r in world.audit.api][-2:] == ["verification_requested"] * 2


def test_the_buyers_answer_closes_the_request_and_opens_one_for_the_operator(world, held):
    vid = _ask().history[0].verification_id
    with pytest.raises(Forbidden):
        _answer(world, vid, token="not-the-token")
    answered = _answer(world, vid)
    assert answered.verification_id == vid and answered.state is not None
    assert _inbox(world) == [
        ("verification", AnomalyStatus.RESOLVED),
        ("verification_answered", AnomalyStatus.OPEN),
    ]
    refused, taken = [r for r in world.audit.api if r.action == "verification_answered"]
    assert refused.detail["refused"] == "forbidden" and "refused" not in taken.detail


def test_a_refund_decision_refunds_through_the_gateway_and_closes_the_review(world, held):
    vid = _ask().history[0].verification_id
    _answer(world, vid)
    world.gateway.refunds.append(RefundAnswer(RefundState.SUCCEEDED, "code=1", "R-1"))
    body = {"decision": "refund", "reason": "the buyer could not say"}
    decided = verification.decide(OPERATOR, DecideVerification.from_body(ORDER_NO, body))
    assert decided.acted.action == "refund" and decided.manual_refund is None
    assert decided.acted.refund.state is RefundState.SUCCEEDED
    assert [name for name, _ in world.gateway.calls] == ["refund"]
    assert world.orders.get(ORDER_NO).pay_status is PayStatus.REFUNDED
    assert {status for _, status in _inbox(world)} == {AnomalyStatus.RESOLVED}


def test_a_channel_without_refunds_gets_the_manual_record_and_says_why(world, held):
    vid = _ask().history[0].verification_id
    _answer(world, vid)
    world.gateway.refundable = False
    body = {"decision": "refund", "reason": "the buyer could not say"}
    decided = verification.decide(OPERATOR, DecideVerification.from_body(ORDER_NO, body))
    assert decided.acted.action == "mark_refunded" and "mark_refunded" in decided.manual_refund
    assert world.gateway.calls == []
    assert world.orders.get(ORDER_NO).pay_status is PayStatus.REFUNDED


def test_a_request_whose_publish_failed_is_published_by_the_orders_stream(world, held):
    world.shop_events.failures = 1
    asked = _ask()
    assert world.shop_events.sent == [] and _inbox(world) == [("verification", AnomalyStatus.OPEN)]
    before = world.orders.get(ORDER_NO)
    change = OrderChange(PriorState.of(held), before)
    verification.on_order_change(change, world.clock.now())
    (sent,) = world.shop_events.sent
    assert sent.message["verification"]["id"] == asked.history[0].verification_id
    verification.on_order_change(change, world.clock.now())  # a redelivered record: quiet
    assert len(world.shop_events.sent) == 1 and len(world.anomalies.anomalies) == 1
