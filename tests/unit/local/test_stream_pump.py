"""The local stream pump fails like Lambda's event source mapping as the template configures it:
retries of the same records, partial batch responses retried from the first failed record,
bisection on a function error, then Lambda's invocation record to the on-failure destination.

The handlers here answer through Powertools' BatchProcessor, as the app's stream handlers do:
some records failing gives `batchItemFailures`, every record failing raises (a function error).
"""

from __future__ import annotations

import json
from collections import Counter

import boto3
import pytest
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.stream_pump import (
    BatchDelivery,
    FailurePolicy,
    OnFailureDestination,
    StreamPump,
    read_all,
    split_by_partition_key,
    to_lambda_event,
)

ARN = "arn:aws:dynamodb:ap-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"
SHARD = "shardId-1"


def records(n: int) -> list[dict]:
    return [
        {
            "eventID": str(i),
            "eventName": "INSERT",
            "dynamodb": {"SequenceNumber": str(100 + i), "Keys": {"pk": {"S": f"k{i}"}}},
        }
        for i in range(n)
    ]


def seq(record_or_key) -> int:
    return int(record_or_key["dynamodb"]["SequenceNumber"]) - 100


class FakeHandler:
    """Fails record i for its first `failures[i]` calls (-1: always); counts every call per record."""

    def __init__(self, failures: dict[int, int] | None = None, raise_calls: int = 0):
        self.failures = failures or {}
        self.raise_calls = raise_calls
        self.calls: Counter[int] = Counter()
        self.successes: Counter[int] = Counter()
        self.invocations: list[list[int]] = []

    def __call__(self, event: dict, context) -> dict:
        self.invocations.append([seq(r) for r in event["Records"]])
        if len(self.invocations) <= self.raise_calls:
            raise TimeoutError("function timed out")
        return process_partial_response(
            event=event,
            record_handler=self._record,
            processor=BatchProcessor(event_type=EventType.DynamoDBStreams),
        )

    def _record(self, record) -> None:
        i = int(record.dynamodb.sequence_number) - 100
        self.calls[i] += 1
        allowed = self.failures.get(i, 0)
        if allowed == -1 or self.calls[i] <= allowed:
            raise ValueError(f"record {i} failed")
        self.successes[i] += 1


def delivery(handler, **policy) -> tuple[BatchDelivery, OnFailureDestination]:
    destination = OnFailureDestination()
    return BatchDelivery(handler, FailurePolicy(**policy), destination, stream_arn=ARN), destination


def discarded(destination: OnFailureDestination) -> list[list[int]]:
    return [
        list(
            range(
                int(r["DDBStreamBatchInfo"]["startSequenceNumber"]) - 100,
                int(r["DDBStreamBatchInfo"]["endSequenceNumber"]) - 99,
            )
        )
        for r in destination.records
    ]


