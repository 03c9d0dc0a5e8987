"""The registry, and what every gateway promises: garbage in is a `NotificationRejected`, never
another exception type."""

from __future__ import annotations

import random

import pytest

from chalicelib.domain.errors import ChannelMisconfigured, NotificationRejected
from chalicelib.gateways.alipay import AlipayGateway
from chalicelib.gateways.base import Answer, Gateway
from chalicelib.gateways.epay import EpayGateway
from chalicelib.gateways.registry import (
    GATEWAYS,
    buyer_payment_name,
    gateway_types_for,
    get_gateway,
    payment_methods,
)
from chalicelib.gateways.stripe_gateway import StripeGateway
from chalicelib.gateways.wechatpay import WechatPayGateway

from .helpers import VECTOR_NOW, inbound


@pytest.mark.parametrize(
    "type_name, cls",
    [
        ("alipay", AlipayGateway),
        ("wechatpay", WechatPayGateway),
        ("epay", EpayGateway),
        ("stripe", StripeGateway),
    ],
)
def test_registry_holds_one_instance_per_type(type_name, cls):
    gateway = get_gateway(type_name)
    assert isinstance(gateway, cls) and gateway is GATEWAYS[type_name]
    assert gateway.type_name == type_name and gateway.secret_fields


@pytest.mark.parametrize("gateway", list(GATEWAYS.values()), ids=list(GATEWAYS))
def test_each_gateway_says_what_the_rest_of_paytrack_needs_to_know(gateway: Gateway):
    """What the registry derives from: names, methods, required fields, trade number format,
    and its API calls its own (not the base class's `NotImplementedError`)."""
    assert gateway.label.zh and gateway.label.en and gateway.buyer_name
    assert gateway.methods and all(method and label.zh for method, label in gateway.methods)
    assert gateway.required_fields and gateway.trade_no_format.pattern
    for call in ("query_order", "find_trade", "fetch_statement"):
        assert getattr(type(gateway), call) is not getattr(Gateway, call), call


def test_the_registry_names_methods_and_finds_whom_to_ask():
    assert payment_methods()["wxpay"].en == "WeChat Pay" and "wechat" in payment_methods()
    assert gateway_types_for("2026112522001" + "4" * 15) == ["alipay", "epay"]
    assert gateway_types_for("pi_3Ab12Cd34Ef56") == ["stripe"]
    assert buyer_payment_name("qqpay", "epay") == "QQ钱包"
    assert buyer_payment_name(None, "epay") == "在线支付"


@pytest.mark.parametrize("type_name", ["paypal", "", "Alipay", None])
def test_unknown_type_is_a_config_error(type_name):
    with pytest.raises(ChannelMisconfigured, match="unknown gateway type"):
        get_gateway(type_name)


@pytest.mark.parametrize("gateway", list(GATEWAYS.values()), ids=list(GATEWAYS))
def test_answers_are_answers(gateway: Gateway):
    assert isinstance(gateway.success_answer(), Answer)
    assert 200 <= gateway.success_answer().status < 300
    assert isinstance(gateway.failure_answer("x", 400), Answer)


@pytest.fixture
def configs(ali_config, wx_config, epay_config, stripe_config) -> dict:
    return {
        "alipay": ali_config,
        "wechatpay": wx_config,
        "epay": epay_config,
        "stripe": stripe_config,
    }


def _mutations(seed: bytes, rng: random.Random, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 8)):
            if data and rng.random() < 0.6:
                data[rng.randrange(len(data))] = rng.randrange(256)
            else:
                data.insert(rng.randrange(len(data) + 1), rng.choice(b'&=%+{}[]",:\xff\x00'))
        out.append(bytes(data))
    return out


@pytest.mark.parametrize("type_name", sorted(GATEWAYS))
def test_garbage_is_only_ever_rejected(
    type_name, configs, ali_vector, wx_vector, epay_vector, stripe_vector
):
    seeds = {
        "alipay": ali_vector["form_body"].encode(),
        "wechatpay": wx_vector["body"].encode(),
        "epay": epay_vector["url"].split("?", 1)[1].encode(),
        "stripe": stripe_vector["payload"].encode(),
    }
    headers = {
        "wechatpay": wx_vector["headers"],
        "stripe": {"Stripe-Signature": stripe_vector["header"]},
    }
    rng = random.Random(20240101)
    gateway = get_gateway(type_name)
    bodies = [
        b"",
        b"\x00",
        b"{}",
        b"[]",
        b"=",
        b"&&",
        b"%",
        b"a=%zz",
        *_mutations(seeds[type_name], rng, 300),
    ]
    for body in bodies:
        request = inbound(
            body,
            headers.get(type_name),
            method="POST",
            raw_query_string=body.decode("latin-1") if type_name == "epay" else None,
        )
        with pytest.raises(NotificationRejected):
            gateway.parse_notification(request, configs[type_name], "ch", VECTOR_NOW)
