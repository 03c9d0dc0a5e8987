"""What the simulator sends and how it retries, checked against each gateway's own SDK where one
exists (GATEWAYS.md oracles), so nothing here leans on the simulator's signing code."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import time

import pytest
import stripe
from alipay import AliPay
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from wechatpayv3.utils import aes_decrypt, rsa_verify

from local.sim.alipay import AlipaySim

CURRENCY = {"alipay-main": "CNY", "wxpay-main": "CNY", "epay-main": "CNY", "stripe-main": "USD"}
ORDER = "ORD20261125143012000001"


def alipay_verifies(cfg, received) -> bool:
    params = received.params()
    sign = params.pop("sign")
    sdk = AliPay(
        appid=cfg["app_id"],
        app_private_key_string=cfg["app_private_key"],
        alipay_public_key_string=cfg["alipay_public_key"],
    )
    return sdk.verify(params, sign)


def wechat_verifies(cfg, received) -> bool:
    return rsa_verify(
        received.header("Wechatpay-Timestamp"),
        received.header("Wechatpay-Nonce"),
        received.body.decode(),
        received.header("Wechatpay-Signature"),
        load_pem_public_key(cfg["platform_public_key"].encode()),
    )


def epay_verifies(cfg, received) -> bool:
    """彩虹 epay's rule, written out here independently of local.sim_signing."""
    params = received.params()
    sign, _ = params.pop("sign"), params.pop("sign_type")
    text = "&".join(f"{k}={params[k]}" for k in sorted(params) if params[k] != "") + cfg["key"]
    return hmac.compare_digest(hashlib.md5(text.encode()).hexdigest(), sign)


def stripe_verifies(cfg, received) -> bool:
    try:
        stripe.WebhookSignature.verify_header(
            received.body.decode(),
            received.header("Stripe-Signature"),
            cfg["webhook_secret"],
            tolerance=300,
        )
    except stripe.SignatureVerificationError:
        return False
    return True


VERIFIES = {
    "alipay-main": alipay_verifies,
    "wxpay-main": wechat_verifies,
    "epay-main": epay_verifies,
    "stripe-main": stripe_verifies,
}


def wechat_plain(cfg, received) -> dict:
    resource = json.loads(received.body)["resource"]
    return json.loads(
        aes_decrypt(
            resource["nonce"], resource["ciphertext"], resource["associated_data"], cfg["apiv3_key"]
        )
    )


def settled(event_or_trade, outcome="accepted"):
    assert event_or_trade.wait_settled(5)
    event = getattr(event_or_trade, "event", event_or_trade)
    assert event.outcome == outcome
    return event


# --- wire formats -------------------------------------------------------------------------------


