"""Stream handlers fed with real moto stream records: order.paid published exactly once, crash
repair from the notices stream, replayed batches change nothing twice."""
from __future__ import annotations

import json

import boto3
import pytest

from chalicelib.domain.clock import utcnow
from chalicelib.platform.settings import get_settings
from chalicelib.services import ingest
from chalicelib.store import notices as notice_store, orders as order_store
from chalicelib.store.models import NoticeModel, OrderModel
from local.stream_pump import read_all, to_lambda_event
from tests.support import notifications as wires


@pytest.fixture
def events_queue(aws):
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName="shop-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=get_settings().events_topic_arn, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})

    def drain():
        messages = []
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            messages += [json.loads(m["Body"]) for m in batch]
            for m in batch:
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
    assert messages[0]["order"]["order_no"] == order_no and messages[0]["order"]["amount"] == "58.00"


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
    poisoned["Records"][0]["dynamodb"]["NewImage"] = {"order_no": {"S": "X"}, "pay_status": {"S": "bogus"}}
    import app
    response = app.on_orders_stream(poisoned, None)
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert failed == [poisoned["Records"][0]["dynamodb"]["SequenceNumber"]]
    assert [m["event"] for m in events_queue()] == ["order.paid", "order.ready"]


def test_notices_stream_repairs_a_crash_between_store_and_apply(api):
    import app
    order_no = api.json(api.register())["order_no"]
    from chalicelib.gateways.registry import get_gateway
    from chalicelib.gateways.base import Headers, InboundRequest
    from chalicelib.services.channels import get_channel

    wire = wires.alipay(order_no, "58.00")
    request = InboundRequest("POST", Headers(wire.headers), wire.body, {})
    notice = get_gateway("alipay").parse_notification(request, get_channel("alipay-main"), "alipay-main", utcnow())
    assert notice_store.record(notice, utcnow(), "1.1.1.1").first  # stored, then "crash": never applied
    assert order_store.get(order_no).pay_status.value == "pending"
    app.on_notices_stream(stream_event(NoticeModel), None)
    app.on_notices_stream(stream_event(NoticeModel), None)
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and len(order.payments) == 1
    assert ingest.apply_stored_notice(notice, utcnow()).outcome == "already_applied"
