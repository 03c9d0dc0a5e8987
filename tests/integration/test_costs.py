"""The cost model (issue 14), asserted on real moto stream records with every AWS request counted:
an accepted notice costs its two writes and its share of one read per notices-stream batch; the
fast path gets nothing back on success; the stats consumer adds a batch's facts to a day in one
transaction; one real order change is one orders-stream record; one botocore session serves
every client and model."""

from __future__ import annotations

from collections import Counter

import boto3
import pytest

from chalicelib.store.models import NoticeModel, OrderModel
from local.stream_pump import read_all, to_lambda_event
from tests.integration.conftest import ADMIN_KEY
from tests.support import notifications as wires
from tests.support.aws_requests import aws_requests


class StreamReader:
    """The records a table's stream gained since the last read."""

    def __init__(self, model):
        self.arn = boto3.client("dynamodb").describe_table(TableName=model.Meta.table_name)[
            "Table"
        ]["LatestStreamArn"]
        self.seen = 0

    def new_event(self) -> dict:
        records = read_all(boto3.client("dynamodbstreams"), self.arn)
        fresh, self.seen = records[self.seen :], len(records)
        return to_lambda_event(fresh, self.arn)


@pytest.fixture
def events_inbox(aws):
    """The shop's events so far (an SQS queue subscribed to the events topic), drained."""
    import json

    from chalicelib.platform.settings import get_settings

    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="cost-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("sns").subscribe(
        TopicArn=get_settings().events_topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )

    def drain() -> list[dict]:
        bodies = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bodies

    return drain


@pytest.fixture
def orders_stream(aws):
    return StreamReader(OrderModel)


@pytest.fixture
def notices_stream(aws):
    return StreamReader(NoticeModel)


def test_an_accepted_notice_costs_two_writes_and_the_notices_stream_one_read_per_batch(
    api, monkeypatch, notices_stream
):
    import app

    numbers = [api.json(api.register())["order_no"] for _ in range(3)]
    notices_stream.new_event()
    with aws_requests(monkeypatch) as (calls, _):
        for order_no in numbers:
            assert api.send(wires.alipay(order_no, "58.00")).body == b"success"
    assert calls == {"PutItem": 3, "UpdateItem": 3}
    with aws_requests(monkeypatch) as (calls, _):
        assert app.on_notices_stream(notices_stream.new_event(), None) == {"batchItemFailures": []}
    assert calls == {"BatchGetItem": 1}  # the batch's orders hold the notices: nothing to repair
    paid = [api.json(api.call("GET", f"/admin/orders/{no}", key=ADMIN_KEY)) for no in numbers]
    assert all(len(order["payments"]) == 1 for order in paid)


def test_a_duplicate_costs_two_requests_and_nothing_on_the_streams(
    api, monkeypatch, notices_stream, orders_stream
):
    wire = wires.alipay(api.json(api.register())["order_no"], "58.00")
    api.send(wire)
    notices_stream.new_event(), orders_stream.new_event()
    with aws_requests(monkeypatch) as (calls, _):
        assert api.send(wire).body == b"success"
    assert calls == {"PutItem": 1, "UpdateItem": 1}  # the failed PutItem, this delivery's attempt
    notices = notices_stream.new_event()["Records"]
    assert [r["eventName"] for r in notices] == ["MODIFY"] and orders_stream.new_event()[
        "Records"
    ] == []


