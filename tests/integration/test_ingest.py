"""/notify/{channel} under moto: every ingestion case with the stored state asserted."""

from __future__ import annotations

import json

import pytest

from chalicelib.store import orders as order_store
from chalicelib.store.models import AnomalyModel, AuditModel, NoticeModel, OrderModel
from tests.support import notifications as wires

SUCCESS = {"alipay": (200, "success"), "epay": (200, "success")}


def paid_wire(kind: str, order_no: str, **kw):
    return {
        "alipay": lambda: wires.alipay(order_no, "58.00", **kw),
        "wechat": lambda: wires.wechat(order_no, 5800, **kw),
        "epay": lambda: wires.epay(order_no, "58.00", **kw),
        "stripe": lambda: wires.stripe(order_no, 5800, "cny", **kw),
    }[kind]()


CHANNEL = {
    "alipay": "alipay-main",
    "wechat": "wxpay-main",
    "epay": "epay-main",
    "stripe": "stripe-main",
}


def is_success(kind: str, response) -> bool:
    if kind in ("alipay", "epay"):
        return response.status_code == 200 and response.body == b"success"
    return 200 <= response.status_code < 300


def register(api, kind: str, **fields) -> str:
    response = api.register(channel=CHANNEL[kind], **fields)
    assert response.status_code in (200, 201), response.body
    return api.json(response)["order_no"]


def audit_items():
    return [item for item in AuditModel.scan() if item.kind == "notify"]


@pytest.mark.parametrize("kind", ["alipay", "wechat", "epay", "stripe"])
def test_payment_applies_once_and_answers_in_protocol(api, kind):
    order_no = register(api, kind)
    wire = paid_wire(kind, order_no)
    for _ in range(4):
        response = api.send(wire)
        assert is_success(kind, response), (response.status_code, response.body)
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and not order.on_hold
    assert order.paid_amount.minor == 5800 and len(order.payments) == 1
    assert [e.type for e in order.timeline] == ["created", "payment"]
    notices = list(NoticeModel.scan())
    assert len(notices) == 1 and len(notices[0].attempts) == 4
    assert notices[0].out_trade_no == order_no
    assert audit_items() == []  # accepted deliveries are audited inside the notice
    shop_view = api.json(api.call("GET", f"/orders/{order_no}"))
    assert shop_view["pay_status"] == "paid" and shop_view["hold"] is False


def test_answers_exact_protocol_shapes(api):
    order_no = register(api, "wechat")
    ok = api.send(wires.wechat(order_no, 5800))
    assert ok.status_code == 204 and ok.body in (b"", None)
    bad = api.send(wires.wechat(order_no, 5800, forged=True))
    assert 400 <= bad.status_code < 500 and json.loads(bad.body)["code"] == "FAIL"
    alipay_bad = api.send(wires.alipay(order_no, "58.00", forged=True))
    assert alipay_bad.status_code == 200 and alipay_bad.body == b"fail"
    stripe_bad = api.send(wires.stripe(order_no, 5800, forged=True))
    assert stripe_bad.status_code == 400


@pytest.mark.parametrize("kind", ["alipay", "wechat", "epay", "stripe"])
def test_forged_is_rejected_audited_and_changes_nothing(api, kind):
    order_no = register(api, kind)
    response = api.send(paid_wire(kind, order_no, forged=True))
    assert not is_success(kind, response) and response.status_code < 500
    assert order_store.get(order_no).pay_status.value == "pending"
    assert NoticeModel.count() == 0
    [record] = audit_items()
    assert record.verification == "bad_signature" and record.outcome == "rejected"
    assert record.channel == CHANNEL[kind] and record.answer_status == response.status_code
    assert record.payload and record.expires is not None


def test_unknown_order_is_kept_then_applied_once_on_registration(api):
    wire = wires.alipay("ORD-LATER-1", "58.00")
    first = api.send(wire)
    assert first.status_code == 200 and first.body == b"fail"
    assert NoticeModel.count() == 1 and OrderModel.count() == 0
    [record] = audit_items()
    assert record.outcome == "unknown_order" and record.answer_body == "fail"
    register(api, "alipay", order_no="ORD-LATER-1")
    order = order_store.get("ORD-LATER-1")
    assert order.pay_status.value == "paid" and len(order.payments) == 1
    retry = api.send(wire)
    assert retry.body == b"success"
    order = order_store.get("ORD-LATER-1")
    assert len(order.payments) == 1 and [e.type for e in order.timeline] == ["created", "payment"]


