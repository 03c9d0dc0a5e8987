"""Buyer verification as decisions on the order's timeline: asked only on a held order, answered
once with the request's own token before it expires, superseded by a new question, ended once by
release or refund; expiry computed on read. Tokens are derived (HMAC of the order and the
request under the server's secret); a request written with a random token's digest still takes it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import verification as review
from chalicelib.domain.errors import Conflict, Forbidden, NotFound, TransitionRefused
from chalicelib.domain.money import Money
from chalicelib.domain.order import DeliveryStatus, Order, Outcome, PayStatus

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
TTL = timedelta(hours=2)
SECRET = b"k" * 48


def held_order() -> Order:
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
        delivery_status=DeliveryStatus.HELD,
        hold_reasons=["ip_burst"],
    )


def token(vid: str = "ver_1") -> str:
    return review.reply_token(SECRET, held_order().order_no, vid)


def answer(
    order: Order,
    at: datetime = NOW,
    *,
    verification_id: str = "ver_1",
    token: str,
    text: str = "6789",
):
    return review.answer(
        order,
        at,
        verification_id=verification_id,
        token=token,
        derived_token=review.reply_token(SECRET, order.order_no, verification_id),
        text=text,
    )


def asked(order: Order, vid: str = "ver_1", at: datetime = NOW, question: str = "后四位?") -> Order:
    changes = review.request(
        order, at, "op", verification_id=vid, question=question, template="last4", ttl=TTL
    )
    return changes.apply_to(order)


def answered(order: Order, vid: str = "ver_1", at: datetime = NOW) -> Order:
    return answer(order, at, verification_id=vid, token=token(vid)).apply_to(order)


def test_a_request_keeps_no_token_and_reads_back_awaiting():
    order = asked(held_order())
    entry = order.timeline[-1]
    assert entry.type == review.REQUESTED and entry.actor == "op"
    assert token() not in repr(entry.data) and "token_sha256" not in entry.data
    current = review.current(order, NOW)
    assert (current.state, current.question, current.expires_at) == (
        review.State.AWAITING_ANSWER,
        "后四位?",
        NOW + TTL,
    )


def test_the_token_is_the_same_every_time_and_differs_per_request_order_and_secret():
    assert token("ver_1") == review.reply_token(SECRET, held_order().order_no, "ver_1")
    assert (
        len(
            {
                token("ver_1"),
                token("ver_2"),
                review.reply_token(SECRET, "other", "ver_1"),
                review.reply_token(b"j" * 48, held_order().order_no, "ver_1"),
            }
        )
        == 4
    )
    assert len(token()) == 43 and token().replace("-", "").replace("_", "").isalnum()


def test_a_request_of_the_previous_version_takes_its_random_tokens_digest_only():
    order = asked(held_order())
    entry = order.timeline[-1]
    old_form = replace(
        order,
        timeline=[
            *order.timeline[:-1],
            replace(
                entry, data={**entry.data, "token_sha256": review.token_digest("random-old-token")}
            ),
        ],
    )
    with pytest.raises(Forbidden):
        answer(old_form, token=token())
    assert answer(old_form, token="random-old-token").timeline[0].data["answer"] == "6789"


def test_asking_again_under_the_same_id_changes_nothing_unless_the_question_differs():
    order = asked(held_order())
    again = review.request(
        order, NOW, "op", verification_id="ver_1", question="后四位?", template="last4", ttl=TTL
    )
    assert again.outcome == Outcome.ALREADY_APPLIED and not again.writes
    with pytest.raises(Conflict, match="idempotency key"):
        asked(order, question="another?")


def test_only_a_held_order_is_verified():
    released = replace(held_order(), delivery_status=DeliveryStatus.PENDING, hold_reasons=[])
    with pytest.raises(TransitionRefused, match="held order"):
        asked(released)


def test_the_answer_needs_the_requests_own_token_and_is_taken_once():
    order = asked(held_order())
    with pytest.raises(Forbidden):
        answer(order, token=token("ver_2"))
    with pytest.raises(NotFound):
        answer(order, verification_id="ver_x", token=token())
    order = answered(order)
    current = review.current(order, NOW)
    assert (current.state, current.answer) == (review.State.ANSWERED, "6789")
    with pytest.raises(Conflict) as twice:
        answer(order, token=token(), text="0000")
    assert twice.value.details["state"] == "answered"
    assert answer(order, token=token()).outcome == Outcome.ALREADY_APPLIED  # the shop's retry


def test_expiry_is_computed_on_read_and_refuses_a_late_answer():
    order = asked(held_order())
    assert (
        review.current(order, NOW + TTL - timedelta(seconds=1)).state
        is review.State.AWAITING_ANSWER
    )
    assert review.current(order, NOW + TTL).state is review.State.EXPIRED
    with pytest.raises(Conflict) as late:
        answer(order, NOW + TTL, token=token())
    assert late.value.details["state"] == "expired"


def test_a_new_question_supersedes_an_unanswered_one_but_not_an_answered_one():
    order = asked(asked(held_order()), vid="ver_2")
    assert order.timeline[-1].data["supersedes"] == "ver_1"
    with pytest.raises(Conflict) as stale:
        answer(order, token=token())
    assert stale.value.details["state"] == "superseded"
    order = answered(order, vid="ver_2")
    with pytest.raises(Conflict, match="release or refund first"):
        asked(order, vid="ver_3")


def test_the_review_ends_once_by_release_or_refund():
    order = answered(asked(held_order()))
    with pytest.raises(Conflict):
        review.decide(order, NOW, "op", verification_id="ver_0", decision="release", reason="r")
    order = review.decide(
        order, NOW, "op", verification_id="ver_1", decision="refund", reason="no match"
    ).apply_to(order)
    done = review.current(order, NOW)
    assert (done.state, done.reason, done.decided_by) == (review.State.REFUNDED, "no match", "op")
    assert (
        review.decide(
            order, NOW, "op", verification_id="ver_1", decision="refund", reason="again"
        ).outcome
        == Outcome.ALREADY_APPLIED
    )
    with pytest.raises(TransitionRefused):
        review.open_review(order, NOW)


def test_the_view_reads_the_whole_review():
    order = answered(asked(held_order()))
    order = review.decide(
        order, NOW, "op", verification_id="ver_1", decision="release", reason="ok"
    ).apply_to(order)
    view = review.current(order, NOW).view(masked=False)
    assert (
        view["state"],
        view["answer"],
        view["decision"],
        view["reason"],
        view["expires_at"],
    ) == ("released", "6789", "release", "ok", "2026-11-25T08:00:00Z")
    assert review.current(order, NOW).view(masked=True)["answer"] == "****"


@pytest.mark.parametrize(
    "status, state, at, shown",
    [
        ("open", "awaiting_answer", NOW + TTL, "expired"),
        ("open", "awaiting_answer", NOW, "awaiting_answer"),
        ("resolved", "awaiting_answer", NOW + TTL, "awaiting_answer"),
    ],
)
def test_inbox_items_read_as_expired_past_their_time(status, state, at, shown):
    item = {
        "rule": "verification",
        "status": status,
        "details": {"state": state, "expires_at": "2026-11-25T08:00:00.000000Z"},
    }
    assert review.mark_expired(item, at)["details"]["state"] == shown
