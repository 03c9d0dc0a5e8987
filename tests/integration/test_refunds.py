"""Refunds through the gateway under moto, against the simulator's refund APIs over real HTTP:
exactly once under retries and timeouts, never beyond what was paid when operators race, per
payment (a duplicate refunded on its own trade number), pending until the answer, the query or
the notification says (or an admin, by hand, where the gateway never will), maker-checker with its
audit trail, and order.refunded published once."""

from __future__ import annotations

import json
import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta

import boto3
import pytest
import requests
from moto.core.botocore_stubber import BotocoreStubber

from chalicelib.domain.clock import utcnow
from chalicelib.domain.commands import OrderAction
from chalicelib.domain.refunds import RefundPolicy, find_request, refund_requests
from chalicelib.gateways._http import GatewayHttp
from chalicelib.platform.aws import client
from chalicelib.platform.settings import get_settings
from chalicelib.services import auth, channels, gateway_calls, refunds
from chalicelib.services.actions import perform
from chalicelib.services.auth import Principal
from chalicelib.store import orders as order_store
from chalicelib.store.models import AuditModel, OrderModel
from tests.integration.conftest import ADMIN_KEY, Api, chalice_client, provisioned_aws
from tests.integration.test_streams import stream_event
from tests.support.gateway_sim import start_simulator


class TimeoutAfterSending(requests.Session):
    """Delivers the request, then loses the answer (a read timeout) for the first `n` calls whose
    URL contains `marker`: the gateway did the work, paytrack never heard."""

    def __init__(self, marker: str, n: int):
        super().__init__()
        self.marker, self.left = marker, n

    def request(self, method, url, *args, **kwargs):
        response = super().request(method, url, *args, **kwargs)
        if self.marker in url + str(kwargs.get("data", "")) and self.left > 0:
            self.left -= 1
            raise requests.ReadTimeout("read timed out")
        return response


@pytest.fixture(scope="module")
def stage():
    """One provisioned moto, simulator and app for the module: every test uses its own orders."""
    with provisioned_aws():
        simulator = start_simulator()
        try:
            with chalice_client() as client:
                yield Api(client), simulator
        finally:
            simulator.close()


@pytest.fixture
def api(stage):
    return stage[0]


@pytest.fixture
def sim(stage, monkeypatch):
    monkeypatch.setattr(
        gateway_calls, "http", lambda: GatewayHttp(timeout_s=5, attempts=1, backoff_s=0)
    )
    monkeypatch.setattr(refunds, "policy", lambda: RefundPolicy(approval_above="500.00"))
    return stage[1]


@pytest.fixture
def operator():
    return auth.create_key("op", "operator", "test")


@pytest.fixture
def second_admin():
    return auth.create_key("admin2", "admin", "test")


def deliver(api, sim, event):
    call = sim.signed_request(event, f"/notify/{event.channel}")
    return api.client.http.request(
        call.method, call.url, headers=call.headers, body=call.body or b""
    )


def paid_order(
    api, sim, channel="alipay-main", amount="58.00", currency="CNY", twice=False
) -> tuple[str, list]:
    """A registered order paid at the simulator (the payment applied through its notification);
    `twice`: paid a second time (a duplicate payment, held)."""
    order_no = api.json(api.register(channel=channel, amount=amount, currency=currency))["order_no"]
    trades = []
    for _ in range(2 if twice else 1):
        trade = sim.pay(channel, order_no, amount, currency, notify=False)
        event = sim._send(
            channel,
            "pay",
            order_no,
            trade.trade_no,
            sim._gateways[channel].payment_notice(trade, utcnow(), False),
        )
        assert deliver(api, sim, event).status_code in (200, 204)
        trades.append(trade)
    return order_no, trades


def refund(api, key, order_no, **body):
    body = {"action": "refund", "reason": "buyer asked", **body}
    return api.call("POST", f"/admin/orders/{order_no}/actions", body, key=key)


def refund_events(sim, order_no):
    return [e for e in sim.events() if e.action == "refund" and e.out_trade_no == order_no]


def _at_gateway(sim, order_no):
    """The refund requests the simulated gateways took for the order."""
    return [r for r in sim.refunds.requests() if r.trade.out_trade_no == order_no]