def test_unknown_order_wechat_is_4xx_not_5xx(api):
    response = api.send(wires.wechat("ORD-LATER-2", 5800))
    assert response.status_code == 409 and json.loads(response.body)["code"] == "FAIL"


def test_amount_mismatch_pays_and_holds(api):
    order_no = register(api, "alipay")
    assert api.send(wires.alipay(order_no, "0.01")).body == b"success"
    order = order_store.get(order_no)
    assert (
        order.pay_status.value == "paid"
        and order.on_hold
        and order.hold_reasons == ["amount_mismatch"]
    )
    assert order.paid_amount.minor == 1
    assert api.json(api.call("GET", f"/orders/{order_no}"))["hold"] is True


def test_second_distinct_payment_holds_and_records_both(api):
    order_no = register(api, "alipay")
    assert api.send(wires.alipay(order_no, "58.00")).body == b"success"
    assert api.send(wires.alipay(order_no, "58.00")).body == b"success"
    order = order_store.get(order_no)
    assert len(order.payments) == 2 and order.hold_reasons == ["duplicate_payment"]


def test_same_payment_finished_event_is_not_a_duplicate(api):
    order_no = register(api, "alipay")
    api.send(wires.alipay(order_no, "58.00", trade_no="T-SAME"))
    api.send(wires.alipay(order_no, "58.00", trade_no="T-SAME", status="TRADE_FINISHED"))
    order = order_store.get(order_no)
    assert len(order.payments) == 1 and not order.on_hold


def test_payment_after_expiry_is_late_and_held(api, clock):
    from chalicelib.services import jobs

    order_no = register(api, "epay")
    clock.advance(minutes=26)  # past its expiry (15 minutes) and the grace for an unanswered query
    assert jobs.expire_orders()["expired"] == 1
    assert order_store.get(order_no).pay_status.value == "expired"
    assert api.send(wires.epay(order_no, "58.00")).body == b"success"
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and order.hold_reasons == ["late_payment"]


def test_refunds_partial_and_full(api):
    ali = register(api, "alipay")
    api.send(wires.alipay(ali, "58.00", trade_no="T-R"))
    api.send(
        wires.alipay(
            ali,
            "58.00",
            trade_no="T-R",
            extra={"refund_fee": "8.00", "gmt_refund": "2026-11-25 10:00:00"},
        )
    )
    order = order_store.get(ali)
    assert order.pay_status.value == "partially_refunded" and order.refunded_amount.minor == 800
    api.send(
        wires.alipay(
            ali,
            "58.00",
            trade_no="T-R",
            status="TRADE_CLOSED",
            extra={"refund_fee": "58.00", "gmt_refund": "2026-11-25 10:05:00"},
        )
    )
    assert order_store.get(ali).pay_status.value == "refunded"

    wx = register(api, "wechat")
    api.send(wires.wechat(wx, 5800, transaction_id="4200-W"))
    assert (
        api.send(
            wires.wechat(
                wx, 5800, transaction_id="4200-W", event_type="REFUND.SUCCESS", refund_fen=1000
            )
        ).status_code
        == 204
    )
    order = order_store.get(wx)
    assert order.pay_status.value == "partially_refunded" and order.refunded_amount.minor == 1000

    st = register(api, "stripe", currency="USD", amount="58.00")
    api.send(wires.stripe(st, 5800, "usd", payment_intent="pi_X"))
    api.send(wires.stripe(st, 5800, "usd", payment_intent="pi_X", event_type="charge.refunded"))
    assert order_store.get(st).pay_status.value == "refunded"


def test_close_event_closes_pending_order(api):
    order_no = register(api, "alipay")
    assert api.send(wires.alipay(order_no, "58.00", status="TRADE_CLOSED")).body == b"success"
    assert order_store.get(order_no).pay_status.value == "closed"


def test_refund_for_unpaid_order_is_refused_but_acknowledged(api):
    order_no = register(api, "wechat")
    response = api.send(wires.wechat(order_no, 5800, event_type="REFUND.SUCCESS"))
    assert response.status_code == 204
    order = order_store.get(order_no)
    assert order.pay_status.value == "pending" and order.timeline[-1].type == "conflict"


def test_unknown_channel_is_404_and_audited(api):
    response = api.send(
        wires.Wire("nope", "POST", b"a=b", {"Content-Type": "application/x-www-form-urlencoded"})
    )
    assert response.status_code == 404
    assert json.loads(response.body)["error"]["code"] == "unknown_channel"
    [record] = audit_items()
    assert record.verification == "unknown_channel" and record.channel == "nope"


