"""Cold items kept as their JSON on the embedded AWS (local/fidelity.py: cold_items_kept_as_json)
answer exactly as plain moto does: the same history of writes and reads, run against plain moto
and against moto as the stack tunes it with every untouched item put away before each write,
gives the same answers, errors and stream records."""

from __future__ import annotations

import random

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from local import fidelity

STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def _create_tables(client) -> None:
    client.create_table(
        TableName="t",
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification=STREAM,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "ip")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_ip",
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "ip", "KeyType": "HASH"}],
            }
        ],
    )
    client.create_table(
        TableName="h",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )


def _order(rng: random.Random, pk: str, sk: str) -> dict:
    """An item with every kind of value an order, a notice or a claim holds; s0 and s1 with a
    binary one too (moto holds it as bytes, which have no JSON form: those stay objects)."""
    binary = {"blob": {"B": b"\x00\x01raw"}} if sk in ("s0", "s1") else {}
    return {
        **binary,
        "pk": {"S": pk},
        "sk": {"S": sk},
        "ip": {"S": f"10.0.0.{rng.randrange(3)}"},
        "amount": {"N": str(rng.randrange(1, 9999))},
        "rate": {"N": "0.006"},
        "name": {"S": "30元充值卡 × 1"},
        "paid": {"BOOL": rng.random() < 0.5},
        "note": {"NULL": True},
        "tags": {"SS": ["a", "b"]},
        "counts": {"NS": ["1", "2.5"]},
        "timeline": {
            "L": [{"M": {"at": {"S": "2026-12-06T10:00:00Z"}, "n": {"N": "1"}, "x": {"L": []}}}]
        },
        "payments": {"L": []},
        "meta": {"M": {"nested": {"M": {"deep": {"S": "v"}}}, "empty": {"M": {}}}},
    }