def api_audit(order_no, action=None):
    return [
        i
        for i in AuditModel.scan()
        if i.kind == "api" and i.target == order_no and (action is None or i.action == action)
    ]


# ---------------------------------------------------------------- full, partial, per payment


def test_alipay_partials_up_to_the_paid_amount_then_refused(api, sim, operator):
    order_no, [trade] = paid_order(api, sim)
    first = api.json(refund(api, operator[1], order_no, amount="20.00", idempotency_key="r1"))
    assert (
        first["refund"]["state"] == "succeeded"
        and first["order"]["pay_status"] == "partially_refunded"
    )
    rest = api.json(refund(api, operator[1], order_no, idempotency_key="r2"))
    assert rest["refund"]["amount"] == "38.00" and rest["order"]["pay_status"] == "refunded"
    more = refund(api, operator[1], order_no, amount="0.01", idempotency_key="r3")
    assert more.status_code == 409 and api.json(more)["error"]["code"] == "transition_refused"
    assert trade.refunded_minor == 5800 and len(_at_gateway(sim, order_no)) == 2
    order = order_store.get(order_no)
    assert order.refunded_amount.format() == "58.00" and not order.refund_open
    assert [e.data["state"] for e in order.timeline if e.type == "refund"] == [
        "pending",
        "succeeded",
        "pending",
        "succeeded",
    ]
    assert [i.detail["outcome"] for i in api_audit(order_no, "order_refund")] == [
        "applied",
        "applied",
        "refused",
    ]
    assert len(api_audit(order_no, "refund_succeeded")) == 2


def test_a_duplicate_payment_is_refunded_on_its_own_trade_number(api, sim, operator):
    order_no, [first, second] = paid_order(api, sim, twice=True)
    assert order_store.get(order_no).hold_reasons == ["duplicate_payment"]
    done = api.json(
        refund(api, operator[1], order_no, payment=second.trade_no, idempotency_key="dup")
    )
    assert done["refund"]["state"] == "succeeded" and done["refund"]["payment"] == second.trade_no
    assert (first.refunded_minor, second.refunded_minor) == (0, 5800)
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and order.refunded_amount is None
    assert done["order"]["refunds"][0]["state"] == "succeeded"


# ---------------------------------------------------------------- exactly once


def test_a_timeout_then_a_retry_refunds_once(api, sim, operator, monkeypatch):
    order_no, [trade] = paid_order(api, sim)
    lost = TimeoutAfterSending("alipay.trade.refund", 1)
    monkeypatch.setattr(
        gateway_calls,
        "http",
        lambda: GatewayHttp(timeout_s=5, attempts=1, backoff_s=0, session=lost),
    )
    timed_out = api.json(refund(api, operator[1], order_no, amount="20.00", idempotency_key="once"))
    assert (
        timed_out["refund"]["state"] == "pending" and trade.refunded_minor == 2000
    )  # done at the gateway
    for _ in range(2):  # the operator retries; so does a second tab
        retried = api.json(
            refund(api, operator[1], order_no, amount="20.00", idempotency_key="once")
        )
        assert retried["outcome"] == "already_applied" and retried["refund"]["state"] == "succeeded"
    assert trade.refunded_minor == 2000 and len(_at_gateway(sim, order_no)) == 1
    order = order_store.get(order_no)
    assert order.refunded_amount.format() == "20.00"
    assert [r.state.value for r in refund_requests(order)] == ["succeeded"]


def test_the_http_clients_own_retries_after_a_timeout_refund_once(api, sim, operator, monkeypatch):
    order_no, [_trade] = paid_order(api, sim, channel="wxpay-main")
    lost = TimeoutAfterSending("/v3/refund/domestic/refunds", 2)
    monkeypatch.setattr(
        gateway_calls,
        "http",
        lambda: GatewayHttp(timeout_s=5, attempts=3, backoff_s=0, session=lost),
    )
    answer = api.json(refund(api, operator[1], order_no, amount="10.00", idempotency_key="wx"))
    # PROCESSING on the third attempt; the simulator's REFUND.SUCCESS notice follows 0.2 s
    # later and, on a loaded machine, can be applied before this answer is written
    assert answer["refund"]["state"] in ("pending", "succeeded")
    assert len(_at_gateway(sim, order_no)) == 1
    [record] = _at_gateway(sim, order_no)
    assert record.refund.refund_no == answer["refund"]["refund_request_id"]


