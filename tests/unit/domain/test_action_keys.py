"""Idempotency keys of operator actions, as a model-based property: whatever sequence of actions,
bodies and keys operators send, a key serves exactly one request per order — the same request
again is a replay that changes nothing, any other request with the key is refused and changes
nothing — and a request whose key is new behaves exactly as it would without a key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import actions as decide
from chalicelib.domain.errors import Conflict
from chalicelib.domain.money import Money
from chalicelib.domain.order import Order, Outcome, PayStatus

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def paid_order() -> Order:
    return Order(
        order_no="20261125140000123456",
        amount=Money(5800),
        channel="alipay-main",
        product_id="p1",
        product_name="VIP会员 月卡",
        quantity=1,
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=15),
        pay_status=PayStatus.PAID,
        paid_at=NOW,
        paid_amount=Money(5800),
    )


requests = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["note", "hold", "release_hold", "mark_refunded"]),
        "reason": st.sampled_from(["买家要求", "checked"]),
    },
    optional={
        "amount": st.sampled_from(["1.00", "20.00", "58.00"]),
        "idempotency_key": st.sampled_from(["k1", "k2"]),
    },
)


def decision(body: dict) -> decide.Decision:
    action, reason = body["action"], body["reason"]
    if action == "note":
        return lambda o: decide.note(o, NOW, "op", reason)
    if action == "hold":
        return lambda o: decide.operator_hold(o, NOW, "op", reason)
    if action == "release_hold":
        return lambda o: decide.operator_release(o, NOW, "op", reason)
    amount = Money.parse(body["amount"], "CNY") if "amount" in body else None
    return lambda o: decide.mark_refunded(o, amount, NOW, "op", reason)


def attempt(order: Order, decide_on) -> tuple[Order, str]:
    """The order after the decision and what happened: an outcome or the error's code."""
    try:
        changes = decide_on(order)
    except Conflict as error:
        return order, error.code
    return (changes.apply_to(order) if changes.writes else order), changes.outcome


@settings(max_examples=300, deadline=None)
@given(st.lists(requests, min_size=1, max_size=8))
def test_a_key_serves_one_request_per_order(bodies):
    order, bound = paid_order(), {}
    for body in bodies:
        key = body.get("idempotency_key")
        after, outcome = attempt(
            order, decide.keyed(decision(body), decide.Idempotency.of(key, body))
        )
        if key in bound:
            assert (outcome, after) == (
                ("already_applied", order) if bound[key] == body else ("conflict", order)
            )
        else:
            plain_after, plain_outcome = attempt(order, decision(body))
            assert outcome == plain_outcome
            assert [(e.type, e.message) for e in after.timeline] == [
                (e.type, e.message) for e in plain_after.timeline
            ]
            assert (after.pay_status, after.refunded_amount, after.on_hold) == (
                plain_after.pay_status,
                plain_after.refunded_amount,
                plain_after.on_hold,
            )
            if key is not None and outcome == Outcome.APPLIED:
                bound[key] = body
        order = after


def test_the_digest_ignores_field_order_but_not_values():
    one = decide.Idempotency.of("k", {"action": "note", "reason": "a", "idempotency_key": "k"})
    same = decide.Idempotency.of("k", {"reason": "a", "action": "note"})
    other = decide.Idempotency.of("k", {"action": "note", "reason": "b"})
    assert one == same and one.request != other.request
    assert decide.Idempotency.of(None, {"action": "note"}) is None
