"""Operator actions under moto: reason required, timeline and audit, role-checked, idempotent."""

from __future__ import annotations

import pytest

from chalicelib.gateways._http import GatewayHttp
from chalicelib.services import auth, gateway_calls
from chalicelib.store import orders as order_store
from chalicelib.store.models import AuditModel
from tests.integration.conftest import ADMIN_KEY
from tests.support import notifications as wires
from tests.support.gateway_sim import start_simulator


@pytest.fixture
def operator():
    return auth.create_key("op", "operator", "test")


def paid(api, amount="58.00") -> str:
    order_no = api.json(api.register())["order_no"]
    api.send(wires.alipay(order_no, amount))
    return order_no


def act(api, key, order_no, **body):
    return api.call("POST", f"/admin/orders/{order_no}/actions", body, key=key)


def test_hold_then_release_with_reasons_on_timeline_and_audit(api, operator):
    key_id, key = operator
    order_no = paid(api)
    held = act(api, key, order_no, action="hold", reason="buyer asked to wait")
    assert held.status_code == 200 and api.json(held)["order"]["hold"] is True
    again = api.json(act(api, key, order_no, action="hold", reason="twice"))
    assert again["outcome"] == "already_applied"
    released = api.json(act(api, key, order_no, action="release_hold", reason="checked with buyer"))
    assert released["outcome"] == "applied" and released["order"]["hold"] is False
    timeline = order_store.get(order_no).timeline
    assert [(e.type, e.actor) for e in timeline[-2:]] == [("hold", key_id), ("release", key_id)]
    assert "checked with buyer" in timeline[-1].message
    trail = [(i.action, i.target, i.detail["reason"]) for i in AuditModel.scan() if i.kind == "api"]
    assert ("order_release_hold", order_no, "checked with buyer") in trail


def test_note_is_idempotent_with_a_key(api, operator):
    order_no = paid(api)
    for _ in range(3):
        act(
            api,
            operator[1],
            order_no,
            action="note",
            reason="called buyer",
            idempotency_key="call-1",
        )
    notes = [e for e in order_store.get(order_no).timeline if e.type == "note"]
    assert len(notes) == 1 and notes[0].message == "called buyer"


def test_a_key_used_by_a_note_never_skips_a_refund(api, operator):
    order_no = paid(api)
    assert (
        act(
            api, operator[1], order_no, action="note", reason="called buyer", idempotency_key="k"
        ).status_code
        == 200
    )
    refund = act(
        api, operator[1], order_no, action="mark_refunded", reason="全额退款", idempotency_key="k"
    )
    assert refund.status_code == 409
    error = api.json(refund)["error"]
    assert error["code"] == "conflict" and error["details"] == {
        "idempotency_key": "k",
        "used_by": "note",
    }
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and order.refunded_amount is None
    assert [e.type for e in order.timeline].count("refund") == 0
    fresh = api.json(
        act(
            api,
            operator[1],
            order_no,
            action="mark_refunded",
            reason="全额退款",
            idempotency_key="k2",
        )
    )
    assert fresh["outcome"] == "applied" and fresh["order"]["pay_status"] == "refunded"


def test_a_key_replays_only_its_own_request(api, operator):
    order_no = paid(api)
    first = {
        "action": "mark_refunded",
        "reason": "退差价",
        "amount": "8.00",
        "idempotency_key": "r-1",
    }
    assert api.json(act(api, operator[1], order_no, **first))["outcome"] == "applied"
    assert api.json(act(api, operator[1], order_no, **first))["outcome"] == "already_applied"
    for other in (
        {"amount": "9.00"},
        {"reason": "another reason"},
        {"action": "note"},
        {"action": "hold"},
    ):
        response = act(api, operator[1], order_no, **{**first, **other})
        assert response.status_code == 409 and api.json(response)["error"]["code"] == "conflict", (
            other
        )
    order = order_store.get(order_no)
    assert order.refunded_amount.format() == "8.00" and not order.on_hold
    assert [e.type for e in order.timeline].count("refund") == 1
    assert [e.type for e in order.timeline].count("note") == 0