@pytest.mark.parametrize("kind", ["alipay", "wechat", "stripe"])
def test_oversized_body_is_refused(api, kind):
    wire = paid_wire(kind, "ORD-BIG")
    wire.body = wire.body + b"x" * (64 * 1024)
    response = api.send(wire)
    assert not is_success(kind, response) and response.status_code < 500
    [record] = audit_items()
    assert record.verification == "too_large"


@pytest.mark.parametrize(
    "body,ctype",
    [
        (b"", "application/x-www-form-urlencoded"),
        (b"%%%===&&&", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
        (b"{}", "application/json"),
    ],
)
def test_malformed_alipay_is_fail_not_500(api, body, ctype):
    response = api.send(wires.Wire("alipay-main", "POST", body, {"Content-Type": ctype}))
    assert response.status_code == 200 and response.body == b"fail"
    assert NoticeModel.count() == 0 and len(audit_items()) == 1


@pytest.mark.parametrize("body", [b"", b"not json", b'{"id": 1}', b"[]", b"\xff"])
def test_malformed_wechat_and_stripe_are_4xx(api, body):
    for channel in ("wxpay-main", "stripe-main"):
        response = api.send(wires.Wire(channel, "POST", body, {"Content-Type": "application/json"}))
        assert 400 <= response.status_code < 500, (channel, body, response.status_code)
    assert NoticeModel.count() == 0


@pytest.mark.parametrize("kind", ["wechat", "stripe"])
def test_validly_signed_deeply_nested_body_is_refused_and_audited(api, kind):
    """A body nested past the JSON parser's recursion limit, signed with the channel's real key:
    refused in the gateway's protocol (no 500), audited, nothing stored."""
    order_no = register(api, kind)
    signed = paid_wire(kind, order_no)
    nested = (
        b'{"id": "EV-nested", "event_type": "TRANSACTION.SUCCESS", "deep": '
        + b"[" * 5_000
        + b"]" * 5_000
        + b"}"
    )
    headers = {**signed.headers, **signed.signer(nested)}
    response = api.send(wires.Wire(signed.channel, "POST", nested, headers))
    assert 400 <= response.status_code < 500, (response.status_code, response.body)
    assert NoticeModel.count() == 0 and order_store.get(order_no).pay_status.value == "pending"
    [record] = audit_items()
    assert record.verification == "malformed" and record.outcome == "rejected"


def test_epay_post_form_also_works(api):
    order_no = register(api, "epay")
    assert api.send(wires.epay(order_no, "58.00", method="POST")).body == b"success"
    assert order_store.get(order_no).pay_status.value == "paid"


def test_wechat_stale_timestamp_rejected(api):
    order_no = register(api, "wechat")
    response = api.send(wires.wechat(order_no, 5800, skew_s=-301))
    assert 400 <= response.status_code < 500
    assert order_store.get(order_no).pay_status.value == "pending"
    assert audit_items()[0].verification == "stale_timestamp"


def test_stripe_old_timestamp_rejected(api):
    order_no = register(api, "stripe", currency="USD")
    response = api.send(wires.stripe(order_no, 5800, age_s=301))
    assert response.status_code == 400


def test_stripe_refund_without_order_metadata_finds_order_by_payment(api):
    order_no = register(api, "stripe", currency="USD")
    api.send(wires.stripe(order_no, 5800, payment_intent="pi_ONLY"))
    refund = wires.stripe("", 5800, payment_intent="pi_ONLY", event_type="charge.refunded")
    assert api.send(refund).status_code == 200
    assert order_store.get(order_no).pay_status.value == "refunded"


def test_stripe_refund_for_unknown_payment_is_retryable_and_audited(api):
    refund = wires.stripe("", 5800, payment_intent="pi_NEVER", event_type="charge.refunded")
    response = api.send(refund)
    assert response.status_code == 409 and NoticeModel.count() == 0
    assert audit_items()[0].outcome == "unknown_order"


# ------------------------------------------------------------------ issue 10: money and notice integrity


def test_payment_on_another_channel_is_recorded_and_held_never_delivered(api):
    """Defect 1: a validly signed epay notice paid an Alipay order, with no hold."""
    order_no = register(api, "alipay")
    assert api.send(wires.epay(order_no, "58.00")).body == b"success"
    order = order_store.get(order_no)
    assert (
        order.pay_status.value == "paid"
        and order.on_hold
        and order.hold_reasons == ["channel_mismatch"]
    )
    assert [(p.channel, p.amount.minor) for p in order.payments] == [("epay-main", 5800)]
    assert NoticeModel.count() == 1
    assert api.json(api.call("GET", f"/orders/{order_no}"))["hold"] is True
    refused = api.call("POST", f"/orders/{order_no}/delivery", {"status": "delivered"})
    assert refused.status_code == 409 and order_store.get(order_no).delivery_status.value == "held"


def test_a_notice_kept_for_a_later_order_of_another_channel_holds_it_on_registration(api):
    assert api.send(wires.epay("ORD-LATE-CH", "58.00")).body == b"fail"
    register(api, "alipay", order_no="ORD-LATE-CH")
    order = order_store.get("ORD-LATE-CH")
    assert order.pay_status.value == "paid" and order.hold_reasons == ["channel_mismatch"]


def test_a_close_from_another_channel_changes_nothing(api):
    order_no = register(api, "epay")
    assert api.send(wires.alipay(order_no, "58.00", status="TRADE_CLOSED")).body == b"success"
    order = order_store.get(order_no)
    assert order.pay_status.value == "pending" and order.timeline[-1].type == "conflict"


# a signed decimal with a sign is not an amount (malformed); zero, or a negative integer of minor
# units (WeChat, Stripe), reads but is refused as non_positive_amount
NEGATIVE_TEXT, NOT_POSITIVE = ("malformed", "must not be negative"), ("non_positive_amount", "")
NON_POSITIVE = [
    ("epay", lambda o: wires.epay(o, "-1.00"), NEGATIVE_TEXT),
    ("epay", lambda o: wires.epay(o, "0.00"), NOT_POSITIVE),
    ("epay", lambda o: wires.epay(o, "-58.00", method="POST"), NEGATIVE_TEXT),
    ("alipay", lambda o: wires.alipay(o, "0.00"), NOT_POSITIVE),
    ("alipay", lambda o: wires.alipay(o, "-58.00"), NEGATIVE_TEXT),
    ("wechat", lambda o: wires.wechat(o, 0), NOT_POSITIVE),
    ("wechat", lambda o: wires.wechat(o, -5800), NOT_POSITIVE),
    ("stripe", lambda o: wires.stripe(o, 0, "cny"), NOT_POSITIVE),
    ("stripe", lambda o: wires.stripe(o, -5800, "cny"), NOT_POSITIVE),
]


@pytest.mark.parametrize("kind,wire,refusal", NON_POSITIVE)
def test_a_signed_non_positive_payment_is_refused_in_protocol_and_audited(api, kind, wire, refusal):
    """Defect 2: epay money=-1.00 was answered success and the order booked paid -1.00."""
    order_no = register(api, kind)
    response = api.send(wire(order_no))
    assert not is_success(kind, response) and response.status_code < 500
    if kind in ("alipay", "epay"):
        assert (response.status_code, response.body) == (200, b"fail")
    assert order_store.get(order_no).pay_status.value == "pending"
    assert NoticeModel.count() == 0
    [record] = audit_items()
    assert (record.verification, record.outcome) == (refusal[0], "rejected")
    assert refusal[1] in record.detail["why"] and record.answer_status == response.status_code


@pytest.mark.parametrize(
    "kind,wire",
    [
        ("epay", lambda o: wires.epay(o, "58.000000000000000000000000000001")),
        ("epay", lambda o: wires.epay(o, "5_8.00")),
        ("epay", lambda o: wires.epay(o, "5.8e1")),
        ("alipay", lambda o: wires.alipay(o, "58.000000000000000000000000000001")),
        ("alipay", lambda o: wires.alipay(o, "５８.00")),
    ],
)
def test_a_signed_amount_that_is_not_exact_is_refused_never_rounded(api, kind, wire):
    """Defect 3: "58.000…01" was read as 58.00 and paid the 58.00 order."""
    order_no = register(api, kind)
    response = api.send(wire(order_no))
    assert response.status_code == 200 and response.body == b"fail"
    assert order_store.get(order_no).pay_status.value == "pending" and NoticeModel.count() == 0
    assert audit_items()[0].verification == "malformed"


def test_a_payment_in_a_currency_its_channel_does_not_declare_is_held(api, declare_currencies):
    order_no = register(api, "stripe", currency="USD")
    declare_currencies("stripe-main", ["EUR"])
    assert api.send(wires.stripe(order_no, 5800, "usd")).status_code == 200
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and order.hold_reasons == ["currency_mismatch"]


def test_epay_get_with_a_repeated_parameter_is_refused_and_the_raw_query_audited(api):
    """Defect 8: `money=0.01&…&money=58.00` was collapsed to its last value, verified, and paid."""
    order_no = register(api, "epay")
    wire = wires.epay(order_no, "58.00")
    wire.query = "money=0.01&" + wire.query
    response = api.send(wire)
    assert response.body == b"fail"
    assert order_store.get(order_no).pay_status.value == "pending" and NoticeModel.count() == 0
    [record] = audit_items()
    assert record.verification == "malformed" and "money is repeated" in record.detail["why"]
    assert record.payload.startswith("?money=0.01&") and "money=58.00" in record.payload


def _signed_stripe(event_type: str, obj: dict) -> wires.Wire:
    import time

    from local import sim_signing

    event = {
        "id": f"evt_{event_type}",
        "object": "event",
        "type": event_type,
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }
    body = sim_signing.compact_json(event)
    header = sim_signing.stripe_signature_header(
        wires.CHANNELS["stripe-main"]["webhook_secret"], body, int(time.time())
    )
    return wires.Wire(
        "stripe-main",
        "POST",
        body,
        {"Content-Type": "application/json", "Stripe-Signature": header},
    )


def test_a_stripe_event_we_ignore_is_audited_without_its_client_secret(api):
    """Defect 9: payment_intent.created was stored in the audit with its client_secret."""
    intent = {
        "id": "pi_IGN",
        "object": "payment_intent",
        "amount": 5800,
        "currency": "usd",
        "client_secret": "pi_IGN_secret_TOPSECRET",
        "metadata": {"order_id": "X"},
    }
    response = api.send(_signed_stripe("payment_intent.created", intent))
    assert response.status_code == 200
    [record] = audit_items()
    assert record.outcome == "ignored" and "TOPSECRET" not in record.payload
    assert '"client_secret":"***"' in record.payload and '"id":"pi_IGN"' in record.payload


def test_a_stored_stripe_notice_keeps_no_secret(api):
    order_no = register(api, "stripe", currency="USD")
    intent = {
        "id": "pi_PAID",
        "object": "payment_intent",
        "amount": 5800,
        "amount_received": 5800,
        "currency": "usd",
        "client_secret": "pi_PAID_secret_TOPSECRET",
        "metadata": {"order_id": order_no},
    }
    assert api.send(_signed_stripe("payment_intent.succeeded", intent)).status_code == 200
    [notice] = list(NoticeModel.scan())
    assert notice.raw["data"]["object"]["client_secret"] == "***" and "TOPSECRET" not in json.dumps(
        notice.raw
    )
    assert order_store.get(order_no).pay_status.value == "paid"


SAME_ID = {
    "alipay": {"notify_id": "ntf-reused-0001"},
    "wechat": {"event_id": "EV-reused-0001"},
    "epay": {"trade_no": "2026120700000000001"},
    "stripe": {"event_id": "evt_reused0001"},
}


@pytest.mark.parametrize("kind", ["alipay", "wechat", "epay", "stripe"])
def test_another_orders_payment_under_a_stored_notice_id_is_refused_kept_and_flagged(api, kind):
    """Taken for the gateway's retry, it was answered success and the second order never paid."""
    first_no = register(api, kind)
    other_no = register(api, kind)
    assert is_success(kind, api.send(paid_wire(kind, first_no, **SAME_ID[kind])))
    conflicting = paid_wire(kind, other_no, **SAME_ID[kind])

    for _ in range(2):  # the gateway retries what it was refused
        answer = api.send(conflicting)
        assert not is_success(kind, answer)
        assert answer.status_code == (200 if kind in SUCCESS else 409)

    assert order_store.get(other_no).pay_status.value == "pending"
    assert order_store.get(first_no).pay_status.value == "paid"
    (notice,) = NoticeModel.scan()
    assert notice.out_trade_no == first_no and len(notice.attempts) == 1
    records = audit_items()
    assert [r.outcome for r in records] == ["conflict", "conflict"]
    assert records[0].detail["differences"]["out_trade_no"] == [first_no, other_no]
    assert records[0].target == other_no and records[0].payload  # as received (WeChat's sealed)
    (anomaly,) = AnomalyModel.scan()
    assert (anomaly.rule, anomaly.order_no, anomaly.severity) == (
        "notice_conflict",
        other_no,
        "critical",
    )
    flagged = order_store.get(other_no)
    assert flagged.flagged and not flagged.on_hold
