"""The operator's gateway-backed actions (requery, confirm_paid, refund and its approval), the
scheduled questions (requery_pending, expire_orders, query_refunds) and the trade lookup on
in-memory ports:
the gateway answers from a script (tests/support/fakes.ScriptedGateway), so what is asked, what
is applied once, what is left for the next question, the timeline and the audit are asserted
in milliseconds. (The gateways' own wire, over HTTP to the simulator, and the real tables are
proven by tests/integration/test_requery.py, test_refunds.py, test_actions.py, test_lookup.py.)"""

from __future__ import annotations

import pytest

from chalicelib.domain.commands import (
    DecideRefund,
    ListRefunds,
    LookupTrade,
    OrderAction,
    RunJob,
)
from chalicelib.domain.errors import (
    Conflict,
    Forbidden,
    GatewayUnavailable,
    NotFound,
    RefundNotOffered,
)
from chalicelib.domain.lookup import GatewayTrade
from chalicelib.domain.money import Money
from chalicelib.domain.order import EntryType, Outcome, PayStatus
from chalicelib.domain.query import QueryResult, QueryStatus
from chalicelib.domain.refunds import RefundAnswer, RefundPolicy, RefundState, refund_requests
from chalicelib.gateways import epay_api
from chalicelib.platform.job_settings import get_job_settings
from chalicelib.services import actions, ingest, jobs, lookup, orders, refunds, requery
from chalicelib.services.auth import Principal
from tests.support.notifications import epay
from tests.unit.services.support import OPERATOR, ORDER_NO, inbound, registration

TRADE_NO = "2026112522001400001234567890"
ADMIN = Principal(key_id="key_ad1", name="Wang Fang (admin)", role="admin")
DOWN = GatewayUnavailable("epay-main: timed out", {"channel": "epay-main"})


def _paid_answer(order_no: str = ORDER_NO, money: str = "58.00") -> QueryResult:
    """What epay's `act=order` says of a paid order, read as epay_api reads it."""
    item = {"trade_no": TRADE_NO, "out_trade_no": order_no, "money": money, "type": "alipay"}
    return QueryResult(
        QueryStatus.PAID, "TRADE_SUCCESS", epay_api.payment_notice(item, "epay-main")
    )


NOT_PAID = QueryResult(QueryStatus.NOT_PAID, "NOTPAY")


def _act(action: str, key: str | None = None, **fields: str) -> actions.ActionDone:
    body = {"action": action, "reason": "buyer says paid", **fields}
    if key:
        body["idempotency_key"] = key
    return actions.perform(OPERATOR, OrderAction.from_body(ORDER_NO, body))


def _paid(world):
    orders.register(registration())
    wire = epay(ORDER_NO, "58.00", trade_no=TRADE_NO)
    assert ingest.handle_notification("epay-main", inbound(wire)).body == "success"
    return world.orders.get(ORDER_NO)


def _queries(world) -> list:
    return [e for e in world.orders.get(ORDER_NO).timeline if e.type == EntryType.QUERY]


# ------------------------------------------------------------------- requery and confirm_paid


def test_a_requery_that_finds_the_payment_applies_it_and_leaves_the_question_on_the_order(world):
    orders.register(registration())
    world.gateway.queries.append(_paid_answer())
    done = _act("requery", key="rq-1")
    assert done.order.pay_status is PayStatus.PAID and done.outcome is Outcome.APPLIED
    assert world.gateway.calls == [("query_order", ORDER_NO)]
    (asked,) = _queries(world)
    assert (asked.actor, asked.source) == (OPERATOR.key_id, "operator")
    assert asked.data["status"] == "paid" and asked.data["idempotency_key"] == "rq-1"
    assert [(r.action, r.detail["outcome"]) for r in world.audit.api] == [
        ("order_requery", "applied")
    ]


def test_a_replayed_requery_asks_again_and_the_payment_is_applied_once(world):
    orders.register(registration())
    world.gateway.queries += [_paid_answer(), _paid_answer()]
    _act("requery", key="rq-1")
    again = _act("requery", key="rq-1")
    assert len(world.gateway.calls) == 2 and len(again.order.payments) == 1
    assert again.order.paid_amount == Money.parse("58.00", "CNY")
    assert [e.data.get("applied") for e in _queries(world)] == ["applied", "duplicate"]