def atomic_requests(monkeypatch):
    """In-process moto handles each request without a lock: two threads can both pass one
    condition, and a read meeting a concurrent write fails (`dictionary changed size during
    iteration`). DynamoDB applies each request atomically. Give moto that atomicity (one request
    at a time, as local/fidelity.py does for the local stack), so the race under test is
    paytrack's, not moto's."""
    lock = threading.RLock()
    unlocked = BotocoreStubber.__call__

    def locked(self, *args, **kwargs):
        with lock:
            return unlocked(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", locked)


def test_operators_racing_never_refund_more_than_was_paid(api, sim, operator, monkeypatch):
    atomic_requests(monkeypatch)
    order_no, [trade] = paid_order(api, sim)
    people = [Principal(f"op{n}", f"op{n}", "operator") for n in range(4)]
    start, results = threading.Barrier(len(people)), []

    def attempt(principal):
        start.wait()
        try:
            command = OrderAction.from_body(
                order_no,
                {
                    "action": "refund",
                    "reason": "race",
                    "amount": "20.00",
                    "idempotency_key": principal.key_id,
                },
            )
            results.append(perform(principal, command).refund.state.value)
        except Exception as error:
            results.append(getattr(error, "code", repr(error)))

    threads = [threading.Thread(target=attempt, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["succeeded", "succeeded", "transition_refused", "transition_refused"]
    assert trade.refunded_minor == 4000
    order = order_store.get(order_no)
    assert order.refunded_amount.format() == "40.00"
    assert sum(r.amount.minor for r in refund_requests(order)) == 4000


# ---------------------------------------------------------------- pending until confirmed


def test_wechat_processing_then_the_notification_confirms_it_once(api, sim, operator):
    order_no, _ = paid_order(api, sim, channel="wxpay-main")
    answer = api.json(refund(api, operator[1], order_no, amount="58.00", idempotency_key="wx"))
    assert answer["refund"]["state"] == "pending" and answer["order"]["pay_status"] == "paid"
    [record] = _at_gateway(sim, order_no)
    assert _wait(lambda: refund_events(sim, order_no))
    [event] = refund_events(sim, order_no)
    assert event.notice.event_type == "REFUND.SUCCESS"
    for _ in range(2):
        assert deliver(api, sim, event).status_code == 204
    order = order_store.get(order_no)
    request = find_request(order, answer["refund"]["refund_request_id"])
    assert (
        request.state.value == "succeeded" and request.gateway_refund_id == record.refund.refund_id
    )
    assert order.pay_status.value == "refunded" and order.refunded_amount.format() == "58.00"
    states = [
        (e.data["state"], e.data.get("gateway_refund_id"))
        for e in order.timeline
        if e.type == "refund"
    ]
    assert states == [
        ("pending", None),
        ("pending", record.refund.refund_id),
        ("succeeded", record.refund.refund_id),
    ]


def test_stripe_pending_then_failed_by_its_webhook(api, sim, operator):
    order_no, _ = paid_order(api, sim, channel="stripe-main", amount="12.00", currency="USD")
    sim.refunds.script("stripe-main", "fail")
    answer = api.json(refund(api, operator[1], order_no, idempotency_key="st"))
    assert answer["refund"]["state"] == "pending"
    assert _wait(lambda: refund_events(sim, order_no))
    [event] = refund_events(sim, order_no)
    assert event.notice.event_type == "refund.failed"
    assert deliver(api, sim, event).status_code == 200
    order = order_store.get(order_no)
    [request] = refund_requests(order)
    assert request.state.value == "failed" and "expired_or_canceled_card" in request.detail
    assert order.pay_status.value == "paid" and not order.refund_open
    again = api.json(refund(api, operator[1], order_no, idempotency_key="st2"))
    assert again["refund"]["amount"] == "12.00"  # a failed refund frees the amount


def test_a_refund_that_stays_pending_is_confirmed_by_the_scheduled_query(api, sim, operator, clock):
    order_no, [trade] = paid_order(api, sim)
    sim.refunds.script("alipay-main", "pending")
    answer = api.json(refund(api, operator[1], order_no, amount="30.00", idempotency_key="slow"))
    rid = answer["refund"]["refund_request_id"]
    assert answer["refund"]["state"] == "pending"
    assert refunds.query_refunds() == {"job": "query_refunds"}  # too young: left alone
    clock.advance(minutes=2)
    assert refunds.query_refunds().get("pending") == 1  # asked, sent again, still unknown
    sim.refunds.settle("alipay-main", rid, succeed=True)
    clock.advance(minutes=2)
    assert refunds.query_refunds().get("succeeded") == 1
    clock.advance(minutes=2)
    assert refunds.query_refunds() == {"job": "query_refunds"}
    order = order_store.get(order_no)
    assert (
        find_request(order, rid).state.value == "succeeded"
        and order.refunded_amount.format() == "30.00"
    )
    assert trade.refunded_minor == 3000 and len(_at_gateway(sim, order_no)) == 1
    assert [i.actor for i in api_audit(order_no, "refund_succeeded")] == [refunds.JOB_ACTOR]


def test_alipay_business_error_fails_the_refund(api, sim, operator):
    order_no, _ = paid_order(api, sim)
    sim.refunds.script("alipay-main", "fail")
    answer = api.json(refund(api, operator[1], order_no, idempotency_key="poor"))
    assert (
        answer["refund"]["state"] == "failed"
        and "SELLER_BALANCE_NOT_ENOUGH" in answer["refund"]["detail"]
    )
    assert answer["order"]["pay_status"] == "paid"


def lost_epay_refund(api, sim, operator, monkeypatch, amount: str) -> tuple[str, str, object]:
    """An epay refund done at the aggregator whose answer was lost: pending, and no query can tell."""
    order_no, [trade] = paid_order(api, sim, channel="epay-main")
    lost = TimeoutAfterSending("act=refund", 1)
    monkeypatch.setattr(
        gateway_calls,
        "http",
        lambda: GatewayHttp(timeout_s=5, attempts=1, backoff_s=0, session=lost),
    )
    answer = api.json(refund(api, operator[1], order_no, amount=amount, idempotency_key="lost"))
    assert answer["refund"]["state"] == "pending" and trade.refunded_minor == int(
        amount.replace(".", "")
    )
    rid = answer["refund"]["refund_request_id"]
    assert (
        refunds.query_refunds(utcnow() + timedelta(minutes=2)).get("pending") == 1
    )  # 彩虹 cannot be asked
    return order_no, rid, trade


def settle_by_hand(api, key, order_no, rid, **body):
    return api.call("POST", f"/admin/orders/{order_no}/refunds/{rid}/settle", body, key=key)


def test_an_admin_settles_a_lost_epay_refund_by_hand_once(
    api, sim, operator, second_admin, monkeypatch
):
    from app import on_orders_stream

    order_no, rid, trade = lost_epay_refund(api, sim, operator, monkeypatch, "8.00")
    assert (
        settle_by_hand(api, operator[1], order_no, rid, outcome="succeeded", note="x").status_code
        == 403
    )
    for body in (
        {"outcome": "pending", "note": "x"},
        {"outcome": "succeeded"},
        {"outcome": "failed", "note": "x", "extra": 1},
    ):
        response = settle_by_hand(api, second_admin[1], order_no, rid, **body)
        assert (
            response.status_code == 400
            and api.json(response)["error"]["code"] == "validation_failed"
        )
    assert find_request(order_store.get(order_no), rid).state.value == "pending"

    note = "refunded in the 彩虹 console, 2026-12-06"
    for outcome in ("applied", "already_applied"):  # the admin's retry settles nothing twice
        settled = api.json(
            settle_by_hand(api, second_admin[1], order_no, rid, outcome="succeeded", note=note)
        )
        assert settled["outcome"] == outcome and settled["refund"]["state"] == "succeeded"
        assert note in settled["refund"]["detail"]
    other = settle_by_hand(
        api, second_admin[1], order_no, rid, outcome="failed", note="no, it failed"
    )
    assert other.status_code == 409 and api.json(other)["error"]["details"]["state"] == "succeeded"
    order = order_store.get(order_no)
    assert (
        order.pay_status.value == "partially_refunded" and order.refunded_amount.format() == "8.00"
    )
    assert (
        not order.refund_open
        and trade.refunded_minor == 800
        and len(_at_gateway(sim, order_no)) == 1
    )
    (entry,) = [e for e in order.timeline if e.type == "refund" and e.data["state"] == "succeeded"]
    assert entry.actor == second_admin[0] and note in entry.message + entry.data["detail"]
    trail = [
        (i.action, i.actor, i.detail.get("result"))
        for i in api_audit(order_no)
        if i.action.startswith("refund_")
    ]
    assert trail.count(("refund_settle", second_admin[0], "applied")) == 1
    assert trail.count(("refund_settle", second_admin[0], "already_applied")) == 1
    assert [r for a, _, r in trail if a == "refund_settle"].count(
        "refused"
    ) == 4  # 3 bad bodies, 1 conflict
    assert [a for a, *_ in trail].count("refund_succeeded") == 1

    records = orders_stream_of(order_no)
    with shop_events() as drain:
        on_orders_stream(records, None)
        on_orders_stream(records, None)  # a replayed batch
        refunded = [
            m
            for m in drain()
            if m["event"] == "order.refunded" and m["order"]["order_no"] == order_no
        ]
    assert [m["refund"]["refund_request_id"] for m in refunded] == [rid]


def test_a_refund_settled_by_hand_as_failed_frees_its_amount(
    api, sim, operator, second_admin, monkeypatch
):
    order_no, rid, _ = lost_epay_refund(api, sim, operator, monkeypatch, "58.00")
    settled = api.json(
        settle_by_hand(
            api,
            second_admin[1],
            order_no,
            rid,
            outcome="failed",
            note="the console shows no refund",
        )
    )
    assert settled["refund"]["state"] == "failed"
    order = order_store.get(order_no)
    assert (
        order.pay_status.value == "paid" and order.refunded_amount is None and not order.refund_open
    )
    missing = settle_by_hand(api, second_admin[1], order_no, "rf-nope", outcome="failed", note="x")
    assert missing.status_code == 404


# ---------------------------------------------------------------- guard rails


def test_a_channel_without_a_refund_api_offers_the_manual_record(api, sim, operator):
    order_no, _ = paid_order(api, sim, channel="epay-main")
    with without_refund_api("epay-main"):
        response = refund(api, operator[1], order_no, idempotency_key="e")
    assert response.status_code == 409
    error = api.json(response)["error"]
    assert (
        error["code"] == "refund_not_supported"
        and error["details"]["manual_action"] == "mark_refunded"
    )
    assert not refund_requests(order_store.get(order_no)) and not _at_gateway(sim, order_no)
    assert api_audit(order_no, "order_refund")[0].detail["outcome"] == "refused"


def test_epay_refunds_where_its_aggregator_offers_it(api, sim, operator):
    order_no, [trade] = paid_order(api, sim, channel="epay-main")
    answer = api.json(refund(api, operator[1], order_no, amount="8.00", idempotency_key="e"))
    assert answer["refund"]["state"] == "succeeded" and trade.refunded_minor == 800


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({}, 400, "validation_failed"),  # no idempotency key
        ({"idempotency_key": "k", "amount": 8}, 400, "validation_failed"),
        ({"idempotency_key": "k", "amount": "-1.00"}, 400, "invalid_amount"),
        ({"idempotency_key": "k", "amount": "0.00"}, 409, "transition_refused"),
        ({"idempotency_key": "k", "amount": "58.01"}, 409, "transition_refused"),
        ({"idempotency_key": "k", "payment": "T-unknown"}, 404, "not_found"),
    ],
)
def test_bad_refunds_are_refused_and_write_nothing(api, sim, operator, body, status, code):
    order_no, _ = paid_order(api, sim)
    response = refund(api, operator[1], order_no, **body)
    assert response.status_code == status and api.json(response)["error"]["code"] == code
    assert not refund_requests(order_store.get(order_no)) and not _at_gateway(sim, order_no)


def test_a_viewer_cannot_refund(api, sim):
    order_no, _ = paid_order(api, sim)
    viewer = auth.create_key("v", "viewer", "test")[1]
    assert refund(api, viewer, order_no, idempotency_key="v").status_code == 403
    assert not _at_gateway(sim, order_no)


def test_a_large_refund_waits_for_another_admin(api, sim, operator, second_admin, monkeypatch):
    monkeypatch.setattr(refunds, "policy", lambda: RefundPolicy(approval_above="50.00"))
    order_no, [trade] = paid_order(api, sim)
    waiting = api.json(refund(api, operator[1], order_no, idempotency_key="big"))
    rid = waiting["refund"]["refund_request_id"]
    assert waiting["refund"]["state"] == "awaiting_approval"
    assert waiting["refund"]["approval_reasons"] == ["amount_above_limit"]
    assert not _at_gateway(sim, order_no)  # nothing sent yet

    assert api.call("GET", "/admin/refunds", key=operator[1]).status_code == 403
    queue = api.json(api.call("GET", "/admin/refunds", key=ADMIN_KEY))["refunds"]
    assert [(q["order_no"], q["refund_request_id"], q["amount"]) for q in queue] == [
        (order_no, rid, "58.00")
    ]
    approve = f"/admin/orders/{order_no}/refunds/{rid}/approve"
    assert api.call("POST", approve, {"note": "ok"}, key=operator[1]).status_code == 403
    approved = api.json(
        api.call("POST", approve, {"note": "checked the duplicate"}, key=second_admin[1])
    )
    assert (
        approved["refund"]["state"] == "succeeded"
        and approved["refund"]["decided_by"] == second_admin[0]
    )
    assert trade.refunded_minor == 5800
    assert api.json(api.call("GET", "/admin/refunds", key=ADMIN_KEY))["refunds"] == []
    again = api.call("POST", approve, {"note": "twice"}, key=second_admin[1])
    assert again.status_code == 200 and len(_at_gateway(sim, order_no)) == 1
    trail = [(i.action, i.actor) for i in api_audit(order_no)]
    assert ("order_refund", operator[0]) in trail and ("refund_approve", second_admin[0]) in trail
    assert ("refund_succeeded", second_admin[0]) in trail


def test_the_requester_cannot_approve_and_a_rejection_sends_nothing(
    api, sim, second_admin, monkeypatch
):
    monkeypatch.setattr(refunds, "policy", lambda: RefundPolicy(approval_above="50.00"))
    order_no, _ = paid_order(api, sim)
    admin_id = auth.authenticate(f"Bearer {ADMIN_KEY}").key_id
    rid = api.json(refund(api, ADMIN_KEY, order_no, idempotency_key="self"))["refund"][
        "refund_request_id"
    ]
    own = api.call(
        "POST", f"/admin/orders/{order_no}/refunds/{rid}/approve", {"note": "mine"}, key=ADMIN_KEY
    )
    assert own.status_code == 403
    rejected = api.json(
        api.call(
            "POST",
            f"/admin/orders/{order_no}/refunds/{rid}/reject",
            {"note": "not a duplicate"},
            key=second_admin[1],
        )
    )
    assert rejected["refund"]["state"] == "rejected" and not _at_gateway(sim, order_no)
    late = api.call(
        "POST",
        f"/admin/orders/{order_no}/refunds/{rid}/approve",
        {"note": "x"},
        key=second_admin[1],
    )
    assert late.status_code == 409
    outcomes = [
        (i.action, i.actor, i.detail["outcome"])
        for i in api_audit(order_no)
        if i.action.startswith("refund_")
    ]
    assert ("refund_approve", admin_id, "refused") in outcomes
    assert ("refund_reject", second_admin[0], "rejected") in outcomes
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and not order.refund_open


# ---------------------------------------------------------------- the shop's event


def test_order_refunded_is_published_once_per_refund(api, sim, operator):
    from app import on_orders_stream

    order_no, _ = paid_order(api, sim)
    api.json(refund(api, operator[1], order_no, amount="8.00", idempotency_key="a"))
    api.json(refund(api, operator[1], order_no, amount="2.00", idempotency_key="b"))
    records = orders_stream_of(order_no)
    with shop_events() as drain:
        on_orders_stream(records, None)
        on_orders_stream(records, None)  # a replayed batch
        refunded = [
            m
            for m in drain()
            if m["event"] == "order.refunded" and m["order"]["order_no"] == order_no
        ]
    assert sorted(m["refund"]["amount"] for m in refunded) == ["2.00", "8.00"]
    assert len({m["event_id"] for m in refunded}) == 2


def orders_stream_of(order_no: str) -> dict:
    """The orders stream's records of one order, as the Lambda receives them."""
    event = stream_event(OrderModel)
    event["Records"] = [
        r for r in event["Records"] if r["dynamodb"]["Keys"]["order_no"]["S"] == order_no
    ]
    return event


@contextmanager
def shop_events():
    """A queue subscribed to the events topic (raw delivery), drained by the yielded function."""
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName=f"shop-events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    subscription = sns.subscribe(
        TopicArn=get_settings().events_topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )

    def drain():
        messages = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    try:
        yield drain
    finally:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])


