"""The embedded AWS as the local stack tunes it (local/fidelity.py): the same answers as moto's
own code, at a cost that does not grow with the table, and stream pumps that keep reading."""

from __future__ import annotations

import random
import re

import boto3
import pytest
from moto import mock_aws

from local import fidelity
from local.stream_pump import read_all
from tests.unit.local.conftest import fresh_moto

STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


@pytest.fixture
def ddb(in_process_moto):
    return _tables()


def _tables():
    """The tables the fidelity tests read: `t` with a stream and an index, `c` plain."""
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="t",
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification=STREAM,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "ip", "at")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_ip",
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [
                    {"AttributeName": "ip", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
            }
        ],
    )
    client.create_table(
        TableName="c",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    return client


def _item(pk: str, sk: str, ip: str, at: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}, "ip": {"S": ip}, "at": {"S": at}}


def _queries(ddb) -> list:
    """Base-table and index queries, both directions, with limits and pages followed."""
    answers = []
    for request in [
        {"KeyConditionExpression": "pk = :v", "ExpressionAttributeValues": {":v": {"S": f"p{i}"}}}
        for i in range(6)
    ] + [
        {
            "IndexName": "by_ip",
            "KeyConditionExpression": "ip = :v AND at BETWEEN :a AND :b",
            "ExpressionAttributeValues": {
                ":v": {"S": f"10.0.0.{i}"},
                ":a": {"S": "t03"},
                ":b": {"S": "t40"},
            },
        }
        for i in range(4)
    ]:
        for forward in (True, False):
            pages, start = [], None
            while True:
                extra = {"ExclusiveStartKey": start} if start else {}
                page = ddb.query(
                    TableName="t", Limit=3, ScanIndexForward=forward, **request, **extra
                )
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
        ddb.put_item(
            TableName="t",
            Item=_item(
                f"p{rng.randrange(6)}",
                f"s{n:03d}",
                f"10.0.0.{rng.randrange(4)}",
                f"t{rng.randrange(50):02d}",
            ),
        )
    before = _queries(ddb)
    patched_later()
    assert _queries(ddb) == before
    assert sum(len(p) for answer in before[:2] for p in answer) > 0


def test_a_select_of_index_keys_in_a_list_answers_as_a_query_per_key_in_pages_of_ten(
    ddb, patched_later
):
    """moto's own PartiQL has neither IN nor BETWEEN: the one shape the app sends is answered
    as DynamoDB runs it (one Query per key, projected, at most 50 keys, pages of 10 items)."""
    rng = random.Random(7)
    for n in range(120):
        ddb.put_item(
            TableName="t",
            Item=_item(f"p{n}", "s", f"10.0.0.{rng.randrange(8)}", f"t{rng.randrange(50):02d}"),
        )
    patched_later()
    ips = [f"10.0.0.{i}" for i in (6, 0, 3, 9)]  # 9: nobody
    bounds = [{"S": "t05"}, {"S": "t30"}]
    request = {
        "Statement": 'SELECT ip, at FROM "t"."by_ip" WHERE ip IN [?, ?, ?, ?] '
        "AND at BETWEEN ? AND ?",
        "Parameters": [{"S": ip} for ip in ips] + bounds,
    }
    pages = []
    while True:
        page = ddb.execute_statement(**request)
        pages.append(page["Items"])
        if "NextToken" not in page:
            break
        request["NextToken"] = page["NextToken"]
    expected = [
        {"ip": item["ip"], "at": item["at"]}
        for ip in ips
        for item in ddb.query(
            TableName="t",
            IndexName="by_ip",
            KeyConditionExpression="ip = :v AND at BETWEEN :a AND :b",
            ExpressionAttributeValues={":v": {"S": ip}, ":a": bounds[0], ":b": bounds[1]},
        )["Items"]
    ]
    assert [item for page in pages for item in page] == expected and len(expected) > 10
    assert [len(page) for page in pages[:-1]] == [10] * (len(pages) - 1) and len(pages[-1]) > 0
    many = ", ".join("?" * 51)
    with pytest.raises(ddb.exceptions.ClientError, match="at most 50"):
        ddb.execute_statement(
            Statement=f'SELECT ip FROM "t"."by_ip" WHERE ip IN [{many}] AND at BETWEEN ? AND ?',
            Parameters=[{"S": str(i)} for i in range(51)] + bounds,
        )
    ddb.put_item(TableName="c", Item={"pk": {"S": "x"}})
    assert ddb.execute_statement(
        Statement='SELECT * FROM "c" WHERE pk = ?', Parameters=[{"S": "x"}]
    )["Items"] == [{"pk": {"S": "x"}}]  # any other statement: moto's own PartiQL