def test_alipay_payment_notification(make_sim, receiver, channels):
    trade = make_sim().pay("alipay-main", ORDER, "58.00", subject="Steam 充值卡 50元")
    settled(trade)
    [got] = receiver.requests
    params, cfg = got.params(), channels["alipay-main"]
    assert (got.method, got.path) == ("POST", "/notify/alipay-main")
    assert got.header("Content-Type").startswith("application/x-www-form-urlencoded")
    assert alipay_verifies(cfg, got)
    assert params["notify_id"] == trade.event.notice.event_key
    assert (
        re.fullmatch(r"\d{8}22001\d{15}", params["trade_no"])
        and params["trade_no"] == trade.trade_no
    )
    assert {
        k: params[k]
        for k in (
            "notify_type",
            "charset",
            "version",
            "sign_type",
            "app_id",
            "seller_id",
            "out_trade_no",
            "trade_status",
            "subject",
        )
    } == {
        "notify_type": "trade_status_sync",
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "app_id": cfg["app_id"],
        "seller_id": cfg["seller_id"],
        "out_trade_no": ORDER,
        "trade_status": "TRADE_SUCCESS",
        "subject": "Steam 充值卡 50元",
    }
    for field in ("total_amount", "receipt_amount", "buyer_pay_amount", "invoice_amount"):
        assert params[field] == "58.00"
    assert params["point_amount"] == "0.00"
    for field in ("gmt_create", "gmt_payment", "notify_time"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", params[field])


def test_wechat_payment_notification(make_sim, receiver, channels):
    trade = make_sim().pay("wxpay-main", ORDER, "58.00")
    settled(trade)
    [got] = receiver.requests
    cfg, body = channels["wxpay-main"], json.loads(receiver.requests[0].body)
    assert wechat_verifies(cfg, got)
    assert got.header("Wechatpay-Serial") == cfg["platform_public_key_id"]
    assert got.header("Wechatpay-Signature-Type") == "WECHATPAY2-SHA256-RSA2048"
    assert abs(int(got.header("Wechatpay-Timestamp")) - time.time()) < 5
    assert body["id"] == trade.event.notice.event_key
    assert (body["resource_type"], body["event_type"]) == (
        "encrypt-resource",
        "TRANSACTION.SUCCESS",
    )
    assert body["create_time"].endswith("+08:00")
    assert body["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    plain = wechat_plain(cfg, got)
    assert {
        k: plain[k] for k in ("mchid", "appid", "out_trade_no", "transaction_id", "trade_state")
    } == {
        "mchid": cfg["mchid"],
        "appid": cfg["appid"],
        "out_trade_no": ORDER,
        "transaction_id": trade.trade_no,
        "trade_state": "SUCCESS",
    }
    assert plain["amount"] == {
        "total": 5800,
        "payer_total": 5800,
        "currency": "CNY",
        "payer_currency": "CNY",
    }


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_epay_payment_notification(make_sim, receiver, channels, method):
    trade = make_sim(epay_notify_method=method).pay(
        "epay-main", ORDER, "58.00", subject="VIP会员 月卡"
    )
    settled(trade)
    [got] = receiver.requests
    assert got.method == method and bool(got.query) == (method == "GET")
    assert epay_verifies(channels["epay-main"], got)
    params = got.params()
    assert params["type"] in ("alipay", "wxpay")
    assert {
        k: params[k]
        for k in ("pid", "trade_no", "out_trade_no", "name", "money", "trade_status", "sign_type")
    } == {
        "pid": "1001",
        "trade_no": trade.trade_no,
        "out_trade_no": ORDER,
        "name": "VIP会员 月卡",
        "money": "58.00",
        "trade_status": "TRADE_SUCCESS",
        "sign_type": "MD5",
    }


def test_stripe_payment_notification(make_sim, receiver, channels):
    trade = make_sim().pay("stripe-main", ORDER, "19.99", "USD")
    settled(trade)
    [got] = receiver.requests
    assert stripe_verifies(channels["stripe-main"], got)
    event = json.loads(got.body)
    session = event["data"]["object"]
    assert (event["id"], event["type"]) == (
        trade.event.notice.event_key,
        "checkout.session.completed",
    )
    assert {
        k: session[k]
        for k in (
            "client_reference_id",
            "amount_total",
            "currency",
            "payment_status",
            "payment_intent",
        )
    } == {
        "client_reference_id": ORDER,
        "amount_total": 1999,
        "currency": "usd",
        "payment_status": "paid",
        "payment_intent": trade.trade_no,
    }
    assert session["metadata"] == {"order_id": ORDER} and trade.trade_no.startswith("pi_")


@pytest.mark.parametrize("channel", sorted(VERIFIES))
def test_forged_notification_does_not_verify(make_sim, receiver, channels, channel):
    sim = make_sim()
    settled(sim.pay(channel, ORDER, "58.00", CURRENCY[channel]))
    receiver.answers = [(400, "bad signature")]
    forged = sim.pay(channel, "ORD20261125143012000002", "58.00", CURRENCY[channel], forged=True)
    assert forged.event.wait_answered(5)
    genuine, fake = receiver.requests[:2]
    assert VERIFIES[channel](channels[channel], genuine)
    assert not VERIFIES[channel](channels[channel], fake)


# --- retries ------------------------------------------------------------------------------------


def test_retries_until_success_then_stops(make_sim, receiver):
    receiver.answers = [(200, "fail"), (200, "fail"), (200, "success")]
    sim = make_sim()
    trade = sim.pay("alipay-main", ORDER, "58.00")
    settled(trade)
    time.sleep(AlipaySim.retry_delays_s[2] * sim.time_scale * 2)  # past the next retry's time
    assert [a.body for a in trade.attempts] == ["fail", "fail", "success"]
    assert [a.accepted for a in trade.attempts] == [False, False, True]
    assert len(receiver.requests) == 3
    assert len({r.params()["notify_id"] for r in receiver.requests}) == 1
    gaps = [b.at - a.at for a, b in itertools.pairwise(trade.attempts)]
    for gap, delay in zip(gaps, AlipaySim.retry_delays_s[: len(gaps)], strict=True):
        assert gap.total_seconds() >= delay * sim.time_scale * 0.9


def test_gives_up_when_the_schedule_runs_out(make_sim, receiver):
    receiver.answers = [(500, "oops")]
    trade = make_sim(time_scale=1e-5).pay("alipay-main", ORDER, "58.00")  # 25 h in 0.9 s
    settled(trade, "exhausted")
    assert len(trade.attempts) == len(AlipaySim.retry_delays_s) + 1 == len(receiver.requests)


def test_no_answer_counts_as_a_failed_attempt(make_sim, receiver):
    url = receiver.url
    receiver.close()
    trade = make_sim(time_scale=1e-5, api_url=url).pay("epay-main", ORDER, "1.00")
    settled(trade, "exhausted")
    assert all(a.status is None and not a.accepted for a in trade.attempts)


@pytest.mark.parametrize(
    "answer, accepted",
    [
        ((200, "success"), True),
        ((200, "SUCCESS"), False),
        ((200, "success\n"), False),
        ((500, "fail"), False),
    ],
)
def test_alipay_takes_only_exactly_success(make_sim, receiver, answer, accepted):
    receiver.answers = [answer]
    trade = make_sim(time_scale=1000).pay("alipay-main", ORDER, "1.00")
    assert trade.event.wait_answered(5)
    assert trade.attempts[0].accepted is accepted


@pytest.mark.parametrize(
    "channel, answer, accepted",
    [
        ("wxpay-main", (204, ""), True),
        ("wxpay-main", (200, ""), True),
        ("wxpay-main", (202, ""), False),
        ("wxpay-main", (500, '{"code":"FAIL"}'), False),
        ("stripe-main", (202, ""), True),
        ("stripe-main", (400, "bad"), False),
        ("epay-main", (200, "ok: success"), True),
        ("epay-main", (200, "fail"), False),
    ],
)
def test_success_answers_per_gateway(make_sim, receiver, channel, answer, accepted):
    receiver.answers = [answer]
    trade = make_sim(time_scale=1000).pay(channel, ORDER, "1.00", CURRENCY[channel])
    assert trade.event.wait_answered(5)
    assert trade.attempts[0].accepted is accepted


def test_close_stops_pending_retries(make_sim, receiver):
    receiver.answers = [(200, "fail")]
    sim = make_sim(time_scale=1.0)
    trade = sim.pay("alipay-main", ORDER, "1.00")
    assert trade.event.wait_answered(5)
    sim.close()
    assert trade.event.outcome == "stopped" and len(receiver.requests) == 1


# --- duplicates, refunds, closes ----------------------------------------------------------------


@pytest.mark.parametrize("channel", ["alipay-main", "wxpay-main"])
def test_resend_repeats_the_notification_byte_for_byte(make_sim, receiver, channels, channel):
    sim = make_sim()
    trade = sim.pay(channel, ORDER, "58.00")
    settled(trade)
    again = sim.resend(trade)
    settled(again)
    first, second = receiver.requests
    assert first.body == second.body and again.notice.event_key == trade.event.notice.event_key
    assert again.resend_of == trade.event.seq and again.seq != trade.event.seq
    assert VERIFIES[channel](channels[channel], second)


def test_second_payment_is_a_distinct_trade(make_sim, receiver):
    sim = make_sim()
    first, second = (sim.pay("alipay-main", ORDER, "58.00") for _ in range(2))
    settled(first), settled(second)
    assert first.trade_no != second.trade_no
    assert first.event.notice.event_key != second.event.notice.event_key


def test_alipay_refunds_partial_then_full(make_sim, receiver, channels):
    sim = make_sim()
    trade = sim.pay("alipay-main", ORDER, "58.00")
    settled(trade)
    settled(sim.refund("alipay-main", ORDER, "8.00"))
    settled(sim.refund("alipay-main", ORDER, "50.00"))
    _, partial, full = receiver.requests
    assert all(alipay_verifies(channels["alipay-main"], r) for r in (partial, full))
    partial, full = partial.params(), full.params()
    assert (partial["trade_status"], partial["refund_fee"], partial["trade_no"]) == (
        "TRADE_SUCCESS",
        "8.00",
        trade.trade_no,
    )
    assert (full["trade_status"], full["refund_fee"], full["total_amount"]) == (
        "TRADE_CLOSED",
        "58.00",
        "58.00",
    )
    assert "gmt_refund" in partial and "gmt_refund" in full and "gmt_close" in full
    with pytest.raises(ValueError):
        sim.refund("alipay-main", ORDER, "0.01")


def test_wechat_refund_notification(make_sim, receiver, channels):
    sim = make_sim()
    trade = sim.pay("wxpay-main", ORDER, "58.00")
    settled(trade)
    settled(sim.refund("wxpay-main", ORDER, "8.00"))
    got = receiver.requests[1]
    assert wechat_verifies(channels["wxpay-main"], got)
    assert json.loads(got.body)["event_type"] == "REFUND.SUCCESS"
    plain = wechat_plain(channels["wxpay-main"], got)
    assert (plain["refund_status"], plain["transaction_id"], plain["out_trade_no"]) == (
        "SUCCESS",
        trade.trade_no,
        ORDER,
    )
    assert plain["amount"] == {
        "total": 5800,
        "refund": 800,
        "payer_total": 5800,
        "payer_refund": 800,
    }


def test_stripe_charge_refunded_carries_the_running_total(make_sim, receiver):
    sim = make_sim()
    settled(sim.pay("stripe-main", ORDER, "19.99", "USD"))
    settled(sim.refund("stripe-main", ORDER, "9.99"))
    settled(sim.refund("stripe-main", ORDER, "10.00"))
    charges = [json.loads(r.body)["data"]["object"] for r in receiver.requests[1:]]
    assert [(c["amount_refunded"], c["refunded"]) for c in charges] == [(999, False), (1999, True)]


def test_epay_sends_no_refund_notification(make_sim, receiver):
    sim = make_sim()
    settled(sim.pay("epay-main", ORDER, "58.00"))
    assert sim.refund("epay-main", ORDER, "58.00") is None
    assert len(receiver.requests) == 1


def test_refund_needs_a_real_payment(make_sim):
    sim = make_sim()
    sim.pay("alipay-main", ORDER, "58.00", forged=True)
    with pytest.raises(LookupError):
        sim.refund("alipay-main", ORDER, "1.00")


def test_close_trade_notifies_where_the_gateway_does(make_sim, receiver, channels):
    sim = make_sim()
    settled(sim.close_trade("alipay-main", ORDER, "58.00"))
    settled(sim.close_trade("stripe-main", ORDER, "19.99", "USD"))
    assert sim.close_trade("wxpay-main", ORDER, "58.00") is None
    assert sim.close_trade("epay-main", ORDER, "58.00") is None
    alipay, stripe_event = receiver.requests
    assert alipay_verifies(channels["alipay-main"], alipay)
    params = alipay.params()
    assert (params["trade_status"], params["total_amount"]) == ("TRADE_CLOSED", "58.00")
    assert "gmt_payment" not in params and "gmt_close" in params
    event = json.loads(stripe_event.body)
    assert event["type"] == "checkout.session.expired"
    assert event["data"]["object"]["payment_status"] == "unpaid"


def test_a_paid_trade_is_refunded_not_closed(make_sim):
    sim = make_sim()
    sim.pay("alipay-main", ORDER, "58.00")
    with pytest.raises(ValueError):
        sim.close_trade("alipay-main", ORDER, "58.00")


# --- configuration ------------------------------------------------------------------------------


def test_unknown_channel_and_bad_amounts_are_refused(make_sim):
    sim = make_sim()
    with pytest.raises(ValueError, match="unknown channel"):
        sim.pay("nope", ORDER, "1.00")
    for amount in ("0", "-1", "1.001", "abc"):
        with pytest.raises(ValueError):
            sim.pay("alipay-main", ORDER, amount)
    with pytest.raises(ValueError):
        sim.pay("alipay-main", ORDER, "1.00", "USD")