def test_a_hold_key_cannot_release_the_hold(api, operator):
    order_no = paid(api)
    assert (
        api.json(
            act(api, operator[1], order_no, action="hold", reason="check", idempotency_key="h")
        )["outcome"]
        == "applied"
    )
    released = act(
        api, operator[1], order_no, action="release_hold", reason="check", idempotency_key="h"
    )
    assert released.status_code == 409 and order_store.get(order_no).on_hold


def test_a_gateway_query_refuses_a_key_bound_to_another_action(api, operator):
    order_no = paid(api)
    act(api, operator[1], order_no, action="note", reason="x", idempotency_key="q")
    before = order_store.get(order_no).timeline
    for action in ("requery", "confirm_paid"):
        response = act(api, operator[1], order_no, action=action, reason="x", idempotency_key="q")
        assert response.status_code == 409 and api.json(response)["error"]["code"] == "conflict"
    assert order_store.get(order_no).timeline == before


def test_a_key_bound_by_a_gateway_query_refuses_other_actions(api, operator, monkeypatch):
    monkeypatch.setattr(
        gateway_calls, "http", lambda: GatewayHttp(timeout_s=5, attempts=2, backoff_s=0)
    )
    simulator = start_simulator()
    try:
        order_no = api.json(api.register())["order_no"]
        simulator.pay("alipay-main", order_no, "58.00", notify=False)
        for _ in range(2):
            assert (
                act(
                    api,
                    operator[1],
                    order_no,
                    action="requery",
                    reason="买家说已付款",
                    idempotency_key="q",
                ).status_code
                == 200
            )
    finally:
        simulator.close()
    noted = act(api, operator[1], order_no, action="note", reason="x", idempotency_key="q")
    assert noted.status_code == 409 and api.json(noted)["error"]["details"]["used_by"] == "query"
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and len(order.payments) == 1
    assert [e.data.get("idempotency_key") for e in order.timeline if e.type == "query"] == [
        "q",
        "q",
    ]
    assert not [e for e in order.timeline if e.type == "note"]


def test_mark_refunded_partial_then_full_and_never_more(api, operator):
    order_no = paid(api)
    partial = api.json(
        act(api, operator[1], order_no, action="mark_refunded", reason="退差价", amount="8.00")
    )
    assert (
        partial["order"]["pay_status"] == "partially_refunded"
        and partial["order"]["refunded_amount"] == "8.00"
    )
    rest = api.json(act(api, operator[1], order_no, action="mark_refunded", reason="全额退款"))
    assert rest["order"]["pay_status"] == "refunded" and rest["order"]["refunded_amount"] == "58.00"
    more = act(api, operator[1], order_no, action="mark_refunded", reason="again", amount="1.00")
    assert more.status_code == 409


def test_refund_of_unpaid_order_is_refused(api, operator):
    order_no = api.json(api.register())["order_no"]
    response = act(api, operator[1], order_no, action="mark_refunded", reason="x")
    assert (
        response.status_code == 409 and api.json(response)["error"]["code"] == "transition_refused"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"action": "hold"},
        {"action": "hold", "reason": ""},
        {"action": "delete", "reason": "x"},
        {"action": "hold", "reason": 5},
        {"action": "mark_refunded", "reason": "x", "amount": 8},
        {"action": "hold", "reason": "x", "extra": 1},
    ],
)
def test_bad_actions_are_400(api, operator, body):
    order_no = paid(api)
    response = api.call("POST", f"/admin/orders/{order_no}/actions", body, key=operator[1])
    assert response.status_code == 400
    assert not order_store.get(order_no).on_hold


def test_roles(api):
    order_no = paid(api)
    viewer = auth.create_key("v", "viewer", "test")[1]
    assert act(api, viewer, order_no, action="note", reason="x").status_code == 403
    assert act(api, None, order_no, action="note", reason="x").status_code == 401
    assert act(api, ADMIN_KEY, order_no, action="note", reason="x").status_code == 200
    assert act(api, ADMIN_KEY, "NOPE", action="note", reason="x").status_code == 404
