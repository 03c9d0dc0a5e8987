"""The Lambda's channel loading validates every channel of the secret: an invalid channel is left
out of the channels in use, logged, and its notifications get a failure answer the gateway
retries (in its own protocol when its type is known) with an audit record saying why, never
"unknown channel"; the valid channels beside it go on working."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.errors import ChannelMisconfigured
from chalicelib.platform.aws import client
from chalicelib.platform.settings import get_settings
from chalicelib.services import channels
from chalicelib.store.models import AuditModel
from local.bootstrap import load_channels
from tests.support import notifications as wires

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def put_channels(document) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    client("secretsmanager").put_secret_value(
        SecretId=get_settings().channels_secret_id, SecretString=text
    )
    channels.forget()


def notify_audit(channel: str):
    return [item for item in AuditModel.scan() if item.kind == "notify" and item.channel == channel]


@pytest.fixture
def broken(aws):
    """The dev channels plus three broken ones: a misspelt type, a key that does not parse, a
    WeChat channel missing its APIv3 key."""
    doc = load_channels()
    doc["ali-typo"] = {**doc["alipay-main"], "type": "alipy"}
    doc["ali-bad-pem"] = {
        **doc["alipay-main"],
        "alipay_public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
    }
    doc["wx-no-key"] = {k: v for k, v in doc["wxpay-main"].items() if k != "apiv3_key"}
    put_channels(doc)
    return doc


def test_invalid_channels_are_left_out_and_raise_misconfigured_not_unknown(broken, caplog):
    assert sorted(channels.all_channels()) == [
        "alipay-main",
        "epay-main",
        "stripe-main",
        "wxpay-main",
    ]
    with pytest.raises(ChannelMisconfigured) as raised:
        channels.get_channel("ali-typo")
    assert raised.value.details["problems"] == [
        "ali-typo: type 'alipy' is not one of alipay, epay, stripe, wechatpay"
    ]
    with pytest.raises(
        ChannelMisconfigured, match="ali-bad-pem: alipay_public_key is not an RSA public key"
    ):
        channels.get_channel("ali-bad-pem")


def test_an_unknown_type_answers_503_misconfigured_and_is_audited(broken, api):
    response = api.send(wires.Wire("ali-typo", "POST", b"a=b", FORM))
    assert response.status_code == 503
    error = json.loads(response.body)["error"]
    assert error["code"] == "channel_misconfigured" and "ali-typo" in error["message"]
    [record] = notify_audit("ali-typo")
    assert record.verification == "channel_misconfigured" and record.outcome == "rejected"
    assert record.detail["problems"] == [
        "ali-typo: type 'alipy' is not one of alipay, epay, stripe, wechatpay"
    ]


def test_a_known_type_answers_failure_in_its_own_protocol(broken, api):
    wire = wires.alipay("ORD-MISCONF-1", "58.00")
    wire.channel = "ali-bad-pem"
    alipay = api.send(wire)
    assert (alipay.status_code, alipay.body) == (200, b"fail")
    wechat = api.send(wires.Wire("wx-no-key", "POST", b"{}", {"Content-Type": "application/json"}))
    assert wechat.status_code == 503 and json.loads(wechat.body)["code"] == "FAIL"
    [record] = notify_audit("wx-no-key")
    assert record.detail["problems"] == [
        "wx-no-key: apiv3_key is missing (a wechatpay channel needs mchid, appid, apiv3_key, platform_public_key, "
        "platform_public_key_id, merchant_private_key, merchant_serial_no, api_base)"
    ]


def test_the_valid_channels_beside_them_still_take_payments(broken, api):
    order_no = api.json(api.register(channel="alipay-main"))["order_no"]
    response = api.send(wires.alipay(order_no, "58.00"))
    assert (response.status_code, response.body) == (200, b"success")


def test_an_unknown_channel_is_still_404(broken, api):
    response = api.send(wires.Wire("nope", "POST", b"a=b", FORM))
    assert response.status_code == 404


def test_a_secret_that_is_not_json_makes_every_channel_misconfigured(aws, api):
    put_channels("{not json")
    assert channels.all_channels() == {}
    response = api.send(wires.Wire("alipay-main", "POST", b"a=b", FORM))
    assert response.status_code == 503
    [record] = notify_audit("alipay-main")
    assert record.detail["problems"] == [
        "the channels secret is not JSON: Expecting property name enclosed "
        "in double quotes at line 1"
    ]


def test_a_stored_notice_is_still_applied_after_its_channel_became_misconfigured(aws, api):
    """The notices stream repairs a notice stored before the channel broke: its channel's
    currencies are unknown then, as for a removed channel, and the payment is applied."""
    from chalicelib.domain.clock import utcnow
    from chalicelib.gateways.base import Headers, InboundRequest
    from chalicelib.gateways.registry import get_gateway
    from chalicelib.services import ingest
    from chalicelib.store import notices as notice_store
    from chalicelib.store import orders as order_store

    order_no = api.json(api.register(channel="alipay-main"))["order_no"]
    wire = wires.alipay(order_no, "58.00")
    notice = get_gateway("alipay").parse_notification(
        InboundRequest("POST", Headers(wire.headers), wire.body, {}),
        channels.get_channel("alipay-main"),
        "alipay-main",
        utcnow(),
    )
    assert notice_store.record(notice, utcnow(), "1.1.1.1").first
    doc = load_channels()
    doc["alipay-main"]["gateway_url"] = "ftp://nowhere"
    put_channels(doc)
    assert ingest.apply_stored_notice(notice, utcnow()).outcome == "applied"
    assert order_store.get(order_no).pay_status.value == "paid"
