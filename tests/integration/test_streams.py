"""Stream handlers fed with real moto stream records: order.paid published exactly once, crash
repair from the notices stream, replayed batches change nothing twice."""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta

import boto3
import pytest

from chalicelib.domain.clock import utcnow
from chalicelib.platform.aws import client
from chalicelib.platform.settings import get_settings
from chalicelib.services import events, ingest
from chalicelib.store import claims
from chalicelib.store import notices as notice_store
from chalicelib.store import orders as order_store
from chalicelib.store.models import NoticeModel, OrderModel
from local.stream_pump import read_all, to_lambda_event
from tests.support import notifications as wires
from tests.support.aws_requests import aws_requests


@pytest.fixture
def events_queue(aws):
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName="shop-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=get_settings().events_topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )

    def drain(attributes: bool = False):
        """The message bodies so far (with `attributes`: (body, SNS message attributes) pairs)."""
        messages = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return messages
            for m in batch:
                body = json.loads(m["Body"])
                tags = {
                    name: value["StringValue"]
                    for name, value in m.get("MessageAttributes", {}).items()
                }
                messages.append((body, tags) if attributes else body)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    return drain


def stream_event(model) -> dict:
    ddb, streams = boto3.client("dynamodb"), boto3.client("dynamodbstreams")
    arn = ddb.describe_table(TableName=model.Meta.table_name)["Table"]["LatestStreamArn"]
    return to_lambda_event(read_all(streams, arn), arn)


def run_orders_stream():
    import app

    return app.on_orders_stream(stream_event(OrderModel), None)


def test_order_paid_published_once_even_when_replayed(api, events_queue):
    order_no = api.json(api.register())["order_no"]
    api.send(wires.alipay(order_no, "58.00"))
    api.send(wires.alipay(order_no, "58.00"))  # second payment: held, but order.paid was due first
    first = run_orders_stream()
    assert first == {"batchItemFailures": []}
    run_orders_stream()
    run_orders_stream()
    messages = [m for m in events_queue() if m["event"] == "order.paid"]
    assert len(messages) == 1
    assert (
        messages[0]["order"]["order_no"] == order_no and messages[0]["order"]["amount"] == "58.00"
    )


def test_held_payment_publishes_no_paid_event(api, events_queue):
    order_no = api.json(api.register())["order_no"]
    api.send(wires.alipay(order_no, "1.00"))
    run_orders_stream()
    assert [m["event"] for m in events_queue()] == ["order.held"]
    assert order_store.get(order_no).on_hold


def test_poisoned_record_fails_alone(api, events_queue):
    good = api.json(api.register())["order_no"]
    api.send(wires.alipay(good, "58.00"))
    event = stream_event(OrderModel)
    poisoned = json.loads(json.dumps(event))
    poisoned["Records"][0]["dynamodb"]["NewImage"] = {
        "order_no": {"S": "X"},
        "pay_status": {"S": "bogus"},
    }
    import app

    response = app.on_orders_stream(poisoned, None)
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert failed == [poisoned["Records"][0]["dynamodb"]["SequenceNumber"]]
    assert [m["event"] for m in events_queue()] == ["order.paid", "order.ready"]


def stored_not_applied(api, received_at=None):
    """A paid order's notice stored, then the request "crashed": never applied."""
    from chalicelib.gateways.base import Headers, InboundRequest
    from chalicelib.gateways.registry import get_gateway
    from chalicelib.services.channels import get_channel

    order_no = api.json(api.register())["order_no"]
    wire = wires.alipay(order_no, "58.00")
    request = InboundRequest("POST", Headers(wire.headers), wire.body, {})
    notice = get_gateway("alipay").parse_notification(
        request, get_channel("alipay-main"), "alipay-main", utcnow()
    )
    assert notice_store.record(notice, received_at or utcnow(), "1.1.1.1").first
    assert order_store.get(order_no).pay_status.value == "pending"
    return order_no, notice


def test_notices_stream_repairs_a_crash_between_store_and_apply(api):
    import app

    order_no, notice = stored_not_applied(api)
    app.on_notices_stream(stream_event(NoticeModel), None)
    app.on_notices_stream(stream_event(NoticeModel), None)
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and len(order.payments) == 1
    assert ingest.apply_stored_notice(notice, utcnow()).outcome == "already_applied"


@pytest.fixture
def repair_after_2s(monkeypatch):
    """Notices are repaired once 2 s old (the tests' own setting is 0); `slept` lists each
    wait, and `during_wait` runs in it (the request that stored the notice, still working)."""
    from chalicelib.platform.settings import get_settings
    from chalicelib.services import streams

    settings = replace(get_settings(), notice_repair_after_s=2)
    monkeypatch.setattr(streams, "get_settings", lambda: settings)
    waits = {"slept": [], "during_wait": lambda: None}

    def sleep(seconds: float) -> None:
        waits["slept"].append(seconds)
        waits["during_wait"]()

    monkeypatch.setattr(streams, "sleep", sleep)
    return waits


def test_a_new_notice_is_left_to_its_own_request_and_not_written_twice(
    api, repair_after_2s, monkeypatch
):
    """The notice's request applies it while the stream waits: the stream reads again (the
    orders' applied notices, before and after the wait) and writes nothing to the order."""
    import app

    order_no, notice = stored_not_applied(api)
    repair_after_2s["during_wait"] = lambda: ingest.apply_stored_notice(notice, utcnow())
    event = stream_event(NoticeModel)
    with aws_requests(monkeypatch) as (calls, _):
        app.on_notices_stream(event, None)
    assert calls == {"BatchGetItem": 2, "UpdateItem": 1}  # the UpdateItem: the request's own
    (waited,) = repair_after_2s["slept"]
    assert 1 < waited <= 2
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and len(order.payments) == 1
    assert order.version == 1  # the request's one write; none of the stream's


