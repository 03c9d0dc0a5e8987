"""The DynamoDB process's lean way to moto's handler (local/dynamodb_wsgi.py) answers exactly as
moto's own server does: the same history of requests, through a real HTTP server and boto3,
sent once the lean way and once moto's way on a fresh moto each time, gives the same answers,
errors and stream records; the lean way really takes the hot operations, and leaves binary
values, bad bodies and everything else to moto."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from local import aws_process
from local.dynamodb_wsgi import LEAN_OPERATIONS, DynamoDBApplication, lean_params
from tests.support.attribute_values import attribute_values
from tests.support.server_clients import client_of

STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


class _Switch:
    """The server's application: the lean way in front of moto's, or moto's alone; counts the
    requests that reached moto's own application, by operation."""

    def __init__(self, moto: Any):
        self.moto = moto
        self.lean = DynamoDBApplication(self._counted)
        self.use_lean = True
        self.reached_moto: Counter[str] = Counter()

    def _counted(self, environ: dict, start_response: Any) -> Any:
        self.reached_moto[environ.get("HTTP_X_AMZ_TARGET", environ.get("PATH_INFO", ""))] += 1
        return self.moto(environ, start_response)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return (self.lean if self.use_lean else self.moto)(environ, start_response)


@pytest.fixture
def server(aws_env, patched_later):
    """moto's application tuned as in the DynamoDB process, behind cheroot on a free port."""
    patched_later()
    switch = _Switch(aws_process.moto_app().app)
    served = aws_process.keep_alive_server(0, switch)
    served.prepare()
    thread = threading.Thread(target=served.serve, daemon=True)
    thread.start()
    yield switch, f"http://127.0.0.1:{served.bind_addr[1]}"
    served.stop()


def _outcome(call, **request: Any) -> Any:
    """`call(**request)`'s answer without what differs by nature between two runs (request ids,
    event ids, the times in a record, its size and the next iterator), or the error's code and
    message."""
    try:
        answer = call(**request)
    except ClientError as error:
        return ("error", error.response["Error"].get("Code"), error.response["Error"]["Message"])
    for volatile in ("ResponseMetadata", "NextShardIterator"):
        answer.pop(volatile, None)
    for record in answer.get("Records", []):
        record.pop("eventID", None)
        for volatile in ("ApproximateCreationDateTime", "SizeBytes"):  # moto's size counts the time
            record["dynamodb"].pop(volatile, None)
    return answer


def _history(endpoint: str) -> list[Any]:
    """Every hot operation with the stack's kinds of requests: conditions that pass and fail,
    returned values, an index, pages, a transaction that is cancelled, a binary value, bad input."""
    db, streams = client_of("dynamodb", endpoint), client_of("dynamodbstreams", endpoint)
    db.create_table(
        TableName="orders",
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification=STREAM,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "ip")],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_ip",
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "ip", "KeyType": "HASH"}],
            }
        ],
    )
    db.create_table(
        TableName="stats",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    out: list[Any] = []

    def order(n: int) -> dict:
        return {
            "pk": {"S": f"o{n}"},
            "ip": {"S": f"10.0.0.{n % 3}"},
            "amount": {"N": str(1000 + n)},
            "name": {"S": "30元充值卡 × 1"},
            "paid": {"BOOL": False},
            "note": {"NULL": True},
            "tags": {"SS": ["a", "b"]},
            "timeline": {"L": [{"M": {"what": {"S": "registered"}, "n": {"N": "1"}}}]},
        }

    out.extend(
        _outcome(
            db.put_item,
            TableName="orders",
            Item=order(n),
            ConditionExpression="attribute_not_exists(pk)",
            ReturnConsumedCapacity="TOTAL",
        )
        for n in range(8)
    )
    out.append(
        _outcome(
            db.put_item,
            TableName="orders",
            Item=order(1),
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    )
    out.append(
        _outcome(db.put_item, TableName="orders", Item={**order(9), "blob": {"B": b"\x00raw"}})
    )
    paid = {
        "TableName": "orders",
        "Key": {"pk": {"S": "o2"}},
        "UpdateExpression": "SET paid = :t, timeline = list_append(timeline, :e) ADD version :one",
        "ConditionExpression": "paid = :f",
        "ExpressionAttributeValues": {
            ":t": {"BOOL": True},
            ":f": {"BOOL": False},
            ":one": {"N": "1"},
            ":e": {"L": [{"M": {"what": {"S": "paid"}}}]},
        },
        "ReturnValues": "ALL_NEW",
    }
    out.append(_outcome(db.update_item, **paid))
    out.append(_outcome(db.update_item, **paid))  # the condition fails now
    out.append(
        _outcome(
            db.update_item,
            TableName="orders",
            Key={"pk": {"S": "o3"}},
            UpdateExpression="SET #n = :n REMOVE note",
            ExpressionAttributeNames={"#n": "name"},
            ExpressionAttributeValues={":n": {"S": "new"}},
            ReturnValues="UPDATED_OLD",
        )
    )
    out.append(
        _outcome(
            db.update_item,
            TableName="orders",
            Key={"pk": {"S": "o3"}},
            UpdateExpression="SET = broken",
        )
    )
    out.append(_outcome(db.get_item, TableName="orders", Key={"pk": {"S": "o2"}}))
    out.append(_outcome(db.get_item, TableName="orders", Key={"pk": {"S": "none"}}))
    out.append(
        _outcome(
            db.get_item,
            TableName="orders",
            Key={"pk": {"S": "o9"}},
            ProjectionExpression="pk, blob, timeline[0]",
            ConsistentRead=True,
        )
    )
    out.append(_outcome(db.get_item, TableName="missing", Key={"pk": {"S": "o1"}}))
    query = {
        "TableName": "orders",
        "IndexName": "by_ip",
        "KeyConditionExpression": "ip = :ip",
        "FilterExpression": "amount > :a",
        "ExpressionAttributeValues": {":ip": {"S": "10.0.0.1"}, ":a": {"N": "1000"}},
        "Limit": 1,
    }
    page = db.query(**query)
    out.append(_outcome(lambda: page))  # answered above: its last key starts the next
    out.append(_outcome(db.query, **query, ExclusiveStartKey=page.get("LastEvaluatedKey", {})))
    out.append(_outcome(db.query, TableName="orders", KeyConditionExpression="amount = :a"))
    out.append(
        _outcome(
            db.batch_get_item,
            RequestItems={"orders": {"Keys": [{"pk": {"S": f"o{n}"}} for n in (0, 4, 99)]}},
        )
    )
    out.append(
        _outcome(
            db.batch_write_item,
            RequestItems={
                "stats": [{"PutRequest": {"Item": {"pk": {"S": f"s{n}"}}}} for n in range(3)]
            },
        )
    )

    def stats_transaction(amount: str):
        return db.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "stats",
                        "Key": {"pk": {"S": "s0"}},
                        "UpdateExpression": "ADD total :a",
                        "ExpressionAttributeValues": {":a": {"N": amount}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "stats",
                        "Key": {"pk": {"S": "s1"}},
                        "ConditionExpression": "attribute_not_exists(total) OR :a > :z",
                        "ExpressionAttributeValues": {":a": {"N": amount}, ":z": {"N": "0"}},
                    }
                },
            ]
        )

    out.extend(_outcome(stats_transaction, amount=a) for a in ("5", "-500"))
    out.append(
        _outcome(
            db.execute_statement,
            Statement='SELECT * FROM "orders" WHERE pk = ?',
            Parameters=[{"S": "o4"}],
        )
    )
    out.append(
        _outcome(
            db.delete_item, TableName="orders", Key={"pk": {"S": "o5"}}, ReturnValues="ALL_OLD"
        )
    )
    arn = db.describe_table(TableName="orders")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    out.append(_outcome(streams.get_records, ShardIterator=iterator, Limit=100))
    for body in (b"{not json", b"[1, 2]", b"", b"{}"):
        answer = requests.post(
            endpoint,
            data=body,
            headers={
                "X-Amz-Target": "DynamoDB_20120810.GetItem",
                "Content-Type": "application/x-amz-json-1.0",
                "Authorization": "AWS4-HMAC-SHA256 "
                "Credential=t/20261207/ap-east-1/dynamodb/aws4_request, Signature=0",
            },
            timeout=10,
        )
        out.append((answer.status_code, answer.text))
    return out


