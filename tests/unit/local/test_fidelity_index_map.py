"""Index Queries on the embedded AWS read their partition through an index map kept by every
write (local/fidelity.py: IndexMap, writes_keep_index_maps). moto answered them by walking the
whole table, so a flash sale's `by_ip` COUNT per order cost O(n) and the sale O(n²).

The property: after any sequence of writes of every kind (PutItem, UpdateItem setting, changing
or removing the indexed attribute, DeleteItem, transactions committed and cancelled,
BatchWriteItem), every index Query answers exactly what moto's own scan of the table answers."""

from __future__ import annotations

import boto3
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from local import fidelity

IPS = ("10.0.0.1", "10.0.0.2", "10.0.0.3")
MAILS = ("a@qq.com", "b@qq.com")
TABLES = {"t": ("pk", "sk"), "h": ("pk",)}  # one table with a range key, one without
_gsi = [
    {
        "IndexName": "by_ip",
        "Projection": {"ProjectionType": "ALL"},
        "KeySchema": [
            {"AttributeName": "ip", "KeyType": "HASH"},
            {"AttributeName": "at", "KeyType": "RANGE"},
        ],
    },
    {
        "IndexName": "by_mail",
        "Projection": {"ProjectionType": "KEYS_ONLY"},
        "KeySchema": [{"AttributeName": "mail", "KeyType": "HASH"}],
    },
]


def _create_tables(client) -> None:
    for name, key in TABLES.items():
        client.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            GlobalSecondaryIndexes=_gsi,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            KeySchema=[
                {"AttributeName": a, "KeyType": k}
                for a, k in zip(key, ("HASH", "RANGE")[: len(key)], strict=True)
            ],
            AttributeDefinitions=[
                {"AttributeName": a, "AttributeType": "S"} for a in (*key, "ip", "at", "mail")
            ],
        )


def _backend_table(name: str):
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends["123456789012"]["ap-east-1"].tables[name]


# ------------------------------------------------------------------------------ the writes

keys = st.tuples(
    st.sampled_from(sorted(TABLES)),
    st.sampled_from(("p0", "p1", "p2")),
    st.sampled_from(("s0", "s1")),
)
maybe_ip = st.one_of(st.none(), st.sampled_from(IPS))


def _key(table: str, pk: str, sk: str) -> dict:
    return {"pk": {"S": pk}, **({"sk": {"S": sk}} if "sk" in TABLES[table] else {})}


def _put(table, pk, sk, ip, at, mail) -> dict:
    item = {**_key(table, pk, sk), "at": {"S": at}, "n": {"N": "1"}}
    if ip:
        item["ip"] = {"S": ip}
    if mail:
        item["mail"] = {"S": mail}
    return {"Put": {"TableName": table, "Item": item}}


def _update(table, pk, sk, ip) -> dict:
    """Sets the indexed attribute (a new item when none is there), or removes it."""
    if ip is None:
        return {
            "Update": {
                "TableName": table,
                "Key": _key(table, pk, sk),
                "UpdateExpression": "REMOVE ip",
            }
        }
    return {
        "Update": {
            "TableName": table,
            "Key": _key(table, pk, sk),
            "UpdateExpression": "SET ip = :ip, #at = if_not_exists(#at, :at)",
            "ExpressionAttributeNames": {"#at": "at"},
            "ExpressionAttributeValues": {":ip": {"S": ip}, ":at": {"S": "t9"}},
        }
    }


def _delete(table, pk, sk) -> dict:
    return {"Delete": {"TableName": table, "Key": _key(table, pk, sk)}}


puts = st.builds(
    lambda k, ip, at, mail: _put(*k, ip, at, mail),
    keys,
    maybe_ip,
    st.sampled_from(("t1", "t2", "t3")),
    st.one_of(st.none(), st.sampled_from(MAILS)),
)
updates = st.builds(lambda k, ip: _update(*k, ip), keys, maybe_ip)
deletes = st.builds(lambda k: _delete(*k), keys)
elements = st.one_of(puts, updates, deletes)