def test_an_unanswered_requery_is_a_502_on_the_timeline_and_never_read_as_unpaid(world):
    orders.register(registration())
    world.gateway.queries.append(DOWN)
    with pytest.raises(GatewayUnavailable):
        _act("requery")
    order = world.orders.get(ORDER_NO)
    assert order.pay_status is PayStatus.PENDING and order.version == 0
    (asked,) = _queries(world)
    assert asked.data["status"] == requery.UNAVAILABLE and "timed out" in asked.message
    assert world.audit.api == []


def test_confirm_paid_is_refused_when_the_gateway_does_not_say_paid(world):
    orders.register(registration())
    world.gateway.queries.append(NOT_PAID)
    with pytest.raises(Conflict, match="does not confirm"):
        _act("confirm_paid")
    assert world.orders.get(ORDER_NO).pay_status is PayStatus.PENDING
    assert [(r.action, r.detail["outcome"]) for r in world.audit.api] == [
        ("order_confirm_paid", "refused")
    ]


def test_confirm_paid_applies_what_the_gateway_confirms(world):
    orders.register(registration())
    world.gateway.queries.append(_paid_answer())
    done = _act("confirm_paid")
    assert done.order.pay_status is PayStatus.PAID and done.order.trade_no == TRADE_NO
    assert [(r.action, r.detail["outcome"]) for r in world.audit.api] == [
        ("order_confirm_paid", "applied")
    ]


# ------------------------------------------------------------------- the scheduled requery


@pytest.fixture
def one_at_a_time(monkeypatch):
    """The scheduled requery asks one order at a time, so the script answers them in order."""
    monkeypatch.setenv("PAYTRACK_REQUERY_WORKERS", "1")
    get_job_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_job_settings.cache_clear()


def test_requery_pending_asks_the_due_orders_and_backs_off_the_unpaid(world, one_at_a_time):
    orders.register(registration())
    world.clock.advance(seconds=1)
    orders.register(registration(order_no="20261125140000000002"))
    world.clock.advance(minutes=2)
    world.gateway.queries += [_paid_answer(), NOT_PAID]
    summary = requery.requery_pending()
    assert summary["asked"] == 2 and summary["recovered"] == [ORDER_NO]
    assert summary["answers"] == {"paid": 1, "not_paid": 1}
    assert world.orders.get(ORDER_NO).pay_status is PayStatus.PAID
    assert ORDER_NO not in world.pending.next_query_at  # settled: never asked again
    assert world.pending.next_query_at["20261125140000000002"] > world.clock.now()
    assert requery.requery_pending()["asked"] == 0  # nothing due until the backoff says so


def test_a_channel_that_stops_answering_is_left_alone_for_the_rest_of_the_run(world, one_at_a_time):
    for n in range(1, 6):
        orders.register(registration(order_no=f"2026112514000000000{n}"))
    world.clock.advance(minutes=2)
    world.gateway.queries += [DOWN] * requery.OUTAGE_AFTER
    summary = requery.requery_pending()
    assert summary["answers"] == {requery.UNAVAILABLE: 3, requery.SKIPPED: 2}
    assert summary["unanswered_by_channel"] == {"epay-main": 5}
    assert len(world.gateway.calls) == requery.OUTAGE_AFTER
    assert all(o.pay_status is PayStatus.PENDING for o in world.orders.orders.values())


# ------------------------------------------------------------------- refunds


def _refund(key: str = "rf-1", amount: str = "8.00") -> actions.ActionDone:
    return _act("refund", key=key, amount=amount)


def test_a_refund_the_gateway_takes_is_reserved_sent_once_and_settled(world):
    _paid(world)
    world.gateway.refunds.append(RefundAnswer(RefundState.SUCCEEDED, "code=1", "R-1"))
    done = _refund()
    assert done.refund is not None and done.refund.state is RefundState.SUCCEEDED
    assert world.gateway.calls == [("refund", done.refund.refund_request_id)]
    order = world.orders.get(ORDER_NO)
    assert order.pay_status is PayStatus.PARTIALLY_REFUNDED and not order.refund_open
    assert order.refunded_amount == Money.parse("8.00", "CNY")
    assert [r.action for r in world.audit.api] == ["refund_succeeded", "order_refund"]


