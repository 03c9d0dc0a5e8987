"""Operator API under moto: order detail with timeline, notices and the buyer sentence; masking
for viewers; API keys created, listed and revoked; the audit log."""

from __future__ import annotations

import pytest

from chalicelib.services import auth
from tests.integration.conftest import ADMIN_KEY
from tests.support import notifications as wires


@pytest.fixture
def keys(api):
    return {
        role: auth.create_key(f"test {role}", role, "test")[1] for role in ("viewer", "operator")
    } | {"admin": ADMIN_KEY}


def paid_order(api) -> str:
    order_no = api.json(api.register(buyer_email="zhangwei@qq.com", buyer_id="buyer-4242"))[
        "order_no"
    ]
    assert api.send(wires.alipay(order_no, "58.00")).body == b"success"
    return order_no


def test_detail_has_everything_and_the_buyer_sentence(api, keys):
    order_no = paid_order(api)
    response = api.call("GET", f"/admin/orders/{order_no}", key=keys["operator"])
    assert response.status_code == 200
    detail = api.json(response)
    assert detail["order_no"] == order_no and detail["pay_status"] == "paid"
    assert detail["buyer_email"] == "zhangwei@qq.com" and detail["buyer_ip"] == "1.2.3.4"
    assert detail["device"] == "mobile" and detail["buyer_region"] == "Australia (AU)"
    assert [e["type"] for e in detail["timeline"]] == ["created", "payment"]
    assert len(detail["notices"]) == 1 and detail["notices"][0]["raw"]["out_trade_no"] == order_no
    assert detail["payments"][0]["amount"] == "58.00" and detail["anomalies"] == []
    assert (
        detail["customer_reply"].startswith("您好，我们看到您在今天")
        and order_no in detail["customer_reply"]
    )
    assert "支付宝" in detail["customer_reply"] and "58.00元" in detail["customer_reply"]


def test_viewer_sees_masked_pii(api, keys):
    order_no = paid_order(api)
    detail = api.json(api.call("GET", f"/admin/orders/{order_no}", key=keys["viewer"]))
    assert detail["buyer_email"] == "zh***@qq.com" and detail["buyer_ip"] == "1.2.*.*"
    assert detail["buyer_id"] == "bu******42" and detail["user_agent"] is None
    assert "masked" in detail["notices"][0]["raw"]
    assert "zhangwei" not in str(detail)


@pytest.mark.parametrize(
    "role,sees_pii,may_act,may_manage_keys",
    [("viewer", False, False, False), ("operator", True, True, False), ("admin", True, True, True)],
)
def test_me_tells_the_key_its_role(api, keys, role, sees_pii, may_act, may_manage_keys):
    me = api.json(api.call("GET", "/admin/me", key=keys[role]))
    assert me["role"] == role and me["sees_pii"] is sees_pii
    assert me["may_act"] is may_act and me["may_manage_keys"] is may_manage_keys
    assert "key" not in me and me["id"]
    if role != "admin":
        assert me["name"] == f"test {role}"


def test_keys_lifecycle_and_audit(api):
    created = api.call("POST", "/admin/keys", {"name": "客服小王", "role": "viewer"}, key=ADMIN_KEY)
    assert created.status_code == 201
    new = api.json(created)
    assert new["key"].startswith("pt_viewer_") and new["role"] == "viewer"
    listed = api.json(api.call("GET", "/admin/keys", key=ADMIN_KEY))["items"]
    assert any(k["id"] == new["id"] for k in listed) and all("key" not in k for k in listed)
    assert api.call("GET", "/admin/orders/NOPE", key=new["key"]).status_code == 404
    assert api.call("DELETE", f"/admin/keys/{new['id']}", key=ADMIN_KEY).status_code == 200
    assert api.call("GET", "/admin/orders/NOPE", key=new["key"]).status_code == 401
    trail = api.json(api.call("GET", "/admin/audit", key=ADMIN_KEY))["items"]
    assert [t["action"] for t in trail][:2] == ["revoke_key", "create_key"]
    assert trail[0]["target"] == new["id"] and trail[0]["role"] == "admin"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "role": "root"},
        {"name": "", "role": "viewer"},
        {"role": "viewer"},
        {"name": 5, "role": "viewer"},
        [1],
    ],
)
def test_key_validation(api, body):
    response = api.call("POST", "/admin/keys", body, key=ADMIN_KEY)
    assert (
        response.status_code == 400 and api.json(response)["error"]["code"] == "validation_failed"
    )