def _key(pk: str, sk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _call(answers: list, operation, **request) -> None:
    try:
        answer = operation(**request)
    except ClientError as error:
        answers.append(("error", error.response["Error"]["Code"]))
        return
    answer.pop("ResponseMetadata", None)
    answers.append(answer)


def _history(client) -> list:
    """Writes of every kind interleaved with reads of every kind; each answer or error code."""
    rng = random.Random(5)
    answers: list = []
    keys = [(f"p{i % 3}", f"s{i}") for i in range(8)]
    for pk, sk in keys:
        _call(answers, client.put_item, TableName="t", Item=_order(rng, pk, sk))
    client.put_item(TableName="h", Item={"pk": {"S": "claims#1"}, "keys": {"SS": ["order.paid"]}})
    for step in range(60):
        pk, sk = rng.choice(keys)
        kind = step % 10
        if kind == 0:
            _call(
                answers,
                client.update_item,
                TableName="t",
                Key=_key(pk, sk),
                UpdateExpression="SET timeline = list_append(timeline, :e), paid = :t "
                "ADD amount :one REMOVE note",
                ExpressionAttributeValues={
                    ":e": {"L": [{"M": {"at": {"S": f"t{step}"}, "n": {"N": str(step)}}}]},
                    ":t": {"BOOL": True},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_NEW",
            )
        elif kind == 1:
            _call(
                answers,
                client.update_item,
                TableName="t",
                Key=_key(pk, sk),
                UpdateExpression="SET meta.nested.deep = :v, ip = :ip ADD tags :s",
                ConditionExpression="attribute_exists(pk) AND amount > :low",
                ExpressionAttributeValues={
                    ":v": {"S": f"v{step}"},
                    ":ip": {"S": f"10.0.0.{rng.randrange(3)}"},
                    ":s": {"SS": [f"t{step % 4}"]},
                    ":low": {"N": str(rng.randrange(0, 12000))},
                },
                ReturnValues="UPDATED_OLD",
            )
        elif kind == 2:
            _call(answers, client.get_item, TableName="t", Key=_key(pk, sk), ConsistentRead=True)
        elif kind == 3:
            _call(
                answers,
                client.query,
                TableName="t",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": pk}},
            )
        elif kind == 4:
            _call(
                answers,
                client.query,
                TableName="t",
                IndexName="by_ip",
                KeyConditionExpression="ip = :ip",
                ExpressionAttributeValues={":ip": {"S": f"10.0.0.{rng.randrange(3)}"}},
            )
        elif kind == 5:
            _call(
                answers,
                client.transact_write_items,
                TransactItems=[
                    {
                        "Update": {
                            "TableName": "h",
                            "Key": {"pk": {"S": "claims#1"}},
                            "UpdateExpression": "ADD #k :k",
                            "ConditionExpression": "NOT contains(#k, :one)",
                            "ExpressionAttributeNames": {"#k": "keys"},
                            "ExpressionAttributeValues": {
                                ":k": {"SS": [f"stats{step}"]},
                                ":one": {"S": f"stats{step - 10 * rng.randrange(2)}"},
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": "t",
                            "Key": _key(pk, sk),
                            "UpdateExpression": "SET payments = list_append(payments, :p)",
                            "ExpressionAttributeValues": {":p": {"L": [{"S": f"pay{step}"}]}},
                        }
                    },
                ],
            )
        elif kind == 6:
            _call(
                answers,
                client.batch_get_item,
                RequestItems={
                    "t": {"Keys": [_key(*k) for k in keys[:4]], "ConsistentRead": True},
                    "h": {"Keys": [{"pk": {"S": "claims#1"}}]},
                },
            )
        elif kind == 7:
            _call(
                answers, client.delete_item, TableName="t", Key=_key(pk, sk), ReturnValues="ALL_OLD"
            )
            _call(answers, client.put_item, TableName="t", Item=_order(rng, pk, sk))
        elif kind == 8:
            _call(answers, client.scan, TableName="t")
            _call(answers, client.scan, TableName="h")
        else:
            _call(
                answers,
                client.put_item,
                TableName="t",
                Item=_order(rng, pk, sk),
                ConditionExpression="attribute_not_exists(pk)",
            )
    return [*answers, _stream(client)]


def _stream(client) -> list:
    """Every record of t's stream, without what moto makes up per run: ids, times and the
    size, which counts its time's digits."""
    streams = boto3.client("dynamodbstreams")
    arn = client.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        page = streams.get_records(ShardIterator=iterator)
        for record in page["Records"]:
            record.pop("eventID")
            record["dynamodb"].pop("ApproximateCreationDateTime")
            record["dynamodb"].pop("SizeBytes")
            records.append(record)
    return records


def _cold_items() -> int:
    from moto.dynamodb.models import dynamodb_backends

    tables = dynamodb_backends["123456789012"]["ap-east-1"].tables.values()
    items = [
        item
        for table in tables
        for stored in table.items.values()
        for item in (stored.values() if table.range_key_attr else [stored])
    ]
    return sum("_cold" in item.__dict__ for item in items)


def test_cold_items_answer_as_plain_moto_does(aws_env, patched_later, monkeypatch):
    with mock_aws():
        client = boto3.client("dynamodb")
        _create_tables(client)
        plain = _history(client)

    patched_later()
    monkeypatch.setattr(fidelity, "COLD_AFTER_S", 0.0)  # everything untouched, before each write
    monkeypatch.setattr(fidelity, "SWEEP_EVERY_S", 0.0)
    with mock_aws():
        client = boto3.client("dynamodb")
        _create_tables(client)
        tuned = _history(client)
        client.put_item(TableName="h", Item={"pk": {"S": "last"}})  # puts the rest away
        cold = _cold_items()

    assert cold == 7  # t's 6 items without a binary value and h's claims; not the item just put
    assert tuned == plain
    assert any(isinstance(answer, tuple) for answer in plain)  # refusals were compared too
