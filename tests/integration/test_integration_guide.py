"""docs/integration.md, run: the channels file is validated and stored by the real command, the
shop's curl commands go through the app, the answers and the event messages have the shape of
the real ones, the aws commands subscribe a queue that then receives what the filter lets
through, and the Python the shop is told to run dedupes events and verifies SNS signatures.
The Chinese guide must carry the very same blocks (tests/support/guide_runner.py)."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import NameOID

from chalicelib.gateways.alipay_cert import CERT_FIELDS
from chalicelib.platform.settings import get_settings
from chalicelib.services import events
from chalicelib.services.channel_config import BOOLEAN_FIELDS, PRIVATE_KEYS, PUBLIC_KEYS, REQUIRED
from tests.conftest import REPO
from tests.integration.conftest import ADMIN_KEY
from tests.integration.test_streams import run_orders_stream
from tests.support import guide_runner as guide
from tests.support import notifications as wires
from tests.support.certs import alipay_certs
from tests.support.keys import fresh_key, private_pem, public_pem

GUIDE = REPO / "docs" / "integration.md"
GUIDE_ZH = REPO / "docs" / "integration.zh.md"
API_BASE = "https://paytrack.example.com/api"
OPTIONAL_FIELDS = {
    "type",
    "name",
    "currencies",
    "seller_id",
    "alipay_public_key",
    *CERT_FIELDS,
    *BOOLEAN_FIELDS,
}


def test_the_chinese_guide_carries_the_same_blocks():
    assert guide.blocks(GUIDE) and guide.blocks(GUIDE_ZH) == guide.blocks(GUIDE)


def test_every_marked_block_is_one_the_runner_checks():
    found = guide.blocks(GUIDE)
    assert {block.kind for block in found} == {"file", "run", "response", "event", "python"}
    assert sorted(block.arg for block in found if block.kind == "event") == [
        "order.held",
        "order.paid",
        "order.ready",
        "order.verification_requested",
    ]
    assert all(
        block.lang == {"run": "sh", "python": "python"}.get(block.kind, "json") for block in found
    )


# ------------------------------------------------------------------ the channels file


def with_real_keys(config: dict) -> dict:
    """The guide's channel with real PEMs where it shows shortened ones (only in PEM fields)."""
    pem_fields = {*PRIVATE_KEYS, *PUBLIC_KEYS, "alipay_root_cert"}
    shortened = {
        name for name, value in config.items() if isinstance(value, str) and "-----BEGIN" in value
    }
    assert shortened <= pem_fields, shortened - pem_fields
    filled = dict(config)
    filled.update({name: private_pem(fresh_key()) for name in shortened & set(PRIVATE_KEYS)})
    filled.update(
        {
            name: public_pem(fresh_key())
            for name in shortened & {"alipay_public_key", "platform_public_key"}
        }
    )
    if "app_cert" in config:
        app, alipay = fresh_key(), fresh_key()
        certs = alipay_certs(app.public_key(), alipay.public_key())
        filled.update(
            app_private_key=private_pem(app),
            app_cert=certs.app_cert,
            alipay_cert=certs.alipay_cert,
            alipay_root_cert=certs.alipay_root_cert,
        )
    return filled


def test_the_channels_file_names_only_fields_paytrack_reads():
    (text,) = [
        block.text
        for block in guide.blocks(GUIDE)
        if block.kind == "file" and block.arg == "channels.json"
    ]
    document = json.loads(text)
    assert {config["type"] for config in document.values()} == set(REQUIRED)
    for channel_id, config in document.items():
        known = set(REQUIRED[config["type"]]) | OPTIONAL_FIELDS
        assert set(config) <= known, (channel_id, set(config) - known)


# ------------------------------------------------------------------ running the guide


@pytest.fixture
def events_seen(aws):
    """Every message on the events topic, through a raw SQS subscription of the test's own."""
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName="test-all-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=get_settings().events_topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return lambda: drain(url)


def drain(queue_url: str) -> list[dict]:
    sqs, messages = boto3.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        messages += [json.loads(message["Body"]) for message in batch]
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