def test_audit_filters_by_key_and_time(api, keys):
    order_no = paid_order(api)
    api.call("GET", f"/admin/orders/{order_no}", key=keys["operator"])
    operator_id = next(
        k.key_id
        for k in __import__("chalicelib.store.keys", fromlist=["x"]).list_all()
        if k.name == "test operator"
    )
    by_key = api.json(api.call("GET", f"/admin/audit?key={operator_id}", key=ADMIN_KEY))["items"]
    assert [(t["action"], t["target"]) for t in by_key] == [("read_order", order_no)]
    empty = api.json(
        api.call(
            "GET", "/admin/audit?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z", key=ADMIN_KEY
        )
    )["items"]
    assert empty == []
    assert api.call("GET", "/admin/audit?from=yesterday", key=ADMIN_KEY).status_code == 400


def test_exact_numbers_are_found_whatever_their_age(api):
    from datetime import timedelta

    from chalicelib.domain.clock import utcnow
    from chalicelib.domain.money import Money
    from chalicelib.domain.order import Order
    from chalicelib.store import orders as order_store

    old = utcnow() - timedelta(days=200)
    order_store.create(
        Order(
            order_no="OLD-1",
            amount=Money(100),
            channel="alipay-main",
            product_id="p",
            product_name="P",
            quantity=1,
            created_at=old,
            expires_at=old,
        )
    )
    found = api.json(api.call("GET", "/admin/orders?order_no=OLD-1", key=ADMIN_KEY))
    assert [i["order_no"] for i in found["items"]] == ["OLD-1"] and found["totals"]["count"] == 1
    recent_only = api.json(api.call("GET", "/admin/orders?product=P", key=ADMIN_KEY))
    assert "OLD-1" not in [i["order_no"] for i in recent_only["items"]]


@pytest.mark.parametrize(
    "role,allowed",
    [
        ("viewer", []),
        ("operator", ["requery", "hold", "mark_refunded", "note", "refund"]),
        ("admin", ["requery", "hold", "mark_refunded", "note", "refund"]),
    ],
)
def test_the_detail_lists_the_actions_the_order_allows_the_caller(api, keys, role, allowed):
    order_no = paid_order(api)
    detail = api.json(api.call("GET", f"/admin/orders/{order_no}", key=keys[role]))
    assert detail["allowed_actions"] == allowed


def test_the_allowed_actions_follow_the_order(api, keys):
    unpaid = api.json(api.register())["order_no"]
    detail = api.json(api.call("GET", f"/admin/orders/{unpaid}", key=keys["operator"]))
    assert detail["allowed_actions"] == ["requery", "hold", "confirm_paid", "note"]
    held = api.call(
        "POST",
        f"/admin/orders/{unpaid}/actions",
        {"action": "hold", "reason": "checking"},
        key=keys["operator"],
    )
    assert held.status_code == 200
    detail = api.json(api.call("GET", f"/admin/orders/{unpaid}", key=keys["operator"]))
    assert detail["allowed_actions"] == ["requery", "release_hold", "confirm_paid", "note"]


def test_meta_describes_rules_gateways_channels_and_currencies(api, keys):
    from chalicelib.domain.rules.registry import RULES
    from chalicelib.gateways.registry import GATEWAYS

    meta = api.json(api.call("GET", "/admin/meta", key=keys["viewer"]))
    assert [r["name"] for r in meta["rules"]] == list(RULES)
    large = next(r for r in meta["rules"] if r["name"] == "large_amount")
    assert large == {
        "name": "large_amount",
        "label": {"zh": "大额交易", "en": "Large amount"},
        "severity": "info",
        "hold": False,
        "enabled": True,
    }
    assert meta["inbox_rules"] == ["verification", "verification_answered"]
    assert [g["type"] for g in meta["gateway_types"]] == list(GATEWAYS)
    assert meta["gateway_types"][0] == {
        "type": "alipay",
        "label": {"zh": "支付宝", "en": "Alipay"},
        "methods": ["alipay"],
    }
    assert {m["method"]: m["label"]["zh"] for m in meta["methods"]} == {
        "alipay": "支付宝",
        "wechat": "微信支付",
        "wxpay": "微信支付",
        "qqpay": "QQ钱包",
        "stripe": "银行卡（Stripe）",
    }
    channels = {c["id"]: c for c in meta["channels"]}
    assert channels["alipay-main"]["type"] == "alipay" and len(channels) >= 4
    assert meta["currencies"]["CNY"] == 2 and meta["currencies"]["JPY"] == 0
    assert meta["currencies"]["KWD"] == 3
