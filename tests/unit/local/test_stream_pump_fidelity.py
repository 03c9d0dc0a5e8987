"""The embedded AWS as the local stack tunes it (local/fidelity.py): the same answers as moto's
own code, at a cost that does not grow with the table, and stream pumps that keep reading."""
from __future__ import annotations

import random

import boto3
import pytest
from moto import mock_aws

from local import fidelity
from local.stream_pump import read_all

STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


@pytest.fixture
def patched_later(monkeypatch):
    """Whatever fidelity patches is put back after the test (other tests use plain moto)."""
    import chalice.local
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodbstreams.models import ShardIterator

    for owner, names in ((DynamoDBBackend, ("put_item", "update_item", "delete_item", "transact_write_items",
                                             "batch_write_item")),
                         (Table, ("query", "all_items")), (ShardIterator, ("__init__",)),
                         (models, ("copy",)), (chalice.local.ThreadedHTTPServer, ("request_queue_size",))):
        for name in names:
            monkeypatch.setattr(owner, name, getattr(owner, name))
    return fidelity.like_aws


@pytest.fixture
def ddb(monkeypatch):
    for name, value in {"AWS_DEFAULT_REGION": "ap-east-1", "AWS_ACCESS_KEY_ID": "t",
                        "AWS_SECRET_ACCESS_KEY": "t"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST", StreamSpecification=STREAM,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "ip", "at")],
            GlobalSecondaryIndexes=[{"IndexName": "by_ip", "Projection": {"ProjectionType": "ALL"},
                                     "KeySchema": [{"AttributeName": "ip", "KeyType": "HASH"},
                                                   {"AttributeName": "at", "KeyType": "RANGE"}]}])
        client.create_table(TableName="c", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        yield client


def _item(pk: str, sk: str, ip: str, at: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}, "ip": {"S": ip}, "at": {"S": at}}


def _queries(ddb) -> list:
    """Base-table and index queries, both directions, with limits and pages followed."""
    answers = []
    for request in ([{"KeyConditionExpression": "pk = :v", "ExpressionAttributeValues": {":v": {"S": f"p{i}"}}}
                     for i in range(6)] +
                    [{"IndexName": "by_ip", "KeyConditionExpression": "ip = :v AND at BETWEEN :a AND :b",
                      "ExpressionAttributeValues": {":v": {"S": f"10.0.0.{i}"}, ":a": {"S": "t03"},
                                                    ":b": {"S": "t40"}}} for i in range(4)]):
        for forward in (True, False):
            pages, start = [], None
            while True:
                extra = {"ExclusiveStartKey": start} if start else {}
                page = ddb.query(TableName="t", Limit=3, ScanIndexForward=forward, **request, **extra)
                pages.append(page["Items"])
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
            answers.append(pages)
        answers.append(ddb.query(TableName="t", Select="COUNT", **request)["Count"])
    return answers


def test_queries_answer_exactly_as_moto_does_when_reading_only_their_partition(ddb, patched_later):
    rng = random.Random(11)
    for n in range(150):
        ddb.put_item(TableName="t", Item=_item(f"p{rng.randrange(6)}", f"s{n:03d}",
                                               f"10.0.0.{rng.randrange(4)}", f"t{rng.randrange(50):02d}"))
    before = _queries(ddb)
    patched_later()
    assert _queries(ddb) == before
    assert sum(len(p) for answer in before[:2] for p in answer) > 0


def test_a_cancelled_transaction_puts_back_exactly_its_items_and_the_stream_keeps_flowing(ddb, patched_later):
    """moto swapped in a deep copy of the whole table on a cancellation: a stream reader held
    the old shard and never saw another record (the local pumps went deaf)."""
    patched_later()
    streams = boto3.client("dynamodbstreams")
    arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    ddb.put_item(TableName="t", Item=_item("a", "1", "ip", "t1"))
    ddb.put_item(TableName="c", Item={"pk": {"S": "claimed"}})
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET ip = :x", "ExpressionAttributeValues": {":x": {"S": "changed"}}}},
            {"Put": {"TableName": "t", "Item": _item("b", "2", "ip", "t2")}},
            {"Put": {"TableName": "c", "Item": {"pk": {"S": "claimed"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}}])
    assert ddb.get_item(TableName="t", Key={"pk": {"S": "a"}, "sk": {"S": "1"}})["Item"]["ip"] == {"S": "ip"}
    assert "Item" not in ddb.get_item(TableName="t", Key={"pk": {"S": "b"}, "sk": {"S": "2"}})
    ddb.put_item(TableName="t", Item=_item("c", "3", "ip", "t3"))
    page = streams.get_records(ShardIterator=iterator)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]] == ["a", "c"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(streams, arn)] == ["a", "c"]


def test_a_committed_transaction_writes_every_item_and_its_stream_records(ddb, patched_later):
    patched_later()
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": _item("a", "1", "ip", "t1")}},
                                            {"Put": {"TableName": "c", "Item": {"pk": {"S": "k"}}}}])
    streams = boto3.client("dynamodbstreams")
    assert len(read_all(streams, ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"])) == 1
    assert "Item" in ddb.get_item(TableName="c", Key={"pk": {"S": "k"}})


def test_shard_iterators_older_than_dynamodbs_15_minutes_are_forgotten(ddb, patched_later, monkeypatch):
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    clock = {"now": 1000.0}
    monkeypatch.setattr(fidelity.time, "monotonic", lambda: clock["now"])
    patched_later()
    streams = boto3.client("dynamodbstreams")
    arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def new_iterator() -> str:
        return streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]

    old = [new_iterator() for _ in range(5)]
    clock["now"] += fidelity.SHARD_ITERATOR_LIFETIME_S + 61
    fresh = new_iterator()
    kept = dynamodbstreams_backends["123456789012"]["ap-east-1"].shard_iterators
    assert fresh in kept and not any(arn in kept for arn in old)
    assert streams.get_records(ShardIterator=fresh)["Records"] == []


def test_the_local_api_listens_with_a_backlog_for_a_burst_of_clients(patched_later):
    from chalice.local import ThreadedHTTPServer

    assert ThreadedHTTPServer.request_queue_size == 5      # socketserver's default
    fidelity.accept_bursts_of_connections()
    assert ThreadedHTTPServer.request_queue_size == 128