@pytest.fixture
def runner(api, tmp_path):
    filled: dict[str, str] = {}

    def fill(name: str, text: str) -> str:
        if name != "channels.json":
            return text
        if name not in filled:
            filled[name] = json.dumps(
                {
                    channel_id: with_real_keys(config)
                    for channel_id, config in json.loads(text).items()
                },
                ensure_ascii=False,
            )
        return filled[name]

    boto3.client("secretsmanager").create_secret(
        Name="paytrack/prod/channels", SecretString="{}"
    )  # the stack's
    found = guide.blocks(GUIDE)
    return guide.Runner(
        api,
        tmp_path,
        {
            "API": API_BASE,
            "ADMIN_KEY": ADMIN_KEY,
            "EVENTS_TOPIC_ARN": get_settings().events_topic_arn,
        },
        files={block.arg: block.text for block in found if block.kind == "file"},
        fill_file=fill,
    )


def buyer_pays(api, order_no: str, amount: str) -> None:
    assert api.send(wires.alipay(order_no, amount)).body == b"success"
    assert run_orders_stream() == {"batchItemFailures": []}


def follow(runner: guide.Runner, api) -> dict[str, str]:
    """Every block of the guide in order; the buyer pays in full as soon as the order is registered.
    Returns the register command, to register again."""
    remembered = {}
    for block in guide.blocks(GUIDE):
        if block.kind == "run":
            for command in guide.commands(block.text):
                assert runner.run(command).status in (0, 200, 201), command
                if command.startswith("ORDER_NO="):
                    remembered["register"] = command
                    buyer_pays(api, runner.variables["ORDER_NO"], "58.00")
        elif block.kind == "response":
            assert runner.last.status == int(block.arg)
            assert guide.shape(json.loads(block.text)) == guide.shape(runner.last.body)
    return remembered


def test_the_guide_runs_against_the_real_code(api, runner, events_seen):
    register = follow(runner, api)["register"]
    ready_order = runner.variables["ORDER_NO"]
    stored = boto3.client("secretsmanager").get_secret_value(SecretId="paytrack/prod/channels")[
        "SecretString"
    ]
    assert set(json.loads(stored)) == {
        "alipay-main",
        "alipay-cert",
        "wxpay-main",
        "epay-main",
        "stripe-main",
    }
    assert api.call("GET", f"/orders/{ready_order}").status_code == 200

    runner.run(register)  # another buyer pays too little: held
    held_order = runner.variables["ORDER_NO"]
    buyer_pays(api, held_order, "5.80")
    asked = api.call(
        "POST", f"/admin/orders/{held_order}/verification", {"template": "last4"}, key=ADMIN_KEY
    )
    assert asked.status_code == 201, asked.body

    published = {(m["event"], m["order"]["order_no"]): m for m in events_seen()}
    real = {
        "order.paid": published["order.paid", ready_order],
        "order.ready": published["order.ready", ready_order],
        "order.held": published["order.held", held_order],
        "order.verification_requested": published["order.verification_requested", held_order],
    }
    for block in guide.blocks(GUIDE):
        if block.kind == "event":
            example = json.loads(block.text)
            assert example["event"] == block.arg and re.fullmatch(
                r"evt_[0-9a-f]{32}", example["event_id"]
            )
            assert guide.shape(example) == guide.shape(real[block.arg])
    assert real["order.ready"]["event_id"] == events.event_id(ready_order, "order.ready#0")

    on_the_guides_queue = drain(runner.variables["QUEUE_URL"])
    assert [(m["event"], m["order"]["order_no"]) for m in on_the_guides_queue] == [
        ("order.held", held_order)
    ]


# ------------------------------------------------------------------ the shop's Python


@pytest.fixture(scope="module")
def shop_code() -> dict:
    namespace: dict = {}
    for block in guide.blocks(GUIDE):
        if block.kind == "python":
            exec(compile(block.text, f"{GUIDE.name} (python block)", "exec"), namespace)
    return namespace


def message(
    event: str, event_id: str = "evt_" + "1" * 32, order_no: str = "20261125143012345678"
) -> dict:
    return {"event_id": event_id, "event": event, "order": {"order_no": order_no}}