def test_a_batch_that_always_fails_is_bisected_retried_then_each_record_discarded():
    handler = FakeHandler(dict.fromkeys(range(4), -1))
    batch, destination = delivery(handler, max_retries=2, bisect=True)
    batch.deliver(records(4), SHARD)
    # [0-3] raises -> halves; [0,1] raises -> [0], [1]; a single record: 1 call + 2 retries
    assert handler.invocations == [
        [0, 1, 2, 3],
        [0, 1],
        [0],
        [0],
        [0],
        [1],
        [1],
        [1],
        [2, 3],
        [2],
        [2],
        [2],
        [3],
        [3],
        [3],
    ]
    assert discarded(destination) == [[0], [1], [2], [3]]
    assert batch.succeeded == 0
    first = destination.records[0]
    assert first["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert first["requestContext"]["approximateInvokeCount"] == 5  # two splits, then 1 + 2 retries
    assert first["responseContext"]["functionError"] == "Unhandled"
    info = first["DDBStreamBatchInfo"]
    assert (info["shardId"], info["streamArn"], info["batchSize"]) == (SHARD, ARN, 1)


def test_without_bisect_the_whole_batch_is_retried_then_discarded_as_one():
    handler = FakeHandler(dict.fromkeys(range(3), -1))
    batch, destination = delivery(handler, max_retries=3, bisect=False)
    batch.deliver(records(3), SHARD)
    assert handler.invocations == [[0, 1, 2]] * 4
    assert discarded(destination) == [[0, 1, 2]]


def test_one_poisoned_record_among_good_ones_is_isolated_by_bisection_only_after_a_function_error():
    """Powertools answers a partial failure without raising: no bisection, the batch is retried
    from the poisoned record on, and what is left when retries run out is discarded."""
    handler = FakeHandler({2: -1})
    batch, destination = delivery(handler, max_retries=2, bisect=True)
    batch.deliver(records(5), SHARD)
    assert handler.invocations == [[0, 1, 2, 3, 4], [2, 3, 4], [2, 3, 4]]
    assert discarded(destination) == [[2, 3, 4]]
    assert destination.records[0]["responseContext"]["functionError"] == ""
    assert batch.succeeded == 2
    assert handler.successes == Counter({0: 1, 1: 1, 3: 3, 4: 3})


def test_a_partial_failure_is_retried_from_the_first_failed_record_until_it_succeeds():
    handler = FakeHandler({2: 2, 3: 1})
    batch, destination = delivery(handler, max_retries=5)
    batch.deliver(records(5), SHARD)
    assert handler.invocations == [[0, 1, 2, 3, 4], [2, 3, 4], [2, 3, 4]]
    assert destination.records == []
    assert batch.succeeded == 5
    assert handler.calls == Counter({0: 1, 1: 1, 2: 3, 3: 3, 4: 3})


def test_a_handler_that_raises_is_retried_and_loses_nothing():
    handler = FakeHandler(raise_calls=2)
    batch, destination = delivery(handler, max_retries=5, bisect=True)
    batch.deliver(records(4), SHARD)
    assert handler.invocations == [[0, 1, 2, 3], [0, 1], [0], [1], [2, 3]]
    assert destination.records == []
    assert batch.succeeded == 4
    assert handler.successes == Counter({0: 1, 1: 1, 2: 1, 3: 1})


def test_an_identifier_naming_no_record_fails_the_whole_batch():
    calls = []

    def handler(event, context):
        calls.append(len(event["Records"]))
        return {"batchItemFailures": [{"itemIdentifier": ""}]} if len(calls) == 1 else {}

    batch, destination = delivery(handler, max_retries=1)
    batch.deliver(records(3), SHARD)
    assert calls == [3, 3]
    assert batch.succeeded == 3 and destination.records == []


def test_item_failures_are_ignored_when_the_mapping_does_not_ask_for_them():
    handler = FakeHandler({1: -1})
    batch, destination = delivery(handler, report_item_failures=False)
    batch.deliver(records(3), SHARD)
    assert handler.invocations == [[0, 1, 2]]
    assert destination.records == []


def test_a_stop_during_the_retry_wait_neither_finishes_nor_discards_the_batch():
    from local.stream_pump import Interrupted

    handler = FakeHandler({0: -1})
    destination = OnFailureDestination()
    batch = BatchDelivery(
        handler,
        FailurePolicy(max_retries=5),
        destination,
        stream_arn=ARN,
        wait=lambda seconds: True,
    )
    with pytest.raises(Interrupted):
        batch.deliver(records(2), SHARD)
    assert destination.records == []


FAILURES = st.dictionaries(st.integers(0, 11), st.sampled_from([-1, 1, 2, 3, 7]), max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 12),
    failures=FAILURES,
    raise_calls=st.integers(0, 3),
    max_retries=st.integers(0, 4),
    bisect=st.booleans(),
)
def test_every_record_is_either_past_the_checkpoint_or_in_exactly_one_discarded_range(
    n, failures, raise_calls, max_retries, bisect
):
    handler = FakeHandler({i: f for i, f in failures.items() if i < n}, raise_calls)
    batch, destination = delivery(handler, max_retries=max_retries, bisect=bisect)
    batch.deliver(records(n), SHARD)
    ranges = discarded(destination)
    dropped = [i for r in ranges for i in r]
    assert len(dropped) == len(set(dropped))  # no record discarded twice
    assert sorted(dropped) == dropped  # in shard order
    assert batch.succeeded + len(dropped) == n  # nothing lost
    for i in range(n):
        assert i in dropped or handler.successes[i] > 0  # done, or discarded and said so
        assert handler.calls[i] <= (max_retries + 1) * n  # bounded work per record
    for i, allowed in failures.items():
        if i < n and allowed == -1:
            assert i in dropped  # a poisoned record never passes


# ------------------------------------------------------------------------------ the template