def test_a_cancelled_transaction_puts_back_exactly_its_items_and_the_stream_keeps_flowing(
    ddb, patched_later
):
    """moto swapped in a deep copy of the whole table on a cancellation: a stream reader held
    the old shard and never saw another record (the local pumps went deaf)."""
    patched_later()
    streams = boto3.client("dynamodbstreams")
    arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    ddb.put_item(TableName="t", Item=_item("a", "1", "ip", "t1"))
    ddb.put_item(TableName="c", Item={"pk": {"S": "claimed"}})
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET ip = :x",
                        "ExpressionAttributeValues": {":x": {"S": "changed"}},
                    }
                },
                {"Put": {"TableName": "t", "Item": _item("b", "2", "ip", "t2")}},
                {
                    "Put": {
                        "TableName": "c",
                        "Item": {"pk": {"S": "claimed"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert ddb.get_item(TableName="t", Key={"pk": {"S": "a"}, "sk": {"S": "1"}})["Item"]["ip"] == {
        "S": "ip"
    }
    assert "Item" not in ddb.get_item(TableName="t", Key={"pk": {"S": "b"}, "sk": {"S": "2"}})
    ddb.put_item(TableName="t", Item=_item("c", "3", "ip", "t3"))
    page = streams.get_records(ShardIterator=iterator)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]] == ["a", "c"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(streams, arn)] == ["a", "c"]


def test_a_committed_transaction_writes_every_item_and_its_stream_records(ddb, patched_later):
    patched_later()
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "t", "Item": _item("a", "1", "ip", "t1")}},
            {"Put": {"TableName": "c", "Item": {"pk": {"S": "k"}}}},
        ]
    )
    streams = boto3.client("dynamodbstreams")
    assert (
        len(read_all(streams, ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"])) == 1
    )
    assert "Item" in ddb.get_item(TableName="c", Key={"pk": {"S": "k"}})


def test_shard_iterators_older_than_dynamodbs_15_minutes_are_forgotten(
    ddb, patched_later, monkeypatch
):
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    clock = {"now": 1000.0}
    monkeypatch.setattr(fidelity.time, "monotonic", lambda: clock["now"])
    patched_later()
    streams = boto3.client("dynamodbstreams")
    arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def new_iterator() -> str:
        return streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
            "ShardIterator"
        ]

    old = [new_iterator() for _ in range(5)]
    clock["now"] += fidelity.SHARD_ITERATOR_LIFETIME_S + 61
    fresh = new_iterator()
    kept = dynamodbstreams_backends["123456789012"]["ap-east-1"].shard_iterators
    assert fresh in kept and not any(arn in kept for arn in old)
    assert streams.get_records(ShardIterator=fresh)["Records"] == []


def _keys(page: dict) -> list[str]:
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]]