@contextmanager
def without_refund_api(channel: str):
    """The channel as an aggregator without `act=refund` declares it, for the block."""
    secret_id = get_settings().channels_secret_id
    text = client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    config = json.loads(text)
    config[channel].pop("refund_api", None)
    client("secretsmanager").put_secret_value(SecretId=secret_id, SecretString=json.dumps(config))
    channels.forget()
    try:
        yield
    finally:
        client("secretsmanager").put_secret_value(SecretId=secret_id, SecretString=text)
        channels.forget()


def _wait(condition, timeout: float = 5.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_the_approvals_queue_pages_with_a_cursor(api, sim, operator, second_admin, monkeypatch):
    """Seven requests awaiting approval on six orders (one with two partial refunds), read two at
    a time: every request once, newest order first, the last page without a cursor."""
    monkeypatch.setattr(refunds, "policy", lambda: RefundPolicy(approval_above="1.00"))
    mine: dict[str, list[str]] = {}
    for n in range(6):
        order_no, _ = paid_order(api, sim)
        parts = ("10.00", "20.00") if n == 2 else ("58.00",)
        for i, amount in enumerate(parts):
            made = refund(api, operator[1], order_no, amount=amount, idempotency_key=f"q{n}-{i}")
            assert api.json(made)["refund"]["state"] == "awaiting_approval"
            mine.setdefault(order_no, []).append(api.json(made)["refund"]["refund_request_id"])
    pages, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        answer = api.call("GET", f"/admin/refunds{query}", key=ADMIN_KEY)
        assert answer.status_code == 200, answer.body
        page = api.json(answer)
        pages.append([(r["order_no"], r["refund_request_id"]) for r in page["refunds"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 20
    listed = [row for page in pages for row in page if row[0] in mine]
    assert sorted(rid for _, rid in listed) == sorted(r for rids in mine.values() for r in rids)
    assert len(pages) >= 3 and all(len(page) <= 3 for page in pages)  # 2, 1 + 2, 2
    newest_first = list(reversed(mine))
    assert list(dict.fromkeys(order for order, _ in listed)) == newest_first
    two = next(page for page in pages if any(order == newest_first[3] for order, _ in page))
    assert [rid for order, rid in two if order == newest_first[3]] == mine[newest_first[3]][::-1]

    pending = api.json(api.call("GET", "/admin/refunds?state=pending&limit=1", key=ADMIN_KEY))
    first = api.json(api.call("GET", "/admin/refunds?limit=1", key=ADMIN_KEY))["next_cursor"]
    for query in (f"?cursor={first}x", "?cursor=bm90IGEgY3Vyc29y", "?limit=0", "?limit=201"):
        bad = api.call("GET", f"/admin/refunds{query}", key=ADMIN_KEY)
        assert bad.status_code == 400, query
    if pending["next_cursor"]:  # a pending cursor is not an approvals-queue cursor
        other = f"/admin/refunds?cursor={pending['next_cursor']}"
        assert api.call("GET", other, key=ADMIN_KEY).status_code == 400
    for order_no, rids in mine.items():  # the module's other tests expect an empty queue
        for rid in rids:
            reject = f"/admin/orders/{order_no}/refunds/{rid}/reject"
            assert (
                api.call("POST", reject, {"note": "test"}, key=second_admin[1]).status_code == 200
            )