def test_the_policy_is_read_from_the_templates_event_source_mapping():
    policy = FailurePolicy.from_template("on_orders_stream", "local", batch_size=100)
    assert policy == FailurePolicy(
        batch_size=100,
        max_retries=5,
        bisect=True,
        report_item_failures=True,
        on_failure_queue="paytrack-local-stream-failures",
    )
    exports = FailurePolicy.from_template("on_exports_stream", "prod", batch_size=1)
    assert exports.batch_size == 1 and exports.on_failure_queue == "paytrack-prod-stream-failures"
    stats = FailurePolicy.from_template("on_orders_stats", "local", batch_size=100)
    assert stats.batching_window_s == 5.0  # counters gather a fuller batch per transaction


# ------------------------------------------------------------------------------ the pump on moto


@pytest.fixture
def aws(in_process_moto):
    ddb = boto3.client("dynamodb")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return ddb, boto3.client("dynamodbstreams"), boto3.client("sqs")


def _put(ddb, keys) -> None:
    for key in keys:
        ddb.put_item(TableName="t", Item={"pk": {"S": key}})


def _drain(pump: StreamPump) -> int:
    polls = 0
    while pump.poll_once():
        polls += 1
    return polls


def test_a_batch_whose_handler_raised_is_read_again_not_lost(aws):
    """Defect 12: the shard iterator had moved on before the handler ran, so a batch whose
    handler raised was gone. The pump now holds its position until the batch is resolved."""
    ddb, streams, _ = aws
    seen: list[str] = []
    raising = {"left": 1}

    def handler(event, context):
        if raising["left"]:
            raising["left"] -= 1
            raise ConnectionError("moto went away")
        seen.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])
        return {"batchItemFailures": []}

    pump = StreamPump(ddb, streams, "t", handler, policy=FailurePolicy(bisect=False))
    pump.delivery.wait = lambda seconds: None
    _put(ddb, ["a", "b", "c"])
    _drain(pump)
    assert seen == ["a", "b", "c"]
    _put(ddb, ["d"])
    _drain(pump)
    assert seen == ["a", "b", "c", "d"]  # the next batch, nothing read twice


def test_the_pump_delivers_the_records_botocore_would_parse_as_lambda_writes_them(aws):
    """The pump reads GetRecords' JSON as it is (botocore's shape walk was a fifth of the pumps'
    CPU): each record as a parsing client reads it, but with binary values in base64 and the
    creation time in epoch seconds, as Lambda's event has them."""
    ddb, streams, _ = aws
    ddb.put_item(
        TableName="t",
        Item={"pk": {"S": "a"}, "n": {"N": "1.50"}, "b": {"B": b"\x00\xff"}, "l": {"L": []}},
    )
    ddb.update_item(
        TableName="t",
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET m = :m",
        ExpressionAttributeValues={":m": {"M": {"s": {"SS": ["x", "y"]}}}},
    )
    delivered: list[dict] = []

    def handler(event, context):
        delivered.extend(event["Records"])
        return {"batchItemFailures": []}

    arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    parsed = to_lambda_event(read_all(boto3.client("dynamodbstreams"), arn), arn)["Records"]
    _drain(StreamPump(ddb, streams, "t", handler))
    assert len(delivered) == len(parsed) == 2
    for raw, expected in zip(delivered, parsed, strict=True):
        created = raw["dynamodb"]["ApproximateCreationDateTime"]
        assert isinstance(created, int | float)
        assert created == expected["dynamodb"]["ApproximateCreationDateTime"]
        for image in ("NewImage", "OldImage"):
            if image in raw["dynamodb"]:
                assert raw["dynamodb"][image].pop("b") == {"B": "AP8="}  # Lambda's base64
                assert expected["dynamodb"][image].pop("b") == {"B": b"\x00\xff"}
        assert raw == expected
    assert read_all(streams, arn)[0]["dynamodb"]["NewImage"]["b"] == {"B": "AP8="}


def test_discarded_records_reach_the_templates_queue_as_lambdas_invocation_record(aws):
    ddb, streams, sqs = aws
    policy = FailurePolicy.from_template("on_notices_stream", "local", batch_size=100)
    destination = OnFailureDestination.for_policy(policy, sqs)

    def handler(event, context):
        raise RuntimeError("always")

    pump = StreamPump(
        ddb,
        streams,
        "t",
        handler,
        policy=policy,
        destination=destination,
        function_arn="arn:aws:lambda:ap-east-1:123456789012:function:paytrack-local-on_notices_stream",
    )
    pump.delivery.wait = lambda seconds: None
    _put(ddb, ["a", "b"])
    _drain(pump)
    url = sqs.get_queue_url(QueueName="paytrack-local-stream-failures")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in messages]
    assert [b["DDBStreamBatchInfo"]["batchSize"] for b in bodies] == [1, 1]
    assert bodies == destination.records
    assert {b["DDBStreamBatchInfo"]["streamArn"] for b in bodies} == {pump.stream_arn}
    assert all(
        b["requestContext"]["approximateInvokeCount"] == 1 + 1 + policy.max_retries for b in bodies
    )
    assert pump.delivered == 0


