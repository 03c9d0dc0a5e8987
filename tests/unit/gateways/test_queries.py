"""Query and statement-download adapters against recorded gateway answers: requests signed as the
gateway's own SDK signs them, answers verified (and checked by the SDK too), "not found" read as
not paid, and an outage, a bad signature or garbage reported — never read as unpaid. The epay
key never reaches an error message."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from alipay import AliPay
from wechatpayv3 import utils as wechat_sdk

from chalicelib.domain.errors import GatewayUnavailable
from chalicelib.domain.notice import NoticeKind, NoticeSource
from chalicelib.domain.query import QueryStatus
from chalicelib.domain.statement import StatementNotReady, StatementUnparseable
from chalicelib.gateways import alipay_api, wechatpay_api
from chalicelib.gateways.base import CallContext
from chalicelib.gateways.registry import get_gateway

from .recorded import (
    Recorded,
    alipay_answer,
    alipay_zip,
    fixture,
    http,
    json_answer,
    wechat_answer,
    wechat_gzip,
)

NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
DAY = date(2026, 11, 24)


def query(config, channel, out_trade_no, adapter, trade_no=None):
    return get_gateway(config["type"]).query_order(
        CallContext(config, channel, http(adapter), NOW), out_trade_no, trade_no
    )


# ------------------------------------------------------------------ Alipay


def _sdk(config) -> AliPay:
    """python-alipay-sdk holding the app's private key and Alipay's public key."""
    return AliPay(
        appid=config["app_id"],
        app_notify_url=None,
        app_private_key_string=config["app_private_key"],
        alipay_public_key_string=config["alipay_public_key"],
        sign_type="RSA2",
    )


def test_alipay_query_paid_is_a_payment_notice_from_a_signed_request(ali_config):
    adapter = Recorded([alipay_answer("alipay_trade_query_paid.json")])
    result = query(ali_config, "ali1", "20261124093000000001", adapter)
    assert result.status is QueryStatus.PAID and result.gateway_status == "TRADE_SUCCESS"
    notice = result.notice
    assert (
        notice.kind,
        notice.source,
        notice.trade_no,
        notice.payment_ref,
        notice.amount.format(),
    ) == (
        NoticeKind.PAYMENT,
        NoticeSource.QUERY,
        "2026112422001411111111111111",
        "2026112422001411111111111111",
        "58.00",
    )
    assert notice.event_time == datetime(2026, 11, 24, 1, 30, 2, tzinfo=UTC)
    assert notice.dedupe_key == "ali1:query:2026112422001411111111111111:TRADE_SUCCESS"

    sent = dict(parse_qsl(adapter.sent[0].body))
    assert sent["method"] == "alipay.trade.query" and json.loads(sent["biz_content"]) == {
        "out_trade_no": "20261124093000000001"
    }
    unsigned = {k: v for k, v in sent.items() if k != "sign"}
    oracle = dict(parse_qsl(_sdk(ali_config).sign_data(unsigned)))["sign"]
    assert sent["sign"] == oracle  # signed exactly as the SDK signs


def test_alipay_answers_verify_with_the_sdk_as_well(ali_config):
    raw = fixture("alipay_trade_query_paid.json").decode()
    assert (
        _sdk(ali_config)._verify_and_return_sync_response(raw, "alipay_trade_query_response")[
            "code"
        ]
        == "10000"
    )
    assert (
        alipay_api.verified_answer(raw, "alipay.trade.query", ali_config)["trade_status"]
        == "TRADE_SUCCESS"
    )


@pytest.mark.parametrize(
    "answer, status",
    [
        ("alipay_trade_query_not_exist.json", QueryStatus.NOT_FOUND),
        ("alipay_trade_query_wait.json", QueryStatus.NOT_PAID),
    ],
)
def test_alipay_not_found_and_waiting_are_answers(ali_config, answer, status):
    out_trade_no = json.loads(fixture(answer))["alipay_trade_query_response"]["out_trade_no"]
    result = query(ali_config, "ali1", out_trade_no, Recorded([alipay_answer(answer)]))
    assert result.status is status and result.notice is None


@pytest.mark.parametrize(
    "tamper, why",
    [
        (
            lambda b: b.replace(b'"total_amount":"58.00"', b'"total_amount":"0.58"'),
            "does not verify",
        ),
        (lambda b: b.split(b',"sign"')[0] + b"}", "unsigned answer"),
        (lambda b: b"<html>502 Bad Gateway</html>", "unreadable answer"),
        (
            lambda b: (
                b'{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature"}}'
            ),
            "gateway error 40002 isv.invalid-signature",
        ),
    ],
)
def test_alipay_answers_that_do_not_verify_or_read_are_unavailable_not_unpaid(
    ali_config, tamper, why
):
    body = tamper(fixture("alipay_trade_query_paid.json"))
    with pytest.raises(GatewayUnavailable) as failure:
        query(ali_config, "ali1", "20261124093000000001", Recorded([(200, {}, body)]))
    assert why in failure.value.message


def test_alipay_outage_is_retried_then_reported(ali_config):
    adapter = Recorded([(503, {}, b"busy"), (502, {}, b""), (504, {}, b"")])
    with pytest.raises(GatewayUnavailable, match=r"HTTP 504 after 3 attempts"):
        query(ali_config, "ali1", "20261124093000000001", adapter)
    assert len(adapter.sent) == 3
    recovered = Recorded([(503, {}, b""), alipay_answer("alipay_trade_query_paid.json")])
    assert query(ali_config, "ali1", "20261124093000000001", recovered).status is QueryStatus.PAID


def test_alipay_bill_url_then_zip_download(ali_config):
    config = {**ali_config, "seller_id": "2088000000000001"}
    adapter = Recorded([alipay_answer("alipay_bill_downloadurl.json"), (200, {}, alipay_zip())])
    statement = get_gateway("alipay").fetch_statement(
        CallContext(config, "ali1", http(adapter), NOW), DAY
    )
    assert len(statement.lines) == 4 and statement.covers_until is None
    assert adapter.sent[1].url.startswith(
        "http://dwbillcenter.alipay.com/downloadBillFile.resource"
    )
    biz = json.loads(dict(parse_qsl(adapter.sent[0].body))["biz_content"])
    assert biz == {"bill_type": "trade", "bill_date": "2026-11-24"}


def test_alipay_bill_of_another_account_or_not_there(ali_config):
    adapter = Recorded([alipay_answer("alipay_bill_downloadurl.json"), (200, {}, alipay_zip())])
    with pytest.raises(StatementUnparseable, match="another Alipay account"):
        get_gateway("alipay").fetch_statement(
            CallContext(ali_config, "ali1", http(adapter), NOW), DAY
        )
    with pytest.raises(StatementNotReady):
        get_gateway("alipay").fetch_statement(
            CallContext(
                ali_config,
                "ali1",
                http(Recorded([alipay_answer("alipay_bill_not_exist.json")])),
                NOW,
            ),
            DAY,
        )


# ------------------------------------------------------------------ WeChat Pay


def test_wechat_query_success_from_a_request_signed_like_the_sdk(wx_config, monkeypatch):
    adapter = Recorded([wechat_answer("wechatpay_query_success.json")])
    result = query(wx_config, "wx1", "20261124093000000011", adapter)
    assert result.status is QueryStatus.PAID
    assert (result.notice.trade_no, result.notice.amount.minor, result.notice.source) == (
        "4200000001202611241111111111",
        5800,
        NoticeSource.QUERY,
    )

    sent = adapter.sent[0]
    assert sent.url == (
        "https://api.mch.weixin.example/v3/pay/transactions/out-trade-no/20261124093000000011"
        "?mchid=1900000109"
    )
    fields = dict(
        part.split("=", 1) for part in sent.headers["Authorization"].split(" ", 1)[1].split(",")
    )
    fields = {k: v.strip('"') for k, v in fields.items()}
    monkeypatch.setattr(time, "time", lambda: int(fields["timestamp"]))
    oracle = wechat_sdk.build_authorization(
        "/v3/pay/transactions/out-trade-no/20261124093000000011?mchid=1900000109",
        "GET",
        "1900000109",
        wx_config["merchant_serial_no"],
        wechat_sdk.load_private_key(wx_config["merchant_private_key"]),
        nonce_str=fields["nonce_str"],
    )
    assert sent.headers["Authorization"] == oracle


def test_wechat_answers_verify_with_the_sdk_as_well(wx_config):
    _status, headers, body = wechat_answer("wechatpay_query_success.json")
    public = wechat_sdk.load_public_key(wx_config["platform_public_key"])
    assert wechat_sdk.rsa_verify(
        headers["Wechatpay-Timestamp"],
        headers["Wechatpay-Nonce"],
        body.decode(),
        headers["Wechatpay-Signature"],
        public,
    )


def test_wechat_not_exist_and_notpay_are_answers(wx_config):
    assert (
        query(
            wx_config, "wx1", "X", Recorded([wechat_answer("wechatpay_query_not_exist.json")])
        ).status
        is QueryStatus.NOT_FOUND
    )
    assert (
        query(
            wx_config,
            "wx1",
            "20261124093000000012",
            Recorded([wechat_answer("wechatpay_query_notpay.json")]),
        ).status
        is QueryStatus.NOT_PAID
    )


@pytest.mark.parametrize(
    "tamper, why",
    [
        (lambda h, b: (h, b.replace(b"5800", b"58", 1)), "does not verify"),
        (
            lambda h, b: ({**h, "Wechatpay-Serial": "PUB_KEY_ID_OTHER"}, b),
            "key this channel does not hold",
        ),
        (
            lambda h, b: ({k: v for k, v in h.items() if k != "Wechatpay-Signature"}, b),
            "unsigned answer",
        ),
    ],
)
def test_wechat_answers_that_do_not_verify_are_unavailable(wx_config, tamper, why):
    status, headers, body = wechat_answer("wechatpay_query_success.json")
    headers, body = tamper(headers, body)
    with pytest.raises(GatewayUnavailable, match=why):
        query(wx_config, "wx1", "20261124093000000011", Recorded([(status, headers, body)]))


def test_wechat_bill_checks_the_signed_hash_of_the_download(wx_config):
    adapter = Recorded([wechat_answer("wechatpay_tradebill.json"), (200, {}, wechat_gzip())])
    statement = get_gateway("wechatpay").fetch_statement(
        CallContext(wx_config, "wx1", http(adapter), NOW), DAY
    )
    assert len(statement.lines) == 3
    bill_request, download = adapter.sent
    assert bill_request.url.endswith(
        "/v3/bill/tradebill?bill_date=2026-11-24&bill_type=ALL&tar_type=GZIP"
    )
    assert download.headers["Authorization"].startswith(wechatpay_api.SCHEMA)
    altered = Recorded(
        [
            wechat_answer("wechatpay_tradebill.json"),
            (200, {}, wechat_gzip(b"x" + fixture("wechatpay_tradebill_ALL_20261124.csv"))),
        ]
    )
    with pytest.raises(StatementUnparseable, match="SHA-1"):
        get_gateway("wechatpay").fetch_statement(
            CallContext(wx_config, "wx1", http(altered), NOW), DAY
        )


# ------------------------------------------------------------------ epay


def test_epay_query_paid_shares_the_notifications_dedupe_key(epay_config):
    answer = {
        "code": 1,
        "msg": "查询订单号成功！",
        "trade_no": "2026112420300011111",
        "out_trade_no": "O1",
        "type": "alipay",
        "pid": int(epay_config["pid"]),
        "addtime": "2026-11-24 20:29:40",
        "endtime": "2026-11-24 20:30:02",
        "name": "VIP会员 月卡",
        "money": "58.00",
        "status": 1,
    }
    adapter = Recorded([json_answer(answer)])
    result = query(epay_config, "ep1", "O1", adapter)
    assert result.status is QueryStatus.PAID
    assert (
        result.notice.dedupe_key == "ep1:2026112420300011111:TRADE_SUCCESS"
    )  # as epay.py's notice
    url = urlsplit(adapter.sent[0].url)
    assert dict(parse_qsl(url.query)) == {
        "act": "order",
        "out_trade_no": "O1",
        "pid": epay_config["pid"],
        "key": epay_config["key"],
    }


@pytest.mark.parametrize(
    "status, expected",
    [
        (0, QueryStatus.NOT_PAID),
        (1, QueryStatus.PAID),
        (2, QueryStatus.REFUNDED),
        (3, QueryStatus.PAID),
    ],
)
def test_epay_query_maps_every_caihong_status(epay_config, status, expected):
    """彩虹易支付: 0 未支付, 1 已支付, 2 已退款 (paid, then refunded: never applied as a payment),
    3 已冻结 (paid, the aggregator holds the funds)."""
    answer = {
        "code": 1,
        "trade_no": "2026112420300011111",
        "out_trade_no": "O1",
        "type": "alipay",
        "pid": int(epay_config["pid"]),
        "addtime": "2026-11-24 20:29:40",
        "endtime": "2026-11-24 20:30:02",
        "money": "58.00",
        "status": status,
        "refundmoney": "20.00" if status == 2 else None,
    }
    result = query(epay_config, "ep1", "O1", Recorded([json_answer(answer)]))
    assert result.status is expected
    if status == 2:
        assert (
            result.notice.kind is NoticeKind.INFO
            and result.notice.refunded_total.format() == "20.00"
        )


def test_epay_query_with_an_unknown_status_is_an_error_never_unpaid(epay_config):
    answer = {
        "code": 1,
        "trade_no": "T",
        "out_trade_no": "O1",
        "pid": int(epay_config["pid"]),
        "money": "58.00",
        "status": 4,
    }
    with pytest.raises(GatewayUnavailable, match="unknown status 4"):
        query(epay_config, "ep1", "O1", Recorded([json_answer(answer)]))


@pytest.mark.parametrize(
    "money", ["0.00", "-58.00", "58.000000000000000000000000000001", "5_8.00", 58.0]
)
def test_epay_query_answer_with_a_non_positive_or_inexact_amount_is_unreadable_never_paid(
    epay_config, money
):
    answer = {
        "code": 1,
        "trade_no": "2026112420300011111",
        "out_trade_no": "O1",
        "type": "alipay",
        "pid": int(epay_config["pid"]),
        "endtime": "2026-11-24 20:30:02",
        "money": money,
        "status": 1,
    }
    with pytest.raises(GatewayUnavailable):
        query(epay_config, "ep1", "O1", Recorded([json_answer(answer)]))


def test_epay_unknown_order_is_not_paid_and_a_wrong_key_is_an_error(epay_config):
    assert (
        query(
            epay_config, "ep1", "O1", Recorded([json_answer({"code": -1, "msg": "订单号不存在"})])
        ).status
        is QueryStatus.NOT_FOUND
    )
    with pytest.raises(GatewayUnavailable, match="code -2"):
        query(epay_config, "ep1", "O1", Recorded([json_answer({"code": -2, "msg": "KEY校验失败"})]))


def test_epay_key_never_reaches_an_error(epay_config):
    refused = Recorded(lambda request: (0, {}, requests.ConnectionError(f"refused: {request.url}")))
    with pytest.raises(GatewayUnavailable) as failure:
        query(epay_config, "ep1", "O1", refused)
    assert epay_config["key"] not in str(failure.value) + json.dumps(failure.value.details)


def test_urllib3_log_lines_have_the_key_masked(caplog):
    import logging

    from chalicelib.gateways._http import redact_url

    assert (
        redact_url("GET /api.php?act=order&pid=1&key=SECRET&x=1")
        == "GET /api.php?act=order&pid=1&key=***&x=1"
    )
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        logging.getLogger("urllib3.connectionpool").debug(
            '"%s %s"', "GET", "/api.php?act=order&key=SECRET"
        )
    assert "SECRET" not in caplog.text and "key=***" in caplog.text


# ------------------------------------------------------------------ Stripe


def intent(status: str = "succeeded", refunded: bool = False) -> dict:
    return {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 799,
        "amount_received": 799,
        "currency": "usd",
        "status": status,
        "created": 1795574000,
        "metadata": {"order_id": "O1"},
        "client_secret": "pi_1_secret",
        "latest_charge": {
            "id": "ch_1",
            "created": 1795574010,
            "refunded": refunded,
            "amount_refunded": 799 if refunded else 0,
        },
    }


def test_stripe_query_searches_by_order_id_or_reads_the_known_intent(stripe_config):
    adapter = Recorded(
        [json_answer({"object": "search_result", "data": [intent()], "has_more": False})]
    )
    result = query(stripe_config, "st1", "O1", adapter)
    assert result.status is QueryStatus.PAID and result.notice.payment_ref == "pi_1"
    assert result.notice.amount.minor == 799 and result.notice.amount.currency == "USD"
    assert result.notice.raw["client_secret"] == "***" and "pi_1_secret" not in repr(
        result.notice.raw
    )
    assert "query=metadata%5B%27order_id%27%5D%3A%27O1%27" in adapter.sent[0].url
    known = Recorded([json_answer(intent())])
    assert query(stripe_config, "st1", "O1", known, trade_no="pi_1").status is QueryStatus.PAID
    assert known.sent[0].url.startswith("https://api.stripe.example/v1/payment_intents/pi_1?")


@pytest.mark.parametrize(
    "found, status",
    [
        ([], QueryStatus.NOT_FOUND),
        ([intent("requires_payment_method")], QueryStatus.NOT_PAID),
        ([intent("canceled")], QueryStatus.CLOSED),
        ([intent(refunded=True)], QueryStatus.REFUNDED),
    ],
)
def test_stripe_query_answers(stripe_config, found, status):
    adapter = Recorded([json_answer({"object": "search_result", "data": found, "has_more": False})])
    assert query(stripe_config, "st1", "O1", adapter).status is status


def test_stripe_unknown_intent_is_not_found_and_a_bad_key_is_an_error(stripe_config):
    missing = Recorded([json_answer({"error": {"code": "resource_missing"}}, 404)])
    assert (
        query(stripe_config, "st1", "O1", missing, trade_no="pi_x").status is QueryStatus.NOT_FOUND
    )
    with pytest.raises(GatewayUnavailable, match="HTTP 401"):
        query(
            stripe_config,
            "st1",
            "O1",
            Recorded([json_answer({"error": {"type": "invalid_request_error"}}, 401)]),
        )