def test_a_stream_forgets_the_records_every_reader_has_read_and_keeps_the_unread(
    ddb, patched_later, monkeypatch
):
    """moto kept every stream record for as long as it ran: most of the stack's memory after a
    flash sale. Records behind every live reader are dropped; a reader's unread ones stay."""
    monkeypatch.setattr(fidelity, "TRIM_AT_RECORDS", 4)
    patched_later()
    streams = boto3.client("dynamodbstreams")
    arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    shard_id = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    table = ddb.describe_table(TableName="t")["Table"]["TableName"]
    fast = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    slow = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    for i in range(6):
        ddb.put_item(TableName=table, Item=_item(f"k{i}", "1", "ip", f"t{i}"))
    page = streams.get_records(ShardIterator=fast, Limit=5)
    assert _keys(page) == ["k0", "k1", "k2", "k3", "k4"]
    page = streams.get_records(ShardIterator=page["NextShardIterator"])
    assert _keys(page) == ["k5"]
    assert len(_shard(ddb).items) == 6  # the slow reader has read nothing yet
    page = streams.get_records(ShardIterator=slow, Limit=3)
    assert _keys(page) == ["k0", "k1", "k2"]
    page = streams.get_records(ShardIterator=page["NextShardIterator"], Limit=1)
    assert _keys(page) == ["k3"]
    # each reader may still read its last batch again (a retry): k3 stays, k0..k2 are gone
    assert [r.record["dynamodb"]["Keys"]["pk"]["S"] for r in _shard(ddb).items] == [
        "k3",
        "k4",
        "k5",
    ]
    assert _keys(streams.get_records(ShardIterator=page["NextShardIterator"])) == ["k4", "k5"]
    ddb.put_item(TableName=table, Item=_item("k6", "1", "ip", "t6"))
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(streams, arn)][-1] == "k6"
    numbers = [int(r.record["dynamodb"]["SequenceNumber"]) for r in _shard(ddb).items]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # numbering goes on