def test_the_dedupe_delivers_once_and_forgets_a_failed_delivery(shop_code):
    db = sqlite3.connect(":memory:")
    db.execute(shop_code["SCHEMA"])
    delivered = []

    def broken(order_no):
        raise ConnectionError("mail server down")

    with pytest.raises(ConnectionError):
        shop_code["handle_event"](db, message("order.ready"), broken)
    assert shop_code["handle_event"](db, message("order.ready"), delivered.append) is True
    assert shop_code["handle_event"](db, message("order.ready"), delivered.append) is False
    assert (
        shop_code["handle_event"](db, message("order.held", "evt_" + "2" * 32), delivered.append)
        is True
    )
    assert delivered == ["20261125143012345678"]


TOPIC = "arn:aws:sns:ap-east-1:123456789012:paytrack-prod-events"
CERT_URL = "https://sns.ap-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem"


@pytest.fixture(scope="module")
def sns_signer():
    """A key and certificate standing in for SNS's."""
    key = fresh_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def envelope(key, kind: str = "Notification", version: str = "2", **fields) -> dict:
    """Signed as AWS documents it: the name and value of each signed field present, each followed
    by a newline, fields in byte order (Subject only when the message has one)."""
    body = {
        "Type": kind,
        "MessageId": "5b1b3a4e-5f1c-5d6a-9a3e-2f9e8c1d0a11",
        "TopicArn": TOPIC,
        "Message": json.dumps(message("order.ready")),
        "Timestamp": "2026-11-25T06:31:03.236Z",
        "SignatureVersion": version,
        "SigningCertURL": CERT_URL,
        **fields,
    }
    signed = (
        "Message",
        "MessageId",
        "Subject",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    )
    text = "".join(f"{name}\n{body[name]}\n" for name in signed if name in body)
    digest = hashes.SHA256() if version == "2" else hashes.SHA1()
    body["Signature"] = base64.b64encode(
        key.sign(text.encode(), padding.PKCS1v15(), digest)
    ).decode()
    return body


def test_the_sns_check_accepts_what_sns_signed(shop_code, sns_signer):
    key, pem = sns_signer
    fetch = {CERT_URL: pem}.__getitem__
    verify = shop_code["verified_envelope"]
    for signed in (
        envelope(key),
        envelope(key, version="1"),
        envelope(key, Subject="paytrack"),
        envelope(
            key,
            "SubscriptionConfirmation",
            SubscribeURL="https://sns.ap-east-1.amazonaws.com/?Action=ConfirmSubscription",
            Token="2336412f37fb687f5d51e6e2425a8a58",
        ),
    ):
        assert verify(signed, TOPIC, fetch) == signed
    assert shop_code["paytrack_message"](envelope(key), TOPIC, fetch) == message("order.ready")


@pytest.mark.parametrize(
    "forge",
    [
        lambda e: {**e, "Message": e["Message"].replace("order.ready", "order.held")},
        lambda e: {**e, "TopicArn": TOPIC.replace("prod", "dev")},
        lambda e: {
            **e,
            "SigningCertURL": "https://sns.ap-east-1.amazonaws.com.evil.example/cert.pem",
        },
        lambda e: {**e, "SigningCertURL": CERT_URL.replace("https://", "http://")},
        lambda e: {**e, "SignatureVersion": "3"},
        lambda e: {**e, "Type": "Other"},
        lambda e: {**e, "Signature": "bm90IGEgc2lnbmF0dXJl"},
        lambda e: {key: value for key, value in e.items() if key != "Signature"},
    ],
    ids=[
        "message",
        "topic",
        "cert-host",
        "cert-http",
        "version",
        "type",
        "signature",
        "no-signature",
    ],
)
def test_the_sns_check_refuses_a_forgery(shop_code, sns_signer, forge):
    key, pem = sns_signer
    forged = forge(envelope(key))
    with pytest.raises(ValueError):
        shop_code["verified_envelope"](forged, TOPIC, {CERT_URL: pem}.get)
