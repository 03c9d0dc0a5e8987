"""epay notifications: the shared vector (expected sign 818d999b…), GET and POST, tampering,
pid check and the status → kind mapping."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode

import pytest

from chalicelib.domain.errors import (
    AccountMismatch,
    ChannelMisconfigured,
    MalformedNotification,
    NotificationRejected,
    SignatureInvalid,
)
from chalicelib.domain.money import Money
from chalicelib.domain.notice import NoticeKind
from chalicelib.gateways.epay import EpayGateway, sign, signing_string

from .helpers import VECTOR_NOW, char_tampers, inbound

GATEWAY = EpayGateway()
EXPECTED_SIGN = "818d999b12d1c94cf9054040363eb172"


def php_sign(params: dict, key: str) -> str:
    """The 彩虹 epay PHP signer, transcribed independently: ksort; skip sign, sign_type and
    empty values; "k=v&" each; trim the last "&"; md5(string . key)."""
    text = ""
    for k in sorted(params):
        if k in ("sign", "sign_type") or params[k] == "":
            continue
        text += f"{k}={params[k]}&"
    return hashlib.md5((text[:-1] + key).encode("utf-8")).hexdigest()


def signed(params: dict, key: str) -> dict:
    return {**params, "sign": php_sign(params, key), "sign_type": "MD5"}


def raw_query(epay_vector) -> str:
    return epay_vector["url"].split("?", 1)[1]


def parse_get(raw: str, config: dict, channel: str = "ep1"):
    return GATEWAY.parse_notification(
        inbound(method="GET", raw_query_string=raw), config, channel, VECTOR_NOW
    )


def parse_post(params: dict, config: dict, query: str | None = None):
    body = urlencode(params).encode()
    return GATEWAY.parse_notification(
        inbound(body, method="POST", raw_query_string=query), config, "ep1", VECTOR_NOW
    )


# --- the vector ----------------------------------------------------------------------------------


def test_vector_sign_and_signing_string(epay_vector):
    params = epay_vector["params"]
    assert signing_string(params) + epay_vector["key"] == epay_vector["string_to_sign"]
    assert sign(params, epay_vector["key"]) == EXPECTED_SIGN == params["sign"]
    assert php_sign(params, epay_vector["key"]) == EXPECTED_SIGN


def test_get_vector_parses(epay_vector, epay_config):
    notice = parse_get(raw_query(epay_vector), epay_config)
    assert notice.kind is NoticeKind.PAYMENT
    assert notice.gateway == "epay"
    assert notice.dedupe_key == "ep1:2024010112000012345:TRADE_SUCCESS"
    assert notice.out_trade_no == "ORD20240101000001"
    assert notice.trade_no == notice.payment_ref == "2024010112000012345"
    assert notice.amount == Money(100, "CNY")
    assert notice.gateway_status == "TRADE_SUCCESS"
    assert notice.event_time is None
    assert notice.method == "alipay"
    assert notice.raw["name"] == "VIP会员 月卡"


def test_get_with_an_already_decoded_query_mapping(epay_vector, epay_config):
    query = dict(parse_qsl(raw_query(epay_vector)))
    request = inbound(method="GET", query=query)
    assert GATEWAY.parse_notification(request, epay_config, "ep1", VECTOR_NOW).amount == Money(100)


def test_space_may_arrive_as_plus_or_percent20(epay_vector, epay_config):
    assert parse_get(raw_query(epay_vector).replace("+", "%20"), epay_config) is not None


def test_post_form(epay_vector, epay_config):
    notice = parse_post(epay_vector["params"], epay_config)
    assert notice.kind is NoticeKind.PAYMENT and notice.raw["name"] == "VIP会员 月卡"


def test_post_merges_the_query_string(epay_vector, epay_config):
    params = dict(epay_vector["params"])
    query = urlencode({"pid": params.pop("pid"), "trade_no": params["trade_no"]})
    assert parse_post(params, epay_config, query).kind is NoticeKind.PAYMENT


def test_post_and_query_that_disagree_are_malformed(epay_vector, epay_config):
    with pytest.raises(MalformedNotification):
        parse_post(epay_vector["params"], epay_config, "money=100.00")


def test_fresh_notification_signed_by_the_php_transcription(epay_config):
    params = signed(
        {
            "pid": "1001",
            "trade_no": "T9",
            "out_trade_no": "ORD9",
            "type": "wxpay",
            "name": "月卡 & 周卡=1",
            "money": "58.00",
            "trade_status": "TRADE_SUCCESS",
            "param": "",
            "api_trade_no": "4200000009",
        },
        epay_config["key"],
    )
    notice = parse_post(params, epay_config)
    assert (notice.amount, notice.method) == (Money(5800), "wxpay")


# --- tampering, pid, sign type -------------------------------------------------------------------


def test_every_single_character_tamper_of_the_query_is_rejected(epay_vector, epay_config):
    accepted = []
    for i, tampered in char_tampers(raw_query(epay_vector)):
        try:
            parse_get(tampered, epay_config)
            accepted.append(i)
        except NotificationRejected:
            pass
    assert accepted == []


@pytest.mark.parametrize(
    "key", ["pid", "trade_no", "out_trade_no", "type", "name", "money", "trade_status", "param"]
)
def test_changing_any_param_is_rejected(epay_vector, epay_config, key):
    params = {**epay_vector["params"], key: epay_vector["params"][key] + "1"}
    with pytest.raises(NotificationRejected):
        parse_post(params, epay_config)


def test_signature_must_be_exact_lowercase_hex(epay_vector, epay_config):
    variants = (EXPECTED_SIGN.upper(), EXPECTED_SIGN[:-1], EXPECTED_SIGN + "0", " " + EXPECTED_SIGN)
    for variant in variants:
        with pytest.raises(SignatureInvalid):
            parse_post({**epay_vector["params"], "sign": variant}, epay_config)


def test_wrong_key_is_rejected(epay_vector, epay_config):
    with pytest.raises(SignatureInvalid):
        parse_get(raw_query(epay_vector), {**epay_config, "key": "another-merchant-key"})


@pytest.mark.parametrize("pid", ["1001", 1001])
def test_pid_may_be_configured_as_text_or_number(epay_vector, epay_config, pid):
    assert parse_get(raw_query(epay_vector), {**epay_config, "pid": pid}) is not None


def test_pid_mismatch(epay_vector, epay_config):
    with pytest.raises(AccountMismatch):
        parse_get(raw_query(epay_vector), {**epay_config, "pid": "1002"})


def test_rsa_sign_type_is_refused(epay_vector, epay_config):
    with pytest.raises(SignatureInvalid) as caught:
        parse_post({**epay_vector["params"], "sign_type": "RSA"}, epay_config)
    assert caught.value.reason == "unsupported_sign_type"


def test_absent_sign_type_means_md5(epay_vector, epay_config):
    params = {k: v for k, v in epay_vector["params"].items() if k != "sign_type"}
    assert parse_post(params, epay_config).kind is NoticeKind.PAYMENT


# --- status → kind -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, kind",
    [
        ("TRADE_SUCCESS", NoticeKind.PAYMENT),
        ("WAIT_BUYER_PAY", NoticeKind.INFO),
        ("TRADE_CLOSED", NoticeKind.INFO),
        ("TRADE_REFUND", NoticeKind.INFO),
    ],
)
def test_status_mapping(epay_vector, epay_config, status, kind):
    params = signed({**epay_vector["params"], "trade_status": status}, epay_config["key"])
    notice = parse_post(params, epay_config)
    assert notice.kind is kind
    assert notice.dedupe_key == f"ep1:2024010112000012345:{status}"


# --- malformed input -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["trade_no", "out_trade_no", "money", "trade_status"])
def test_signed_but_missing_fields(epay_vector, epay_config, field):
    params = {k: v for k, v in epay_vector["params"].items() if k != field}
    with pytest.raises(MalformedNotification, match=field):
        parse_post(signed(params, epay_config["key"]), epay_config)


@pytest.mark.parametrize("money", ["1.001", "abc", "-", "1e2", "NaN"])
def test_signed_but_bad_money(epay_vector, epay_config, money):
    params = signed({**epay_vector["params"], "money": money}, epay_config["key"])
    with pytest.raises(MalformedNotification):
        parse_post(params, epay_config)


@pytest.mark.parametrize("raw", ["", "pid=1001&pid=1002", "name=%FF", "sign", "%FF=1"])
def test_malformed_queries(epay_config, raw):
    with pytest.raises(MalformedNotification):
        parse_get(raw, epay_config)


def test_non_utf8_post_body_is_malformed(epay_config):
    request = inbound(b"name=\xff&pid=1001", method="POST")
    with pytest.raises(MalformedNotification):
        GATEWAY.parse_notification(request, epay_config, "ep1", VECTOR_NOW)


def test_missing_key_is_a_config_error(epay_vector, epay_config):
    with pytest.raises(ChannelMisconfigured, match="key"):
        parse_get(raw_query(epay_vector), {**epay_config, "key": ""})


# --- answers -------------------------------------------------------------------------------------


def test_answers():
    assert (GATEWAY.success_answer().status, GATEWAY.success_answer().body) == (200, "success")
    failure = GATEWAY.failure_answer("not stored", 503)
    assert (failure.status, failure.body) == (200, "fail")


def test_redact_masks_the_merchant_key():
    assert GATEWAY.redact({"key": "k", "pid": "1001"}) == {"key": "***", "pid": "1001"}