def test_a_refund_left_without_an_answer_is_asked_about_on_retry_and_sent_once(world):
    _paid(world)
    world.gateway.refunds += [DOWN, RefundAnswer(RefundState.SUCCEEDED, "code=1", "R-1")]
    world.gateway.refund_queries.append(None)  # the gateway never took it
    first = _refund()
    assert first.refund.state is RefundState.PENDING and world.orders.get(ORDER_NO).refund_open
    again = _refund()
    request_id = first.refund.refund_request_id
    assert world.gateway.calls == [
        ("refund", request_id),
        ("query_refund", request_id),
        ("refund", request_id),
    ]
    assert again.outcome is Outcome.ALREADY_APPLIED and again.refund.state is RefundState.SUCCEEDED
    assert len(refund_requests(world.orders.get(ORDER_NO))) == 1


def test_a_channel_that_cannot_refund_is_refused_before_anything_is_written(world):
    paid = _paid(world)
    world.gateway.refundable = False
    with pytest.raises(RefundNotOffered):
        _refund()
    assert world.orders.get(ORDER_NO) == paid and world.gateway.calls == []
    assert [(r.action, r.detail["outcome"], r.detail["why"]) for r in world.audit.api] == [
        ("order_refund", "refused", "refund_not_supported")
    ]


def test_the_scheduled_query_settles_a_pending_refund_once_it_is_a_minute_old(world):
    _paid(world)
    world.gateway.refunds.append(RefundAnswer(RefundState.PENDING, "processing"))
    request_id = _refund().refund.refund_request_id
    assert refunds.query_refunds() == {"job": "query_refunds"}  # too young to ask about
    world.clock.advance(minutes=2)
    world.gateway.refund_queries.append(RefundAnswer(RefundState.SUCCEEDED, "done", "R-1"))
    assert refunds.query_refunds() == {"job": "query_refunds", "succeeded": 1}
    assert world.gateway.calls[-1] == ("query_refund", request_id)
    assert not world.orders.get(ORDER_NO).refund_open
    assert refunds.query_refunds() == {"job": "query_refunds"}


def test_a_large_refund_waits_in_the_queue_for_another_admin_then_is_sent(world, monkeypatch):
    monkeypatch.setattr(refunds, "policy", lambda: RefundPolicy(approval_above="50.00"))
    _paid(world)
    waiting = _refund(amount="58.00").refund
    assert waiting.state is RefundState.AWAITING_APPROVAL and world.gateway.calls == []
    queue = refunds.open_requests(ADMIN, ListRefunds.from_query({}))
    assert [(o.order_no, r.refund_request_id) for o, r in queue.rows] == [
        (ORDER_NO, waiting.refund_request_id)
    ]
    decide = DecideRefund(ORDER_NO, waiting.refund_request_id, True, "checked")
    with pytest.raises(Forbidden):  # the requester is no second person
        refunds.decide(OPERATOR, decide)
    world.gateway.refunds.append(RefundAnswer(RefundState.SUCCEEDED, "code=1", "R-1"))
    assert refunds.decide(ADMIN, decide).state is RefundState.SUCCEEDED
    assert refunds.decide(ADMIN, decide).state is RefundState.SUCCEEDED  # once: no second send
    assert len(world.gateway.calls) == 1
    assert world.orders.get(ORDER_NO).pay_status is PayStatus.REFUNDED
    assert refunds.open_requests(ADMIN, ListRefunds.from_query({})).rows == []


def test_the_approvals_queue_pages_newest_order_first_with_a_cursor(world, monkeypatch):
    monkeypatch.setattr(refunds, "policy", lambda: RefundPolicy(approval_above="1.00"))
    numbers = [f"2026112514000000000{n}" for n in range(1, 4)]
    for n, order_no in enumerate(numbers):
        orders.register(registration(order_no=order_no))
        wire = epay(order_no, "58.00", trade_no=f"{TRADE_NO[:-1]}{n}")
        assert ingest.handle_notification("epay-main", inbound(wire)).body == "success"
        actions.perform(
            OPERATOR,
            OrderAction.from_body(
                order_no,
                {"action": "refund", "reason": "r", "amount": "5.00", "idempotency_key": "k"},
            ),
        )
        world.clock.advance(minutes=1)
    first = refunds.open_requests(ADMIN, ListRefunds.from_query({"limit": "2"}))
    assert [o.order_no for o, _ in first.rows] == numbers[:0:-1] and first.next_cursor
    rest = refunds.open_requests(
        ADMIN, ListRefunds.from_query({"limit": "2", "cursor": first.next_cursor})
    )
    assert [o.order_no for o, _ in rest.rows] == numbers[:1] and rest.next_cursor is None