# ------------------------------------------------------------------------------ lanes


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(st.sampled_from("abcdefgh"), max_size=40), lanes=st.integers(1, 6))
def test_lanes_hold_every_record_once_each_key_in_one_lane_in_shard_order(keys, lanes):
    batch = [
        {"dynamodb": {"SequenceNumber": str(i), "Keys": {"pk": {"S": k}}}}
        for i, k in enumerate(keys)
    ]
    parts = split_by_partition_key(batch, "pk", lanes)
    assert len(parts) <= lanes and all(parts)
    assert sorted(r["dynamodb"]["SequenceNumber"] for part in parts for r in part) == sorted(
        r["dynamodb"]["SequenceNumber"] for r in batch
    )
    for part in parts:
        assert [int(r["dynamodb"]["SequenceNumber"]) for r in part] == sorted(
            int(r["dynamodb"]["SequenceNumber"]) for r in part
        )
    lane_of = {r["dynamodb"]["Keys"]["pk"]["S"]: i for i, part in enumerate(parts) for r in part}
    assert all(
        lane_of[r["dynamodb"]["Keys"]["pk"]["S"]] == i for i, part in enumerate(parts) for r in part
    )


def test_a_pump_with_lanes_delivers_them_concurrently_each_key_in_order_nothing_twice(aws):
    """One lane at a time kept the orders stream minutes behind a flash sale. With 4 lanes, two
    invocations are in flight at once (the barrier breaks otherwise: the handler raises and the
    record is retried, which the counts below would show)."""
    import threading

    ddb, streams, _ = aws
    together = threading.Barrier(2, timeout=30)
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()
    first_call = {"left": 2}

    def handler(event, context):
        with lock:
            waits = first_call["left"] > 0
            first_call["left"] -= 1
        if waits:
            together.wait()
        with lock:
            seen.extend(
                (r["dynamodb"]["Keys"]["pk"]["S"], int(r["dynamodb"]["SequenceNumber"]))
                for r in event["Records"]
            )
        return {"batchItemFailures": []}

    pump = StreamPump(ddb, streams, "t", handler, policy=FailurePolicy(bisect=False), lanes=4)
    pump.delivery.wait = lambda seconds: None
    for _ in range(3):
        _put(ddb, [f"k{i}" for i in range(8)])
    _drain(pump)
    pump.stop()
    assert not together.broken and pump.delivery.invocations >= 2
    assert len(seen) == 24 == len(set(seen)) and pump.delivered == 24
    for key in {k for k, _ in seen}:
        numbers = [n for k, n in seen if k == key]
        assert numbers == sorted(numbers) and len(numbers) == 3


def test_a_batching_window_gathers_records_a_short_batch_waits_a_full_one_reads_on(aws):
    """The stats consumer's mapping has a batching window: after a batch short of the batch size
    the pump waits the window (records gather into the next batch, one counters transaction for
    many orders); after a full batch it reads again at once; without a window it never waits
    while records come."""
    ddb, streams, _ = aws
    batches: list[int] = []

    def handler(event, context):
        batches.append(len(event["Records"]))
        return {"batchItemFailures": []}

    windowed = StreamPump(
        ddb, streams, "t", handler, policy=FailurePolicy(batch_size=4, batching_window_s=5.0)
    )
    _put(ddb, [f"k{i}" for i in range(6)])
    assert windowed.poll_once() and windowed._pause(busy=True) == windowed.busy_interval
    assert windowed.poll_once() and windowed._pause(busy=True) == 5.0
    assert not windowed.poll_once() and windowed._pause(busy=False) == 5.0
    assert batches == [4, 2]

    plain = StreamPump(ddb, streams, "t", handler, policy=FailurePolicy(batch_size=100))
    assert plain.poll_once() and plain._pause(busy=True) == plain.busy_interval
    assert not plain.poll_once() and plain._pause(busy=False) == plain.idle_interval
