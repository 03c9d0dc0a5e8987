"""Stripe webhooks: the shared vector, the stripe SDK as an independent signer and verifier,
tampering, multiple v1 / v0, timestamp tolerance, secret rotation and the event → kind mapping."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from chalicelib.domain.errors import (
    ChannelMisconfigured,
    MalformedNotification,
    NotificationRejected,
    SignatureInvalid,
    StaleTimestamp,
)
from chalicelib.domain.money import Money
from chalicelib.domain.notice import NoticeKind
from chalicelib.gateways.stripe_gateway import StripeGateway

from .helpers import VECTOR_NOW, VECTOR_TS, byte_tampers, char_tampers, inbound

GATEWAY = StripeGateway()
UTC = UTC
SECRET = "whsec_test_secret_0123456789"


def sdk_header(payload: bytes, secret: str = SECRET, t: int = VECTOR_TS) -> str:
    """`Stripe-Signature` as Stripe makes it, by the SDK's own test helper (its str API cannot
    take bytes that are not UTF-8: those are signed with hmac directly)."""
    try:
        return stripe.WebhookSignature.generate_signature_header(payload.decode(), secret, t)
    except UnicodeDecodeError:
        mac = hmac.new(secret.encode(), b"%d." % t + payload, hashlib.sha256).hexdigest()
        return f"t={t},v1={mac}"


def v1_of(header: str) -> str:
    return header.split("v1=", 1)[1]


def parse(payload: bytes, header: str | None, config: dict, now: datetime = VECTOR_NOW):
    headers = {"Stripe-Signature": header} if header is not None else {}
    return GATEWAY.parse_notification(inbound(payload, headers), config, "st1", now)


def event(event_type: str, obj: dict, event_id: str = "evt_2") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": VECTOR_TS,
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()


def parse_signed(payload: bytes, config: dict):
    return parse(payload, sdk_header(payload), config)


SESSION = {
    "id": "cs_2",
    "object": "checkout.session",
    "client_reference_id": "ORD2",
    "amount_total": 5800,
    "currency": "cny",
    "payment_status": "paid",
    "payment_intent": "pi_2",
    "customer": None,
    "customer_details": {"email": "buyer@example.com"},
    "metadata": {},
}
INTENT = {
    "id": "pi_2",
    "object": "payment_intent",
    "amount": 5800,
    "amount_received": 5800,
    "currency": "cny",
    "customer": "cus_1",
    "client_secret": "pi_2_secret_abc",
    "metadata": {"order_id": "ORD2"},
}
CHARGE = {
    "id": "ch_2",
    "object": "charge",
    "amount": 5800,
    "amount_refunded": 2000,
    "currency": "cny",
    "payment_intent": "pi_2",
    "refunded": False,
    "metadata": {"order_id": "ORD2"},
}
DISPUTE = {
    "id": "dp_2",
    "object": "dispute",
    "amount": 5800,
    "currency": "cny",
    "charge": "ch_2",
    "payment_intent": "pi_2",
    "reason": "fraudulent",
    "metadata": {"order_id": "ORD2"},
}


# --- the vector and the SDK oracle ---------------------------------------------------------------


def test_vector_verifies_and_parses(stripe_vector, stripe_config):
    notice = parse(stripe_vector["payload"].encode(), stripe_vector["header"], stripe_config)
    assert notice.kind is NoticeKind.PAYMENT
    assert notice.gateway == "stripe"
    assert notice.dedupe_key == "st1:evt_1"
    assert notice.out_trade_no == "ORD20240101000001"
    assert notice.trade_no == notice.payment_ref == "pi_1"
    assert notice.amount == Money(1999, "USD")
    assert notice.gateway_status == "checkout.session.completed"
    assert notice.event_time == datetime(2024, 1, 1, 4, 0, 6, tzinfo=UTC)
    assert notice.extra == {"checkout_session": "cs_test_1"}


def test_sdk_accepts_the_vector(stripe_vector):
    evt = stripe.Webhook.construct_event(
        stripe_vector["payload"], stripe_vector["header"], stripe_vector["secret"], tolerance=None
    )
    assert evt.id == "evt_1"
    assert sdk_header(stripe_vector["payload"].encode()) == stripe_vector["header"]


def test_sdk_signed_event_is_accepted_and_the_sdk_agrees(stripe_config):
    payload = event("payment_intent.succeeded", INTENT)
    t = int(time.time())
    header = sdk_header(payload, t=t)
    notice = parse(payload, header, stripe_config, datetime.now(UTC))
    assert notice.payment_ref == "pi_2"
    assert stripe.Webhook.construct_event(payload, header, SECRET).id == "evt_2"


# --- tampering, multiple signatures, v0, rotation ------------------------------------------------


def test_every_single_byte_tamper_of_the_payload_is_rejected(stripe_vector, stripe_config):
    payload, header = stripe_vector["payload"].encode(), stripe_vector["header"]
    accepted = []
    for i, tampered in byte_tampers(payload):
        try:
            parse(tampered, header, stripe_config)
            accepted.append(i)
        except NotificationRejected:
            pass
    assert accepted == []


def test_signature_and_timestamp_tampers_are_rejected(stripe_vector, stripe_config):
    payload, header = stripe_vector["payload"].encode(), stripe_vector["header"]
    for _, tampered in char_tampers(header):
        with pytest.raises(NotificationRejected):
            parse(payload, tampered, stripe_config)


def test_any_matching_v1_passes(stripe_vector, stripe_config):
    payload, header = stripe_vector["payload"].encode(), stripe_vector["header"]
    good = v1_of(header)
    bogus = "0" * 64
    for variant in (
        f"t={VECTOR_TS},v1={bogus},v1={good}",
        f"t={VECTOR_TS},v1={good},v1={bogus}",
        f"t={VECTOR_TS}, v1={bogus}, v0={bogus}, v1={good}",
        f"v1={good},t={VECTOR_TS}",
    ):
        assert parse(payload, variant, stripe_config).kind is NoticeKind.PAYMENT
        assert stripe.Webhook.construct_event(
            payload, variant.replace(" ", ""), SECRET, tolerance=None
        )


def test_no_matching_v1_is_rejected(stripe_vector, stripe_config):
    payload = stripe_vector["payload"].encode()
    with pytest.raises(SignatureInvalid):
        parse(payload, f"t={VECTOR_TS},v1={'0' * 64},v1={'f' * 64}", stripe_config)


def test_v0_is_ignored_even_when_it_matches(stripe_vector, stripe_config):
    payload, header = stripe_vector["payload"].encode(), stripe_vector["header"]
    with pytest.raises(SignatureInvalid):
        parse(payload, f"t={VECTOR_TS},v0={v1_of(header)}", stripe_config)


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "t=abc,v1=00", f"t={VECTOR_TS}", f"t={VECTOR_TS},t={VECTOR_TS},v1=00", "v1=00"],
)
def test_unusable_signature_headers(stripe_vector, stripe_config, header):
    with pytest.raises(NotificationRejected):
        parse(stripe_vector["payload"].encode(), header, stripe_config)


def test_missing_signature_header_is_malformed(stripe_vector, stripe_config):
    with pytest.raises(MalformedNotification, match="Stripe-Signature"):
        parse(stripe_vector["payload"].encode(), None, stripe_config)


def test_header_name_in_any_case(stripe_vector, stripe_config):
    request = inbound(
        stripe_vector["payload"].encode(), {"STRIPE-SIGNATURE": stripe_vector["header"]}
    )
    assert GATEWAY.parse_notification(request, stripe_config, "st1", VECTOR_NOW) is not None


def test_secret_rotation(stripe_vector, stripe_config):
    payload = stripe_vector["payload"].encode()
    rotating = {**stripe_config, "webhook_secret": ["whsec_new_secret", SECRET]}
    for secret in ("whsec_new_secret", SECRET):
        assert parse(payload, sdk_header(payload, secret), rotating) is not None
    both = f"{sdk_header(payload, 'whsec_new_secret')},v1={v1_of(sdk_header(payload))}"
    assert parse(payload, both, rotating) is not None
    with pytest.raises(SignatureInvalid):
        parse(payload, sdk_header(payload, "whsec_retired"), rotating)


@pytest.mark.parametrize("secret", [None, "", [], ["ok", ""], 42, {"a": "b"}])
def test_unusable_webhook_secret_is_a_config_error(stripe_vector, stripe_config, secret):
    with pytest.raises(ChannelMisconfigured, match="webhook_secret"):
        parse(
            stripe_vector["payload"].encode(),
            stripe_vector["header"],
            {**stripe_config, "webhook_secret": secret},
        )


# --- timestamp tolerance -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offset, ok",
    [(0, True), (300, True), (-300, True), (301, False), (-301, False), (3 * 86400, False)],
)
def test_timestamp_tolerance(stripe_vector, stripe_config, offset, ok):
    payload, header = stripe_vector["payload"].encode(), stripe_vector["header"]
    now = VECTOR_NOW + timedelta(seconds=offset)  # offset < 0: t is in the future
    if ok:
        assert parse(payload, header, stripe_config, now) is not None
    else:
        with pytest.raises(StaleTimestamp):
            parse(payload, header, stripe_config, now)


def test_huge_timestamp_is_rejected_not_crashing(stripe_vector, stripe_config):
    payload = stripe_vector["payload"].encode()
    with pytest.raises(StaleTimestamp):
        parse(payload, sdk_header(payload, t=10**30), stripe_config)


# --- event → kind --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type, obj, kind, amount",
    [
        ("checkout.session.completed", SESSION, NoticeKind.PAYMENT, 5800),
        (
            "checkout.session.completed",
            {**SESSION, "payment_status": "unpaid", "payment_intent": None},
            NoticeKind.INFO,
            5800,
        ),
        ("checkout.session.async_payment_succeeded", SESSION, NoticeKind.PAYMENT, 5800),
        ("checkout.session.async_payment_failed", SESSION, NoticeKind.INFO, 5800),
        (
            "checkout.session.expired",
            {**SESSION, "payment_status": "unpaid"},
            NoticeKind.CLOSED,
            5800,
        ),
        ("payment_intent.succeeded", {**INTENT, "amount_received": 5000}, NoticeKind.PAYMENT, 5000),
        ("payment_intent.payment_failed", {**INTENT, "amount_received": 0}, NoticeKind.INFO, 5800),
        ("charge.refunded", CHARGE, NoticeKind.REFUND, 5800),
        ("charge.dispute.created", DISPUTE, NoticeKind.INFO, 5800),
    ],
)
def test_event_mapping(stripe_config, event_type, obj, kind, amount):
    notice = parse_signed(event(event_type, obj), stripe_config)
    assert notice.kind is kind
    assert notice.amount == Money(amount, "CNY")
    assert notice.out_trade_no == "ORD2"
    assert notice.gateway_status == event_type
    assert notice.dedupe_key == "st1:evt_2"


def test_charge_refunded_carries_the_running_total_and_the_payment_intent(stripe_config):
    notice = parse_signed(event("charge.refunded", CHARGE), stripe_config)
    assert notice.refunded_total == Money(2000, "CNY")
    assert notice.payment_ref == "pi_2"
    assert notice.extra == {"charge": "ch_2"}


def test_payment_ref_falls_back_to_the_session(stripe_config):
    obj = {**SESSION, "payment_intent": None, "payment_status": "unpaid"}
    notice = parse_signed(event("checkout.session.completed", obj), stripe_config)
    assert notice.payment_ref == "cs_2"
    expanded = {**SESSION, "payment_intent": {"id": "pi_9", "object": "payment_intent"}}
    assert (
        parse_signed(event("checkout.session.completed", expanded), stripe_config).payment_ref
        == "pi_9"
    )


def test_session_payer_is_the_customer_or_its_email(stripe_config):
    assert (
        parse_signed(event("checkout.session.completed", SESSION), stripe_config).payer
        == "buyer@example.com"
    )
    with_customer = {**SESSION, "customer": "cus_9"}
    assert (
        parse_signed(event("checkout.session.completed", with_customer), stripe_config).payer
        == "cus_9"
    )


def test_zero_decimal_currency(stripe_config):
    obj = {**SESSION, "amount_total": 1999, "currency": "jpy"}
    notice = parse_signed(event("checkout.session.completed", obj), stripe_config)
    assert notice.amount == Money(1999, "JPY") and notice.amount.format() == "1999"


def test_order_id_from_metadata(stripe_config):
    obj = {**SESSION, "client_reference_id": None, "metadata": {"order_id": "ORD-META"}}
    assert (
        parse_signed(event("checkout.session.completed", obj), stripe_config).out_trade_no
        == "ORD-META"
    )


def test_missing_order_id_is_malformed(stripe_config):
    obj = {**SESSION, "client_reference_id": None, "metadata": {}}
    with pytest.raises(MalformedNotification, match="order"):
        parse_signed(event("checkout.session.completed", obj), stripe_config)


@pytest.mark.parametrize(
    "event_type", ["charge.refunded", "payment_intent.succeeded", "charge.dispute.created"]
)
def test_payment_only_events_leave_the_order_to_be_found_by_payment_ref(stripe_config, event_type):
    obj = {
        "id": "ch_9",
        "object": "charge",
        "amount": 500,
        "amount_refunded": 500,
        "amount_received": 500,
        "currency": "usd",
        "payment_intent": "pi_9",
        "metadata": {},
    }
    if event_type == "payment_intent.succeeded":
        obj["id"] = "pi_9"
    notice = parse_signed(event(event_type, obj), stripe_config)
    assert notice.out_trade_no == "" and notice.payment_ref == "pi_9" == notice.trade_no


def test_untracked_event_types_are_none_even_without_an_order(stripe_config):
    for event_type in ("customer.created", "invoice.paid", "charge.succeeded"):
        assert parse_signed(event(event_type, {"id": "x"}), stripe_config) is None


def test_client_secret_never_reaches_the_notice(stripe_config):
    notice = parse_signed(event("payment_intent.succeeded", INTENT), stripe_config)
    assert notice.raw["data"]["object"]["client_secret"] == "***"
    assert "pi_2_secret_abc" not in json.dumps(notice.raw)


# --- malformed input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b"\xff\xfe",
        b'{"id": "evt_3"}',
        event("checkout.session.completed", {**SESSION, "amount_total": 58.0}),
        event("checkout.session.completed", {**SESSION, "amount_total": "5800"}),
        event("checkout.session.completed", {**SESSION, "currency": "yuan"}),
        event("checkout.session.completed", {k: v for k, v in SESSION.items() if k != "currency"}),
        event("charge.refunded", {k: v for k, v in CHARGE.items() if k != "amount_refunded"}),
        json.dumps(
            {"id": "evt_3", "type": "checkout.session.completed", "created": VECTOR_TS}
        ).encode(),
        json.dumps(
            {
                "id": "evt_3",
                "type": "checkout.session.completed",
                "created": "yesterday",
                "data": {"object": SESSION},
            }
        ).encode(),
        json.dumps(
            {
                "id": "evt_3",
                "type": "checkout.session.completed",
                "created": 10**30,
                "data": {"object": SESSION},
            }
        ).encode(),
        json.dumps(
            {
                "type": "checkout.session.completed",
                "created": VECTOR_TS,
                "data": {"object": SESSION},
            }
        ).encode(),
    ],
)
def test_signed_malformed_payloads(stripe_config, payload):
    with pytest.raises(MalformedNotification):
        parse_signed(payload, stripe_config)


# --- answers and redaction -----------------------------------------------------------------------


def test_answers():
    success = GATEWAY.success_answer()
    assert (success.status, json.loads(success.body)) == (200, {"received": True})
    assert success.content_type == "application/json"
    failure = GATEWAY.failure_answer("signature does not verify", 400)
    assert failure.status == 400
    assert json.loads(failure.body) == {"error": "signature does not verify"}
    assert failure.content_type == "application/json"


def test_redact_masks_secrets_at_any_depth():
    payload = {
        "webhook_secret": "whsec",
        "api_key": "sk",
        "data": {"object": {"client_secret": "cs", "list": [{"client_secret": "x"}], "amount": 1}},
    }
    assert GATEWAY.redact(payload) == {
        "webhook_secret": "***",
        "api_key": "***",
        "data": {
            "object": {"client_secret": "***", "list": [{"client_secret": "***"}], "amount": 1}
        },
    }