def test_a_new_notice_its_request_never_applies_is_repaired_after_the_wait(api, repair_after_2s):
    import app

    order_no, _ = stored_not_applied(api)
    app.on_notices_stream(stream_event(NoticeModel), None)
    assert len(repair_after_2s["slept"]) == 1
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and len(order.payments) == 1


def test_a_notice_older_than_the_wait_is_repaired_at_once(api, repair_after_2s):
    import app

    order_no, _ = stored_not_applied(api, received_at=utcnow() - timedelta(seconds=3))
    app.on_notices_stream(stream_event(NoticeModel), None)
    assert repair_after_2s["slept"] == []
    assert order_store.get(order_no).pay_status.value == "paid"


# ------------------------------------------------------------------ events: at least once, one id


def test_every_event_carries_its_stable_id_in_the_body_and_as_an_attribute(api, events_queue):
    order_no = api.json(api.register())["order_no"]
    api.send(wires.alipay(order_no, "58.00"))
    run_orders_stream()
    received = events_queue(attributes=True)
    assert [body["event"] for body, _ in received] == ["order.paid", "order.ready"]
    for (body, tags), key in zip(received, ("order.paid", "order.ready#0"), strict=True):
        assert body["event_id"] == tags["event_id"] == events.event_id(order_no, key)
        assert tags["event"] == body["event"] and tags["channel"] == "alipay-main"
    assert events.event_id(order_no, "order.ready#1") != events.event_id(order_no, "order.ready#0")
    assert claims.is_claimed(order_no, "order.paid") and claims.is_claimed(
        order_no, "order.ready#0"
    )


class ProcessDied(BaseException):
    """A Lambda timeout or a killed process: no `except Exception` of ours runs, the invocation
    ends and Lambda retries the batch."""


class Fault:
    """Fails the sending of a stream batch's shop events at one step, once: SNS refuses the
    request (`publish`), SNS's answer names one event as failed (`fails_<event>`: the others
    went out), the claims' transaction fails (`claim`), the process dies just before or just
    after publishing."""

    def __init__(self, step: str, monkeypatch):
        self.step, self.fired = step, 0
        sns = client("sns")
        real_publish, real_claim_all = sns.publish_batch, claims.claim_all

        def publish_batch(TopicArn, PublishBatchRequestEntries):
            self._maybe("publish", "dies_before_publish")
            entries = PublishBatchRequestEntries
            failing = [e for e in entries if self._fails(json.loads(e["Message"])["event"])]
            answer = real_publish(
                TopicArn=TopicArn,
                PublishBatchRequestEntries=[e for e in entries if e not in failing],
            )
            self._maybe("dies_after_publish")
            failed = [
                {"Id": e["Id"], "Code": "InternalError", "SenderFault": False} for e in failing
            ]
            return {**answer, "Failed": answer.get("Failed", []) + failed}

        def claim_all(keys_by_order):
            self._maybe("claim")
            return real_claim_all(keys_by_order)

        monkeypatch.setattr(sns, "publish_batch", publish_batch)
        monkeypatch.setattr(claims, "claim_all", claim_all)

    def _fails(self, event: str) -> bool:
        if self.fired or self.step != f"fails_{event}":
            return False
        self.fired += 1
        return True

    def _maybe(self, *steps: str):
        if self.fired or self.step not in steps:
            return
        self.fired += 1
        raise ProcessDied(self.step) if self.step.startswith("dies") else RuntimeError(self.step)


def run_until_it_fails() -> None:
    """The first invocation: the record is reported failed, or the whole invocation dies."""
    with contextlib.suppress(ProcessDied):
        assert run_orders_stream()["batchItemFailures"], (
            "the failing record is reported for Lambda's retry"
        )


# each step, with how many copies of order.paid and order.ready the shop receives in the end
STEPS = [
    ("publish", 1, 1),
    ("fails_order.paid", 1, 1),
    ("fails_order.ready", 1, 1),
    ("claim", 2, 2),
    ("dies_before_publish", 1, 1),
    ("dies_after_publish", 2, 2),
]


@pytest.mark.parametrize("step,paid,ready", STEPS, ids=[step for step, *_ in STEPS])
def test_an_event_is_never_lost_to_a_failure_at_any_step(
    api, events_queue, monkeypatch, step, paid, ready
):
    order_no = api.json(api.register())["order_no"]
    api.send(wires.alipay(order_no, "58.00"))
    fault = Fault(step, monkeypatch)

    run_until_it_fails()
    assert fault.fired == 1
    for _ in range(2):  # Lambda's retry, then a replay of a record already handled
        assert run_orders_stream() == {"batchItemFailures": []}

    by_event = defaultdict(list)
    for body in events_queue():
        by_event[body["event"]].append(body["event_id"])
    keys = {"order.paid": "order.paid", "order.ready": "order.ready#0"}
    assert set(by_event) == set(keys)
    for name, copies in (("order.paid", paid), ("order.ready", ready)):
        assert by_event[name] == [events.event_id(order_no, keys[name])] * copies
        assert claims.is_claimed(order_no, keys[name])


def test_a_notice_received_ahead_of_the_clock_waits_no_longer_than_the_setting(
    api, repair_after_2s
):
    import app

    order_no, _ = stored_not_applied(api, received_at=utcnow() + timedelta(hours=1))
    app.on_notices_stream(stream_event(NoticeModel), None)
    assert repair_after_2s["slept"] == [2.0]
    assert order_store.get(order_no).pay_status.value == "paid"