# ------------------------------------------------------------------- the trade lookup


def test_a_trade_paytrack_knows_is_found_without_asking_a_gateway(world):
    _paid(world)
    found = lookup.lookup(OPERATOR, LookupTrade.from_query({"trade_no": TRADE_NO}))
    assert found.source == "paytrack" and [o.order_no for o in found.orders] == [ORDER_NO]
    assert world.gateway.calls == []
    (record,) = world.audit.api
    assert (record.action, record.target, record.detail["orders"]) == (
        "lookup_trade",
        TRADE_NO,
        [ORDER_NO],
    )


def test_an_unknown_trade_is_asked_of_the_gateway_and_shown_beside_the_order(world):
    orders.register(registration())
    trade = GatewayTrade(
        "epay-main",
        TRADE_NO,
        ORDER_NO,
        QueryStatus.PAID,
        "TRADE_SUCCESS",
        Money.parse("58.00", "CNY"),
        None,
    )
    world.gateway.trades.append(trade)
    found = lookup.lookup(OPERATOR, LookupTrade.from_query({"trade_no": TRADE_NO}))
    assert found.source == "gateway" and [f.trade for f in found.found] == [trade]
    assert found.found[0].order.order_no == ORDER_NO and found.found[0].can_apply
    assert world.gateway.calls == [("find_trade", TRADE_NO)]


def test_a_lookup_no_gateway_answered_is_a_502_never_not_found_and_is_audited(world):
    world.gateway.trades.append(DOWN)
    with pytest.raises(GatewayUnavailable):
        lookup.lookup(OPERATOR, LookupTrade.from_query({"trade_no": TRADE_NO}))
    world.gateway.trades.append(None)
    with pytest.raises(NotFound):
        lookup.lookup(OPERATOR, LookupTrade.from_query({"trade_no": TRADE_NO}))
    assert [r.detail["refused"] for r in world.audit.api] == ["gateway_unavailable", "not_found"]


# ------------------------------------------------------------------- the scheduled expiry


def test_expiry_asks_once_more_then_expires_or_keeps_what_the_gateway_settled(world):
    numbers = [f"2026112514000000000{n}" for n in range(1, 4)]
    for order_no in numbers:
        orders.register(registration(order_no=order_no))
        world.clock.advance(seconds=1)
    world.clock.advance(minutes=16)  # past the 15-minute expiry
    world.gateway.queries += [_paid_answer(numbers[0]), NOT_PAID, DOWN]
    summary = jobs.run_now(OPERATOR, RunJob.from_body("expire_orders", {}, jobs.JOB_PARAMS))
    assert summary == {"job": "expire_orders", "expired": 1, "found_paid": 1, "deferred": 1}
    assert [world.orders.get(no).pay_status for no in numbers] == [
        PayStatus.PAID,
        PayStatus.EXPIRED,
        PayStatus.PENDING,  # its gateway did not answer: it waits out the grace
    ]
    assert world.pending.next_query_at == {numbers[2]: world.clock.now()}
    (record,) = world.audit.api
    assert (record.action, record.target, record.actor) == (
        "run_job",
        "expire_orders",
        OPERATOR.key_id,
    )
    world.clock.advance(minutes=10)  # past expiry plus grace: expired, answer or not
    world.gateway.queries.append(DOWN)
    assert jobs.expire_orders() == {"job": "expire_orders", "expired": 1}
    assert world.orders.get(numbers[2]).pay_status is PayStatus.EXPIRED
    assert len(world.gateway.calls) == 4


def test_a_payment_after_expiry_is_applied_as_a_late_payment_and_held(world):
    orders.register(registration())
    world.clock.advance(minutes=16)
    world.gateway.queries.append(NOT_PAID)
    assert jobs.expire_orders()["expired"] == 1
    wire = epay(ORDER_NO, "58.00", trade_no=TRADE_NO)
    assert ingest.handle_notification("epay-main", inbound(wire)).body == "success"
    order = world.orders.get(ORDER_NO)
    assert order.pay_status is PayStatus.PAID and order.on_hold
    assert jobs.expire_orders() == {"job": "expire_orders", "expired": 0}