def _distinct(ops: list[dict]) -> list[dict]:
    """DynamoDB refuses a transaction or batch naming one item twice."""
    seen, kept = set(), []
    for op in ops:
        (body,) = op.values()
        key = (
            body["TableName"],
            repr(body.get("Key") or {k: body["Item"][k] for k in TABLES[body["TableName"]]}),
        )
        if key not in seen:
            seen.add(key)
            kept.append(op)
    return kept


writes = st.one_of(
    st.builds(lambda op: ("single", op), elements),
    st.builds(
        lambda ops, cancel: ("transaction", _distinct(ops), cancel),
        st.lists(elements, min_size=1, max_size=4),
        st.booleans(),
    ),
    st.builds(
        lambda ops: ("batch", _distinct(ops)),
        st.lists(st.one_of(puts, deletes), min_size=1, max_size=4),
    ),
)


def _apply(client, write) -> None:
    kind, *rest = write
    if kind == "single":
        ((op_kind, body),) = rest[0].items()
        {"Put": client.put_item, "Update": client.update_item, "Delete": client.delete_item}[
            op_kind
        ](**body)
    elif kind == "transaction":
        ops, cancel = rest
        failing = (
            [
                {
                    "ConditionCheck": {
                        "TableName": "h",
                        "Key": {"pk": {"S": "never"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                }
            ]
            if cancel
            else []
        )
        try:
            client.transact_write_items(TransactItems=ops + failing)
        except ClientError as error:
            assert cancel and error.response["Error"]["Code"] == "TransactionCanceledException"
    else:
        requests: dict[str, list] = {}
        for op in rest[0]:
            ((op_kind, body),) = op.items()
            request = (
                {"PutRequest": {"Item": body["Item"]}}
                if op_kind == "Put"
                else {"DeleteRequest": {"Key": body["Key"]}}
            )
            requests.setdefault(body["TableName"], []).append(request)
        client.batch_write_item(RequestItems=requests)


# ------------------------------------------------------------------------------ the answers


def _both_ways(table, index: str, attribute: str, value: str, limit: int | None, between: bool):
    """One index Query through the map (the patched Table.query) and through moto's own scan
    (the original it wraps), as (items, scanned count, last evaluated key) each."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    hash_value = DynamoType({"S": value})
    bounds = [DynamoType({"S": "t1"}), DynamoType({"S": "t2"})]
    range_comparison, range_objs = ("BETWEEN", bounds) if between else (None, [])
    args = (hash_value, range_comparison, range_objs, limit, None, True, None, index)
    kwargs = {
        "hash_key_conditions": [(attribute, hash_value)],
        "range_key_conditions": [("at", "BETWEEN", bounds)] if between else [],
    }
    answers = []
    for query in (table.query, Table.query.__wrapped__.__get__(table)):
        items, scanned, last = query(*args, **kwargs)
        answers.append(([item.to_json() for item in items], scanned, last))
    return answers


def _assert_index_queries_answer_as_moto_scans() -> None:
    for name in TABLES:
        table = _backend_table(name)
        for index, attribute, values in (("by_ip", "ip", IPS), ("by_mail", "mail", MAILS)):
            for value in values:
                for limit in (None, 1):
                    for between in (False, True) if index == "by_ip" else (False,):
                        through_map, scanned = _both_ways(
                            table, index, attribute, value, limit, between
                        )
                        assert through_map == scanned, (name, index, value, limit, between)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=st.lists(writes, max_size=4), after=st.lists(writes, min_size=1, max_size=12))
def test_index_queries_answer_as_moto_scans_after_any_writes(aws_env, patched_later, before, after):
    """`before` is written before the first index Query builds the map; `after` is kept by it."""
    patched_later()
    with mock_aws():
        client = boto3.client("dynamodb")
        _create_tables(client)
        for write in before:
            _apply(client, write)
        _assert_index_queries_answer_as_moto_scans()
        assert set(_backend_table("t")._index_map.buckets) == {"ip", "mail"}  # the map answers
        for write in after:
            _apply(client, write)
            _assert_index_queries_answer_as_moto_scans()


def test_an_update_moving_the_indexed_attribute_moves_the_item(aws_env, patched_later):
    patched_later()
    with mock_aws():
        client = boto3.client("dynamodb")
        _create_tables(client)

        def ips(ip: str) -> list[str]:
            return [
                i["pk"]["S"]
                for i in client.query(
                    TableName="t",
                    IndexName="by_ip",
                    KeyConditionExpression="ip = :v",
                    ExpressionAttributeValues={":v": {"S": ip}},
                )["Items"]
            ]

        client.transact_write_items(TransactItems=[_put("t", "p0", "s0", IPS[0], "t1", None)])
        assert ips(IPS[0]) == ["p0"]
        client.update_item(**_update("t", "p0", "s0", IPS[1])["Update"])
        assert (ips(IPS[0]), ips(IPS[1])) == ([], ["p0"])
        client.update_item(**_update("t", "p0", "s0", None)["Update"])
        assert ips(IPS[1]) == []
        client.delete_item(**_delete("t", "p0", "s0")["Delete"])
        assert _backend_table("t")._index_map.placed == {}


def test_an_index_query_reads_only_its_partition(aws_env, patched_later):
    patched_later()
    with mock_aws():
        client = boto3.client("dynamodb")
        _create_tables(client)
        for n in range(300):
            client.put_item(**_put("t", f"p{n}", "s0", f"10.1.{n % 100}.1", "t1", None)["Put"])
        table = _backend_table("t")
        from moto.dynamodb.models.dynamo_type import DynamoType

        read = fidelity._index_partition(table, "by_ip", [("ip", DynamoType({"S": "10.1.7.1"}))])
        assert sorted(item.hash_key.value for item in read) == ["p107", "p207", "p7"]
        count = client.query(
            TableName="t",
            IndexName="by_ip",
            KeyConditionExpression="ip = :v",
            ExpressionAttributeValues={":v": {"S": "10.1.7.1"}},
            Select="COUNT",
        )
        assert count["Count"] == 3 and count["ScannedCount"] == 3


def test_a_value_held_by_one_item_is_that_item_and_by_several_a_dict(aws_env, patched_later):
    """The compact shape the map keeps (most of an order's indexed values are its alone): one
    item under a value is the item itself, two are a dict by table key, and back again."""
    patched_later()
    with mock_aws():
        client = boto3.client("dynamodb")
        _create_tables(client)
        client.query(
            TableName="t",
            IndexName="by_ip",
            KeyConditionExpression="ip = :v",
            ExpressionAttributeValues={":v": {"S": IPS[0]}},
        )
        index_map = _backend_table("t")._index_map
        by_ip = index_map.buckets["ip"]

        client.put_item(**_put("t", "p0", "s0", IPS[0], "t1", None)["Put"])
        assert by_ip[IPS[0]].hash_key.value == "p0"  # the item itself
        client.put_item(**_put("t", "p1", "s0", IPS[0], "t1", None)["Put"])
        assert sorted(k[0].value for k in by_ip[IPS[0]]) == ["p0", "p1"]
        client.update_item(**_update("t", "p0", "s0", IPS[1])["Update"])
        assert by_ip[IPS[0]].hash_key.value == "p1" and by_ip[IPS[1]].hash_key.value == "p0"
        client.put_item(**_put("t", "p1", "s0", IPS[0], "t2", None)["Put"])  # replaced in place
        assert by_ip[IPS[0]].attrs["at"].value == "t2"
        client.delete_item(**_delete("t", "p1", "s0")["Delete"])
        client.update_item(**_update("t", "p0", "s0", None)["Update"])
        assert by_ip == {} and index_map.placed == {}