def test_a_reader_that_moved_on_leaves_no_iterator_behind(ddb, patched_later):
    """Each GetRecords hands out a new iterator (moto kept all for 15 minutes, ~1 KB each, a few
    a second per pump): the ones a reader has moved past are forgotten."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    patched_later()
    streams = boto3.client("dynamodbstreams")
    arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    shard_id = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    for _ in range(20):
        iterator = streams.get_records(ShardIterator=iterator)["NextShardIterator"]
    assert len(dynamodbstreams_backends["123456789012"]["ap-east-1"].shard_iterators) <= 2


def _shard(ddb):
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends["123456789012"]["ap-east-1"].tables["t"].stream_shard


def test_a_topic_keeps_its_latest_messages_only(patched_later, monkeypatch):
    from moto.sns.models import sns_backends

    monkeypatch.setattr(fidelity, "SENT_NOTIFICATIONS_KEPT", 3)
    for name, value in {
        "AWS_DEFAULT_REGION": "ap-east-1",
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    patched_later()
    with mock_aws():
        sns = boto3.client("sns")
        topic = sns.create_topic(Name="events")["TopicArn"]
        for i in range(10):
            sns.publish(TopicArn=topic, Message=f"m{i}")
        kept = sns_backends["123456789012"]["ap-east-1"].topics[topic].sent_notifications
        assert [message for _, message, *_ in kept] == ["m7", "m8", "m9"]


def _item_answers(ddb) -> list:
    """The answers of every operation written as JSON, as botocore reads them (request ids aside)."""
    streams = boto3.client("dynamodbstreams")
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    rich = {
        **_item("a", "1", "10.0.0.1", "t1"),
        "n": {"N": "30.00"},
        "b": {"B": b"\x00\xff"},
        "ss": {"SS": ["x", "y"]},
        "m": {"M": {"l": {"L": [{"S": "中文"}, {"NULL": True}, {"BOOL": False}]}}},
    }
    answers = [
        ddb.put_item(
            TableName="t", Item=rich, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL"
        ),
        ddb.put_item(TableName="t", Item={**rich, "n": {"N": "31"}}, ReturnValues="ALL_OLD"),
        ddb.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET n = n + :one ADD ss :z",
            ExpressionAttributeValues={":one": {"N": "1"}, ":z": {"SS": ["z"]}},
            ReturnValues="ALL_NEW",
        ),
        ddb.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET #at = :t",
            ExpressionAttributeNames={"#at": "at"},
            ExpressionAttributeValues={":t": {"S": "t2"}},
        ),
        ddb.get_item(TableName="t", Key=key, ConsistentRead=True),
        ddb.get_item(TableName="t", Key=key, ProjectionExpression="ss, m"),
        ddb.get_item(TableName="t", Key={"pk": {"S": "none"}, "sk": {"S": "1"}}),
        ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": "t", "Item": _item("b", "2", "10.0.0.1", "t3")}}]
        ),
        ddb.query(
            TableName="t",
            IndexName="by_ip",
            KeyConditionExpression="ip = :v",
            ExpressionAttributeValues={":v": {"S": "10.0.0.1"}},
            Limit=1,
            ReturnConsumedCapacity="TOTAL",
        ),
        ddb.query(
            TableName="t",
            KeyConditionExpression="pk = :v",
            ExpressionAttributeValues={":v": {"S": "a"}},
            Select="COUNT",
        ),
        ddb.delete_item(TableName="t", Key=key, ReturnValues="ALL_OLD"),
    ]
    arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    records = read_all(streams, arn)
    for record in records:
        record.pop("eventID")
        assert (
            record["dynamodb"].pop("ApproximateCreationDateTime").year >= 2026
        )  # a time, read as one
        assert record["dynamodb"].pop("SizeBytes") > 0  # moto counts the time's text: it varies
    for answer in answers:
        answer.pop("ResponseMetadata")
    return [*answers, records]


def test_item_answers_written_as_json_read_as_the_serializers_do(monkeypatch, patched_later):
    """moto's shape-driven serializer was a third of its CPU under a flash sale; the JSON it is
    replaced with reads back the same through botocore, for every item-carrying operation."""
    from moto.core.responses import ActionResult

    answers = []
    for patched in (False, True):
        if patched:
            fidelity.item_answers_written_as_json()
            assert getattr(ActionResult.execute_result, "_json", False)
        with fresh_moto(monkeypatch):
            answers.append(_item_answers(_tables()))
    plain, written = answers
    assert written == plain
    assert len(plain[-1]) == 6 and plain[4]["Item"]["b"] == {"B": b"\x00\xff"}


def _update_answers(ddb) -> list:
    """UpdateItem answers and refusals over the expression forms paytrack writes (SET with
    arithmetic, list_append and if_not_exists, REMOVE, ADD to numbers and sets, DELETE from a set,
    nested paths, conditions), each expression sent twice, and the stream they leave."""
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    ddb.put_item(
        TableName="t",
        Item={**_item("a", "1", "10.0.0.1", "t1"), "n": {"N": "1"}, "tl": {"L": []}},
    )
    updates = [
        ("SET n = n + :one, tl = list_append(tl, :e)", None),
        ("SET #m = if_not_exists(#m, :empty)", None),
        ("SET #m.#k = :v REMOVE gone ADD c :one, ss :z", None),
        ("DELETE ss :y SET tl[0].x = :v", None),
        ("SET n = n + :one", "n < :limit"),
        ("SET word = :v", None),
        ("SET sk = :v", None),  # a key attribute: refused
        ("SET n = n + :v", None),  # a number plus a string: refused
        ("SET = :v", None),  # no path: refused
        ("SET word = :v REMOVE gone SET n = :one", None),  # two SET clauses: refused
        ("ADD c :one REMOVE gone ADD n :one", None),  # two ADD clauses: refused
        ("SET word = :v, word = :v", None),  # one path twice: refused
    ]
    values = {
        ":one": {"N": "1"},
        ":e": {"L": [{"M": {"x": {"S": "entry"}}}]},
        ":empty": {"M": {}},
        ":v": {"S": "v"},
        ":z": {"SS": ["z", "y"]},
        ":y": {"SS": ["y"]},
        ":limit": {"N": "3"},
    }
    answers: list = []
    returns = ("ALL_NEW", "ALL_OLD", "UPDATED_OLD", "UPDATED_NEW")
    for n, (expression, condition) in enumerate(updates * 2):
        names = {n: n[1:] for n in ("#m", "#k") if n in expression}
        placeholders = set(re.findall(r":\w+", f"{expression} {condition or ''}"))
        used = {k: v for k, v in values.items() if k in placeholders}
        try:
            answer = ddb.update_item(
                TableName="t",
                Key=key,
                UpdateExpression=expression,
                **({"ExpressionAttributeNames": names} if names else {}),
                ExpressionAttributeValues=used,
                **({"ConditionExpression": condition} if condition else {}),
                ReturnValues=returns[n % len(returns)],
            )
            answer.pop("ResponseMetadata")
            answers.append(answer)
        except ddb.exceptions.ClientError as error:
            answers.append(error.response["Error"])
    arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    records = read_all(boto3.client("dynamodbstreams"), arn)
    images = [(r["dynamodb"].get("OldImage"), r["dynamodb"].get("NewImage")) for r in records]
    return [*answers, images]


def test_update_expressions_parsed_once_and_walked_once_answer_as_moto_does(
    monkeypatch, patched_later
):
    """moto made like AWS — an update expression parsed once per text, its tree copied node by
    node for each validation, walked with the processor map built once per walk, its clauses
    found by node type, the checks that passed for it remembered, items measured and written as
    JSON in one walk, old images kept as their JSON (most of moto's time in an UpdateItem under
    a flash sale) — changes no answer (each kind of ReturnValues), no refusal and no stream
    image, old or new."""
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    answers = []
    for patched in (False, True):
        if patched:
            fidelity.like_aws()
            fidelity.update_expressions_parsed_once()
            fidelity.expression_trees_walked_without_lookups_per_node()
            fidelity.clauses_found_by_node_type()
            fidelity.expression_trees_copied_node_by_node()
            assert UpdateExpressionParser.make._parsed_once
            assert DepthFirstTraverser.traverse._walks_once
            assert Node.find_clauses._by_type
            assert validators.deepcopy._node_by_node
        with fresh_moto(monkeypatch):
            answers.append(_update_answers(_tables()))
    plain, tuned = answers
    assert tuned == plain
    refusals = [a["Code"] for a in plain[:-1] if "Code" in a]
    # the key, the type, the empty path, the clauses and the overlap on both passes; the
    # condition on the second
    assert sorted(refusals) == ["ConditionalCheckFailedException"] + ["ValidationException"] * 12
    messages = {a["Message"] for a in plain[:-1] if a.get("Code") == "ValidationException"}
    assert {
        m.split("UpdateExpression: ")[-1] for m in messages if "once" in m or "overlap" in m
    } == {
        'The "SET" section can only be used once in an update expression;',
        'The "ADD" section can only be used once in an update expression;',
        "Two document paths overlap with each other; must remove or rewrite one of these paths; "
        "path one: [word], path two: [word]",
    }
    assert plain[0]["Attributes"]["n"] == {"N": "2"}  # ALL_NEW
    assert plain[2]["Attributes"]["m"] == {"M": {}}  # UPDATED_OLD: before #m.#k was set
    assert plain[1]["Attributes"]["n"] == {"N": "2"}  # ALL_OLD
    assert len(plain[-1]) == 1 + 6 + 5  # the put, then every update applied on each pass


def _claims_answers(ddb) -> list:
    """Claims as paytrack writes them (an ADD to a set, conditioned on the key being absent), on
    `c` (no stream) and on `t`, alone and in transactions, each twice; a condition whose values
    change under the same text; an item over the size limit; the items and stream left."""
    answers: list = []

    def attempt(call, **request):
        try:
            answer = call(**request)
            answer.pop("ResponseMetadata")
            answers.append(answer)
        except ddb.exceptions.ClientError as error:
            answers.append([error.response["Error"], error.response.get("CancellationReasons", [])])

    def claim(table: str, key: dict, name: str) -> dict:
        return {
            "TableName": table,
            "Key": key,
            "UpdateExpression": "ADD #k :keys",
            "ConditionExpression": "NOT contains(#k, :k0)",
            "ExpressionAttributeNames": {"#k": "keys"},
            "ExpressionAttributeValues": {":keys": {"SS": [name]}, ":k0": {"S": name}},
        }

    keys = {"c": {"pk": {"S": "o1"}}, "t": {"pk": {"S": "o1"}, "sk": {"S": "1"}}}
    for _ in range(2):
        for name in ("order.paid", "order.ready", "order.paid"):
            for table, key in keys.items():
                attempt(ddb.update_item, **claim(table, key, name), ReturnValues="ALL_NEW")
        for name in ("stats:created", "stats:paid"):
            attempt(
                ddb.transact_write_items,
                TransactItems=[{"Update": claim(table, key, name)} for table, key in keys.items()],
            )
    for limit in ("1", "5", "1"):
        attempt(
            ddb.put_item,
            TableName="c",
            Item={"pk": {"S": "n"}, "n": {"N": "2"}},
            ConditionExpression="attribute_not_exists(n) OR n < :limit",
            ExpressionAttributeValues={":limit": {"N": limit}},
        )
    attempt(ddb.put_item, TableName="c", Item={"pk": {"S": "big"}, "x": {"S": "x" * 410_000}})
    attempt(ddb.scan, TableName="c")
    arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    answers.append(
        [r["dynamodb"].get("OldImage") for r in read_all(boto3.client("dynamodbstreams"), arn)]
    )
    return answers


def test_claims_and_conditions_answer_as_moto_does_without_its_copies_and_reparsing(
    monkeypatch, patched_later
):
    """Conditions parsed once per text and values, items built with one size check and update
    old images copied only for a stream change no answer, refusal, stored item or stream image."""
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.models.dynamo_type import Item

    answers = []
    for patched in (False, True):
        if patched:
            patched_later()
            assert ConditionExpressionParser.parse._parsed_once and Item.__init__._one_size_check
        with fresh_moto(monkeypatch):
            answers.append(_claims_answers(_tables()))
    plain, tuned = answers
    assert tuned == plain
    codes = [a[0]["Code"] for a in plain[:-2] if isinstance(a, list)]
    # the claims taken already (the paid one again, then all on the second pass), the put whose
    # condition the stored value fails
    assert codes.count("ConditionalCheckFailedException") == 2 + 6 + 1
    assert codes.count("TransactionCanceledException") == 2  # the second pass's transactions
    assert plain[-3][0]["Code"] == "ValidationException"  # the item over the size limit
    assert len(plain[-1]) == 1 + 4  # moto puts the key alone first, then each claim written


def test_moto_lists_its_services_once_not_per_request(patched_later, monkeypatch):
    """moto's server listed its package directory (an isdir per entry) for every request, under
    one lock: over a second per GetItem under a flash sale."""
    import os

    from moto import backends

    before = list(backends.list_of_moto_modules())
    patched_later()
    calls = {"isdir": 0}
    real_isdir = os.path.isdir

    def counting_isdir(path):
        calls["isdir"] += 1
        return real_isdir(path)

    monkeypatch.setattr(os.path, "isdir", counting_isdir)
    for _ in range(3):
        assert list(backends.list_of_moto_modules()) == before
    assert "dynamodb" in before and calls["isdir"] == 0


def test_model_objects_are_not_kept_once_moto_lets_go_of_them(patched_later):
    """moto listed every model object it made on its class (for its dashboard) for as long as
    it ran: every item copy, stream record and shard iterator of a flash sale."""
    import gc
    import weakref

    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodbstreams.models import ShardIterator

    patched_later()
    with mock_aws():
        client = _tables()
        tracked = len(Item.instances_tracked), len(ShardIterator.instances_tracked)
        for n in range(5):
            client.put_item(TableName="t", Item=_item("p", f"s{n}", "10.0.0.1", "t1"))
            client.query(
                TableName="t",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": "p"}},
            )
        assert len(read_all(boto3.client("dynamodbstreams"), _stream_arn(client))) == 5
        assert (len(Item.instances_tracked), len(ShardIterator.instances_tracked)) == tracked
        copy = weakref.ref(next(iter(_backend_items("t"))).__deepcopy__({}))
        gc.collect()
        assert copy() is None


def _stream_arn(client) -> str:
    return client.describe_table(TableName="t")["Table"]["LatestStreamArn"]


def _backend_items(name: str) -> list:
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends["123456789012"]["ap-east-1"].tables[name]
    return [item for partition in table.items.values() for item in partition.values()]


def test_reads_and_updates_read_items_under_the_write_lock(patched_later, monkeypatch):
    """moto's handlers read items outside the backend's lock (UpdateItem's old image, a
    projection) while other threads' updates changed them in place: `dictionary changed size
    during iteration`, a 500, under a flash sale."""
    from moto.dynamodb.models import DynamoDBBackend

    patched_later()
    with mock_aws():
        client = _tables()
        client.put_item(TableName="t", Item=_item("p", "s", "10.0.0.1", "t1"))
        held = []
        original = DynamoDBBackend.get_item

        def get_item(self, *args, **kwargs):
            held.append(fidelity._lock._is_owned())
            return original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, "get_item", get_item)
        key = {"pk": {"S": "p"}, "sk": {"S": "s"}}
        answer = client.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET ip = :ip",
            ExpressionAttributeValues={":ip": {"S": "10.0.0.2"}},
            ReturnValues="UPDATED_OLD",
        )
        got = client.get_item(TableName="t", Key=key, ProjectionExpression="ip")
        batch = client.batch_get_item(
            RequestItems={"t": {"Keys": [key], "ProjectionExpression": "ip"}}
        )
    assert answer["Attributes"] == {"ip": {"S": "10.0.0.1"}}
    assert got["Item"] == batch["Responses"]["t"][0] == {"ip": {"S": "10.0.0.2"}}
    assert len(held) >= 3 and all(held)


def test_moto_lists_a_handlers_methods_once_not_per_request(patched_later, monkeypatch):
    import inspect

    patched_later()
    calls = {"getmembers": 0}
    real = inspect.getmembers

    def counting(*args, **kwargs):
        calls["getmembers"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(inspect, "getmembers", counting)
    with mock_aws():
        client = _tables()
        for _ in range(3):
            client.get_item(TableName="c", Key={"pk": {"S": "x"}})
    assert calls["getmembers"] <= 1


def test_the_local_api_listens_with_a_backlog_for_a_burst_of_clients(patched_later):
    from chalice.local import ThreadedHTTPServer

    assert ThreadedHTTPServer.request_queue_size == 5  # socketserver's default
    fidelity.accept_bursts_of_connections()
    assert ThreadedHTTPServer.request_queue_size == 128


def test_a_receive_reads_the_queues_retention_alone_and_keeps_what_is_not_too_old(
    patched_later, monkeypatch
):
    """moto computed every attribute of the queue (counting its messages) for each message a
    receive looked at: O(n²) on a queue that fell behind."""
    from moto.sqs.models import Queue

    patched_later()
    computed = {"attributes": 0}
    real_attributes = Queue.attributes

    def counted(queue):
        computed["attributes"] += 1
        return real_attributes.fget(queue)

    with fresh_moto(monkeypatch):
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})[
            "QueueUrl"
        ]
        for i in range(5):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        monkeypatch.setattr(Queue, "attributes", property(counted))
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert sorted(m["Body"] for m in received) == [f"m{i}" for i in range(5)]
        assert computed["attributes"] == 0
        from moto.sqs.models import sqs_backends

        backend = sqs_backends["123456789012"]["ap-east-1"]
        message = backend.get_queue("q")._messages[0]
        assert backend.is_message_valid_based_on_retention_period("q", message)
        message.sent_timestamp -= 61_000  # older than the queue's 60 s
        assert not backend.is_message_valid_based_on_retention_period("q", message)