def test_the_lean_way_answers_as_moto_does(server):
    switch, endpoint = server
    lean = _history(endpoint)
    reached_moto_lean = dict(switch.reached_moto)
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    switch.use_lean = False
    switch.reached_moto.clear()

    moto_way = _history(endpoint)
    assert moto_way == lean
    assert [o for o in lean if isinstance(o, tuple) and o[0] == "error"], "errors were compared"
    by_moto = {target.rsplit(".", 1)[-1]: n for target, n in reached_moto_lean.items()}
    # the binary value's PutItem and three of the bad bodies went moto's way, and only they
    assert by_moto == {
        "CreateTable": 2,
        "PutItem": 1,
        "GetItem": 3,  # "{not json", "[1, 2]" and the empty one; "{}" is a JSON object
        "DescribeTable": 1,
        "DescribeStream": 1,
    }


def test_every_lean_operation_is_a_dynamodb_or_streams_target():
    assert all(
        target.split(".")[0] in ("DynamoDB_20120810", "DynamoDBStreams_20120810")
        for target in LEAN_OPERATIONS
    )


def _moto_parse(operation: str, body: bytes) -> dict:
    """The input moto's own `parse_parameters` makes of `body`."""
    from moto.core.parse import JSONParser
    from moto.core.utils import get_service_model
    from werkzeug.datastructures import Headers, MultiDict

    operation_model = get_service_model("dynamodb").operation_model(operation)
    return dict(
        JSONParser(operation_model, map_type=dict).parse(
            {
                "method": "POST",
                "values": MultiDict(),
                "headers": Headers(),
                "body": body,
                "url_path": "/",
                "url_params": {},
            }
        )
    )


_items = st.dictionaries(
    st.text(min_size=1, max_size=8), attribute_values(binary=False), max_size=6
)


@settings(max_examples=60, deadline=None)
@given(item=_items, names=st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))
def test_lean_params_are_moto_s_model_parse_or_leave_the_body_to_moto(item, names):
    put = {"TableName": "orders", "Item": item, "ExpressionAttributeNames": names}
    update = {
        "TableName": "orders",
        "Key": {"pk": {"S": "o1"}},
        "UpdateExpression": "SET a = :v",
        "ExpressionAttributeValues": {f":v{n}": v for n, v in enumerate(item.values())},
        "ReturnValues": "ALL_NEW",
    }
    for operation, request in (("PutItem", put), ("UpdateItem", update)):
        body = json.dumps(request).encode()
        lean = lean_params(body)
        if lean is None:  # a key named B or BS anywhere (a name, too): moto's way, to be safe
            assert re.search(rb'"BS?"\s*:', body)
        else:
            assert lean == _moto_parse(operation, body)


def test_bodies_that_only_the_model_reads_right_take_moto_s_way():
    assert lean_params(b'{"Item": {"b": {"B": "AAE="}}}') is None
    assert lean_params(b'{"Item": {"b": {"BS" : ["AAE="]}}}') is None
    assert lean_params(b"{not json") is None
    assert lean_params(b"[1]") is None
    assert lean_params(b"") is None
