"""The test-side shortcut for moto's DynamoDB answers (tests/support/moto_state.py) writes every
AttributeValue exactly as moto's own shape walk does: same JSON, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from moto.core.serialize import BaseJSONSerializer, XFormedAttributePicker, get_serializer_class
from moto.core.utils import get_service_model

from tests.support import moto_state

EVERY_TYPE = {
    "pk": {"S": "order#P2026"},
    "empty": {"S": ""},
    "cjk": {"S": "退差价 ✓"},
    "amount": {"N": "58.00"},
    "blob": {"B": b"\x00\xffpaytrack"},
    "tags": {"SS": ["a", "b"]},
    "counts": {"NS": ["1", "2.5"]},
    "blobs": {"BS": [b"x", b"\x01"]},
    "nothing": {"NULL": True},
    "held": {"BOOL": False},
    "open": {"BOOL": True},
    "timeline": {
        "L": [
            {"M": {"type": {"S": "payment"}, "at": {"N": "1764979200"}, "data": {"M": {}}}},
            {"L": [{"S": "nested"}, {"BOOL": True}]},
            {"L": []},
        ]
    },
}


def _both(service: str, operation: str, result: dict) -> tuple[str, str]:
    moto_state.serialize_attribute_values_directly()
    model = get_service_model(service)
    direct = get_serializer_class(service, model.protocol)

    class Walk(direct):  # type: ignore[misc,valid-type]
        _serialize = BaseJSONSerializer._serialize.walk  # type: ignore[attr-defined]

    def body(cls) -> str:
        serializer = cls(model.operation_model(operation), value_picker=XFormedAttributePicker())
        return serializer.serialize(result)["body"]

    return body(direct), body(Walk)


@pytest.mark.parametrize(
    "operation,result",
    [
        ("GetItem", {"Item": EVERY_TYPE}),
        ("UpdateItem", {"Attributes": EVERY_TYPE, "ConsumedCapacity": {"TableName": "orders"}}),
        ("Query", {"Items": [EVERY_TYPE, {"pk": {"S": "b"}}], "Count": 2, "ScannedCount": 2}),
        ("BatchGetItem", {"Responses": {"orders": [EVERY_TYPE]}, "UnprocessedKeys": {}}),
        ("GetItem", {"Item": {"odd": {"S": "x", "Extra": "not an attribute member"}}}),
        ("GetItem", {}),
    ],
    ids=["get", "update", "query", "batch-get", "not-plain", "absent"],
)
def test_dynamodb_answers_are_written_as_moto_writes_them(operation, result):
    direct, walked = _both("dynamodb", operation, result)
    assert direct == walked


def test_stream_records_are_written_as_moto_writes_them():
    record = {
        "eventID": "1",
        "eventName": "MODIFY",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2026, 12, 6, tzinfo=UTC),
            "Keys": {"pk": {"S": "order#P2026"}},
            "NewImage": EVERY_TYPE,
            "OldImage": {**EVERY_TYPE, "held": {"BOOL": True}},
            "SequenceNumber": "100",
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    direct, walked = _both(
        "dynamodbstreams", "GetRecords", {"Records": [record], "NextShardIterator": "it"}
    )
    assert direct == walked
    assert '"B": "AP9wYXl0cmFjaw=="' in direct


def test_a_checkpoint_puts_back_items_and_a_stream_read_from_where_it_was():
    import boto3
    from moto import mock_aws

    with mock_aws():
        db, streams = boto3.client("dynamodb"), boto3.client("dynamodbstreams")
        arn = db.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )["TableDescription"]["LatestStreamArn"]
        db.put_item(TableName="t", Item={"k": {"S": "kept"}})
        restore = moto_state.checkpoint()
        db.put_item(TableName="t", Item={"k": {"S": "gone"}})
        restore()
        assert [i["k"]["S"] for i in db.scan(TableName="t")["Items"]] == ["kept"]
        (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator)["Records"]
        assert [r["dynamodb"]["Keys"]["k"]["S"] for r in records] == ["kept"]
        db.put_item(TableName="t", Item={"k": {"S": "after"}})
        restore()
        assert [i["k"]["S"] for i in db.scan(TableName="t")["Items"]] == ["kept"]