def test_the_fast_path_gets_nothing_back_unless_its_condition_fails(api, monkeypatch):
    order_no = api.json(api.register())["order_no"]
    with aws_requests(monkeypatch) as (_, sent):
        api.send(wires.alipay(order_no, "58.00"))
    (update,) = [params for operation, params in sent if operation == "UpdateItem"]
    assert (
        "ReturnValues" not in update and update["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
    )


def test_one_real_order_change_is_one_orders_stream_record(api, orders_stream):
    """Registered, paid, delivered: three records, after both consumers ran on them (their
    claims are kept off the order item) — and none more after the consumers ran again."""
    import app

    order_no = api.json(api.register())["order_no"]
    api.send(wires.alipay(order_no, "58.00"))
    api.call("POST", f"/orders/{order_no}/delivery", {"status": "delivered"})
    event = orders_stream.new_event()
    assert [r["eventName"] for r in event["Records"]] == ["INSERT", "MODIFY", "MODIFY"]
    for _ in range(2):
        app.on_orders_stream(event, None)
        app.on_orders_stats(event, None)
    assert orders_stream.new_event()["Records"] == []


def test_stats_add_a_batch_to_its_day_in_one_transaction_and_a_replay_adds_nothing(
    api, monkeypatch, orders_stream
):
    import app

    numbers = [api.json(api.register(amount="10.00"))["order_no"] for _ in range(4)]
    for order_no in numbers[:3]:
        api.send(wires.alipay(order_no, "10.00"))
    event = orders_stream.new_event()
    with aws_requests(monkeypatch) as (calls, _):
        assert app.on_orders_stats(event, None) == {"batchItemFailures": []}
    assert calls["TransactWriteItems"] == 1
    with aws_requests(monkeypatch) as (calls, _):
        assert app.on_orders_stats(event, None) == {"batchItemFailures": []}
    assert calls["TransactWriteItems"] == 1 and calls["BatchGetItem"] == 1  # cancelled, claims read
    totals = api.json(api.call("GET", "/admin/stats", key=ADMIN_KEY))["totals"]
    assert totals["orders_created"] == 4 and totals["orders_paid"] == 3
    assert totals["money"]["CNY"]["paid"] == "30.00"


def test_a_partly_counted_batch_counts_only_what_is_new(api, orders_stream):
    """Half the batch counted before (a retry after a failure): the rest is counted, once."""
    import app

    numbers = [api.json(api.register(amount="10.00"))["order_no"] for _ in range(2)]
    first = orders_stream.new_event()
    app.on_orders_stats(first, None)
    for order_no in numbers:
        api.send(wires.alipay(order_no, "10.00"))
    both = {**first, "Records": first["Records"] + orders_stream.new_event()["Records"]}
    assert app.on_orders_stats(both, None) == {"batchItemFailures": []}
    totals = api.json(api.call("GET", "/admin/stats", key=ADMIN_KEY))["totals"]
    assert totals["orders_created"] == 2 and totals["orders_paid"] == 2
    assert totals["money"]["CNY"]["paid"] == "20.00"


def test_a_failed_stats_write_fails_the_batch_and_its_retry_counts_once(
    api, monkeypatch, orders_stream
):
    import app
    from chalicelib.store import stats as stats_store

    order_no = api.json(api.register(amount="10.00"))["order_no"]
    api.send(wires.alipay(order_no, "10.00"))
    event = orders_stream.new_event()

    def refused(facts):
        raise stats_store.ClientError(
            {"Error": {"Code": "ThrottlingException"}}, "TransactWriteItems"
        )

    with monkeypatch.context() as patch:
        patch.setattr(stats_store, "add_once_each", refused)
        failed = app.on_orders_stats(event, None)["batchItemFailures"]
    assert len(failed) == len(event["Records"]) == 2
    assert app.on_orders_stats(event, None) == {"batchItemFailures": []}
    assert api.json(api.call("GET", "/admin/stats", key=ADMIN_KEY))["totals"]["orders_paid"] == 1


def test_every_client_and_model_shares_one_botocore_session(aws):
    from chalicelib.platform import aws as platform
    from chalicelib.store.models import AuditModel

    shared = platform.botocore_session()
    assert platform.session()._session is shared
    for model in (OrderModel, NoticeModel, AuditModel):
        assert model._get_connection().connection.session is shared


def test_the_orders_stream_reads_its_batch_claims_in_one_request(
    api, monkeypatch, orders_stream, events_inbox
):
    """Paid and delivered: order.paid and order.ready checked against the claims read ahead
    (no GetItem per event), the batch's four events published in one request and claimed in
    one transaction, and a replayed batch publishes nothing. (The ExecuteStatement: ip_burst's
    counts for the batch's new orders.)"""
    import app

    numbers = [api.json(api.register())["order_no"] for _ in range(2)]
    for order_no in numbers:
        api.send(wires.alipay(order_no, "58.00"))
        api.call("POST", f"/orders/{order_no}/delivery", {"status": "delivered"})
    event = orders_stream.new_event()
    with (
        aws_requests(monkeypatch) as (calls, sent),
        aws_requests(monkeypatch, "sns") as (published, _),
    ):
        assert app.on_orders_stream(event, None) == {"batchItemFailures": []}
    assert calls == {"ExecuteStatement": 1, "BatchGetItem": 1, "TransactWriteItems": 1}
    assert published == {"PublishBatch": 1}
    (claimed,) = [
        params["TransactItems"] for operation, params in sent if "TransactItems" in params
    ]
    assert sorted(
        (
            item["Update"]["Key"]["bucket"]["S"],
            tuple(item["Update"]["ExpressionAttributeValues"][":keys"]["SS"]),
        )
        for item in claimed
    ) == sorted((f"claims#{no}", ("order.paid", "order.ready#0")) for no in numbers)
    assert sorted(m["event"] for m in events_inbox()) == ["order.paid"] * 2 + ["order.ready"] * 2
    with (
        aws_requests(monkeypatch) as (calls, _),
        aws_requests(monkeypatch, "sns") as (published, _),
    ):
        app.on_orders_stream(event, None)
    assert calls == {"ExecuteStatement": 1, "BatchGetItem": 1}  # new orders' IPs, claims
    assert not published and events_inbox() == []


def test_a_batch_of_new_orders_reads_their_ips_together_not_a_query_per_order(
    api, monkeypatch, orders_stream
):
    """12 new orders from 12 addresses: ip_burst's same-IP counts come from one PartiQL SELECT
    of the batch's addresses (its 12 items in DynamoDB's pages of 10: two requests), not a COUNT
    Query per order; and a replayed batch reads the same."""
    import app

    ips = [f"36.120.{i}.9" for i in range(12)]
    for ip in ips:
        api.register(buyer_ip=ip)
    event = orders_stream.new_event()
    assert len(event["Records"]) == 12
    for _ in range(2):
        with aws_requests(monkeypatch) as (calls, sent):
            assert app.on_orders_stream(event, None) == {"batchItemFailures": []}
        assert calls == {"ExecuteStatement": 2, "BatchGetItem": 1}  # the BatchGetItem: claims
        first = next(params for operation, params in sent if operation == "ExecuteStatement")
        assert sorted(p["S"] for p in first["Parameters"][:-2]) == sorted(ips)


def test_stream_images_read_without_pynamodb_give_the_same_orders(api, orders_stream):
    """Registered, paid twice (held, with timeline data), refunded in part, delivered: every
    image of every record reads into the same order as through PynamoDB's model."""
    from chalicelib.store import orders as order_store

    order_no = api.json(api.register())["order_no"]
    api.send(wires.alipay(order_no, "58.00", trade_no="T-1"))
    api.send(wires.alipay(order_no, "58.00"))
    api.send(
        wires.alipay(
            order_no,
            "58.00",
            trade_no="T-1",
            extra={"refund_fee": "8.00", "gmt_refund": "2026-11-25 10:00:00"},
        )
    )
    api.call("POST", f"/orders/{order_no}/delivery", {"status": "delivered"})
    images = [
        r["dynamodb"][which]
        for r in orders_stream.new_event()["Records"]
        for which in ("OldImage", "NewImage")
        if which in r["dynamodb"]
    ]
    assert len(images) >= 7
    last = order_store.from_stream_image(images[-1])
    assert last.payments and last.refunded_amount and any(entry.data for entry in last.timeline)
    for image in images:
        assert order_store.from_stream_image(image) == order_store.to_domain(
            OrderModel.from_raw_data(image)
        )


def _stored(order_no: str) -> dict:
    """The stored item as DynamoDB holds it (attribute values)."""
    return OrderModel.get(order_no).serialize()


def _on_orders(sent: list[tuple[str, dict]]) -> Counter[str]:
    """The requests to the orders table (the shop key's lookup reads the keys table)."""
    return Counter(
        op for op, params in sent if params.get("TableName") == OrderModel.Meta.table_name
    )


def test_a_delivery_costs_one_request_and_stores_what_the_read_and_write_stored(api, monkeypatch):
    """The fast path (store apply_delivery): one conditional UpdateItem, no read; the order after
    it is the order before with `report_delivery`'s changes applied, and it has left the
    awaiting-delivery index."""
    from chalicelib.domain.order import EntryType, report_delivery
    from chalicelib.store import orders as order_store
    from chalicelib.store.search_keys import AWAITING_DELIVERY

    order_no = api.json(api.register())["order_no"]
    api.send(wires.alipay(order_no, "58.00"))
    before = order_store.get(order_no)
    assert before is not None and _stored(order_no).get(AWAITING_DELIVERY)
    with aws_requests(monkeypatch) as (_, sent):
        response = api.call(
            "POST", f"/orders/{order_no}/delivery", {"status": "delivered", "detail": "key sent"}
        )
    assert response.status_code == 200 and _on_orders(sent) == {"UpdateItem": 1}
    (update,) = [params for op, params in sent if op == "UpdateItem"]
    assert update["ReturnValues"] == "ALL_NEW"
    after = order_store.get(order_no)
    assert after is not None and after.delivered_at is not None
    assert after == report_delivery(before, True, "key sent", after.delivered_at).apply_to(before)
    assert after.version == before.version + 1
    assert after.timeline[-1].type is EntryType.DELIVERY
    assert after.timeline[-1].message == "delivery delivered: key sent"
    assert AWAITING_DELIVERY not in _stored(order_no)
    assert api.json(response)["delivery_status"] == "delivered"


def _refused_cases(api) -> dict[str, tuple[str, str]]:
    """An order (number) in each state the fast path's condition refuses, with the report."""
    from chalicelib.domain.order import hold
    from chalicelib.store import orders as order_store

    def paid() -> str:
        order_no = api.json(api.register())["order_no"]
        api.send(wires.alipay(order_no, "58.00"))
        return order_no

    held = paid()
    order = order_store.get(held)
    assert order is not None
    order_store.apply_changes(order, hold(order, ["operator"], order.created_at, "operator"))
    delivered = paid()
    assert api.call("POST", f"/orders/{delivered}/delivery", {"status": "delivered"}).status_code
    return {
        "unpaid": (api.json(api.register())["order_no"], "delivered"),
        "held": (held, "delivered"),
        "delivered again": (delivered, "delivered"),
        "failed after delivered": (delivered, "failed"),
        "unknown": ("20261125140000999999", "delivered"),
    }


def test_every_refusal_through_the_failed_condition_answers_as_the_read_did(api, monkeypatch):
    """Each report the condition refuses: the order the failed write returns decides, as the
    read did before (the same status and body, with the fast path replaced by that read), in
    that one request, and nothing is written."""
    from chalicelib.store import orders as order_store
    from chalicelib.store.orders import FastPathResult

    cases = _refused_cases(api)

    def report(order_no: str, status: str):
        response = api.call("POST", f"/orders/{order_no}/delivery", {"status": status})
        return response.status_code, api.json(response)

    answers = {}
    for name, (order_no, status) in cases.items():
        stored = _stored(order_no) if name != "unknown" else None
        with aws_requests(monkeypatch) as (_, sent):
            answers[name] = report(order_no, status)
        assert _on_orders(sent) == {"UpdateItem": 1}, name  # the refused write, nothing more
        if stored is not None:
            assert _stored(order_no) == stored, name
    with monkeypatch.context() as patch:  # the path before: read, then decide
        patch.setattr(
            order_store,
            "apply_delivery",
            lambda order_no, changes, delivered: FastPathResult(False, order_store.get(order_no)),
        )
        assert {name: report(*case) for name, case in cases.items()} == answers
    assert [code for code, _ in answers.values()] == [409, 409, 200, 409, 404]
    assert answers["delivered again"][1]["delivery_status"] == "delivered"
    with aws_requests(monkeypatch) as (_, sent):
        assert report("not.an.order", "delivered")[0] == 404
    assert _on_orders(sent) == {}  # not an order number: no request
