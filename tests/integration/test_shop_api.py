"""Shop API and auth under moto: registration, idempotency, validation, roles."""

from __future__ import annotations

import pytest

from chalicelib.store import orders as order_store
from chalicelib.store.models import OrderModel
from tests.integration.conftest import ADMIN_KEY


def test_register_generates_number_and_parses_user_agent(api):
    response = api.register()
    assert response.status_code == 201
    body = api.json(response)
    assert body["order_no"].isdigit() and len(body["order_no"]) == 20
    assert body["amount"] == "58.00" and body["currency"] == "CNY"
    assert (
        body["pay_status"] == "pending"
        and body["delivery_status"] == "pending"
        and body["hold"] is False
    )
    stored = order_store.get(body["order_no"])
    assert (
        stored.device == "mobile"
        and stored.browser.startswith("Mobile Safari")
        and stored.os.startswith("iOS")
    )
    assert stored.buyer_ip == "1.2.3.4" and stored.gateway == "alipay"
    assert [e.type for e in stored.timeline] == ["created"]


def test_same_number_same_body_is_idempotent_and_different_body_conflicts(api):
    first = api.register(order_no="ORD-1001")
    again = api.register(order_no="ORD-1001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert api.json(first) == api.json(again)
    conflict = api.register(order_no="ORD-1001", amount="59.00")
    assert conflict.status_code == 409 and api.json(conflict)["error"]["code"] == "conflict"
    assert order_store.get("ORD-1001").amount.minor == 5800


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"amount": 58.0}, "amount"),
        ({"amount": "58.001"}, None),
        ({"amount": "-1.00"}, "amount"),
        ({"quantity": "2"}, "quantity"),
        ({"quantity": 0}, "quantity"),
        ({"channel": "nope"}, "channel"),
        ({"buyer_email": "not-an-email"}, "buyer_email"),
        ({"buyer_ip": "999.1.1.1"}, "buyer_ip"),
        ({"order_no": "has space"}, "order_no"),
        ({"order_no": "x" * 33}, "order_no"),
        ({"expires_in_s": 5}, "expires_in_s"),
        ({"surprise": 1}, None),
        ({"currency": "YUAN"}, None),
    ],
)
def test_validation_errors_are_400_with_code_and_write_nothing(api, fields, field):
    response = api.register(**fields)
    assert response.status_code == 400
    error = api.json(response)["error"]
    assert error["code"] in ("validation_failed", "invalid_amount") and error["message"]
    if field:
        assert error["details"]["field"] == field
    assert OrderModel.count() == 0


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"amount": "5.000000000000000000000000000001"}, "amount"),
        ({"amount": "1_000.00"}, "amount"),
        ({"amount": "1e2"}, "amount"),
        ({"amount": "٥٨.00"}, "amount"),
        ({"amount": "0.00"}, "amount"),
        ({"amount": "-0.01"}, "amount"),
        ({"amount": "+58.00"}, "amount"),
        ({"amount": " 58.00"}, "amount"),
        ({"amount": "1000000000000.00"}, "amount"),
        ({"amount": "58.5", "currency": "JPY"}, "amount"),
        ({"currency": "ABC"}, "currency"),
        ({"currency": "XAU"}, "currency"),
    ],
)
def test_amounts_are_exact_positive_and_in_an_iso_4217_currency(api, fields, field):
    """Issue 10 defect 3: "5.000…01" was stored as 5.00, "1_000.00" as 1000.00, "ABC" accepted."""
    response = api.register(**fields)
    assert response.status_code == 400, response.body
    error = api.json(response)["error"]
    assert (
        error["code"] in ("validation_failed", "invalid_amount")
        and error["details"]["field"] == field
    )
    assert OrderModel.count() == 0


def test_a_channel_that_declares_its_currencies_refuses_orders_in_others(api, declare_currencies):
    declare_currencies("stripe-main", ["USD", "eur"])
    refused = api.register(channel="stripe-main", currency="CNY")
    assert refused.status_code == 400
    assert api.json(refused)["error"]["details"] == {"field": "currency", "allowed": ["EUR", "USD"]}
    assert api.register(channel="stripe-main", currency="EUR").status_code == 201
    assert (
        api.register(channel="alipay-main", currency="USD").status_code == 201
    )  # declares none: any
    assert OrderModel.count() == 2


@pytest.mark.parametrize("body", [b"{not json", b"[1,2]", b'"just a string"', b"\xff\xfe"])
def test_malformed_json_is_400(api, body):
    response = api.call("POST", "/orders", body)
    assert response.status_code == 400
    assert api.json(response)["error"]["code"] == "validation_failed"


def test_auth_missing_unknown_and_wrong_role(api):
    assert api.call("GET", "/orders/X", key=None).status_code == 401
    assert api.call("GET", "/orders/X", key="pt_nope").status_code == 401
    from chalicelib.services import auth

    _, viewer_key = auth.create_key("viewer", "viewer", "test")
    response = api.call("POST", "/orders", {"amount": "1.00"}, key=viewer_key)
    assert response.status_code == 403 and api.json(response)["error"]["code"] == "forbidden"
    assert api.call("GET", "/orders/X", key=ADMIN_KEY).status_code == 404


def test_revoked_key_is_refused_at_once(api):
    from chalicelib.services import auth

    key_id, key = auth.create_key("temp shop", "shop", "test")
    assert api.call("GET", "/orders/NOPE", key=key).status_code == 404
    auth.revoke_key(key_id)
    assert api.call("GET", "/orders/NOPE", key=key).status_code == 401


def test_keys_are_stored_hashed(api):
    from chalicelib.store.models import ApiKeyModel

    stored = [item.key_hash for item in ApiKeyModel.scan()]
    assert ADMIN_KEY not in stored and all(len(h) == 64 for h in stored)


def test_delivery_requires_paid_and_not_held(api):
    order_no = api.json(api.register())["order_no"]
    response = api.call("POST", f"/orders/{order_no}/delivery", {"status": "delivered"})
    assert (
        response.status_code == 409 and api.json(response)["error"]["code"] == "transition_refused"
    )
    bad = api.call("POST", f"/orders/{order_no}/delivery", {"status": "sent"})
    assert bad.status_code == 400
    assert api.call("POST", "/orders/NOPE/delivery", {"status": "delivered"}).status_code == 404
