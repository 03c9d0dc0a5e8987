"""Fault injection for the write paths: the Nth AWS call of a use case fails the way botocore
would report it, then the real recovery runs and the invariants are checked.

Every AWS call of the app goes through `botocore.client.BaseClient._make_api_call`: the boto3
clients of `chalicelib/platform/aws.py` and PynamoDB's connection alike (PynamoDB calls
`client._make_api_call`). `installed()` wraps it once; an `Injector` armed with (kind, N) counts
the calls made while armed and fails call N. Failing above botocore's own retries is what a
crash looks like to the code: every retry of that call failed, or the process died there.

Kinds (`KINDS`):
- `throttled`: ProvisionedThroughputExceededException (DynamoDB) / ThrottlingException (others);
  nothing was written.
- `server_error`: a 500 InternalServerError; nothing was written.
- `timeout_before`: botocore's ReadTimeoutError before the request reached AWS.
- `timeout_after`: the request was applied, then the answer was lost (ReadTimeoutError).
- `lost_then_conditional`: a conditional write applied, its answer lost, and botocore's retry of
  the same request answered by DynamoDB itself (usually ConditionalCheckFailed with the item as
  the first attempt left it). Counted over conditional writes only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import boto3
import botocore.client
from botocore.exceptions import ClientError, ReadTimeoutError

KINDS = ("throttled", "server_error", "timeout_before", "timeout_after", "lost_then_conditional")
CONDITIONAL_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem"}


def _service(client: Any) -> str:
    return client.meta.service_model.service_name


def _is_conditional(operation: str, params: dict[str, Any]) -> bool:
    return operation in CONDITIONAL_OPERATIONS and "ConditionExpression" in params


def _client_error(operation: str, code: str, status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "injected fault"},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
        },
        operation,
    )


@dataclass
class Injector:
    """Fails the Nth AWS call made while armed, once; records every call made while armed."""

    kind: str | None = None
    n: int = 0
    calls: list[str] = field(default_factory=list)
    fired: str | None = None

    def arm(self, kind: str, n: int) -> None:
        self.kind, self.n, self.calls, self.fired = kind, n, [], None

    def disarm(self) -> None:
        self.kind = None

    @contextmanager
    def armed(self, kind: str, n: int) -> Iterator[Injector]:
        self.arm(kind, n)
        try:
            yield self
        finally:
            self.disarm()

    def _counts(self, operation: str, params: dict[str, Any]) -> bool:
        return self.kind != "lost_then_conditional" or _is_conditional(operation, params)

    def call(self, original: Callable, client: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.kind is None or self.fired or not self._counts(operation, params):
            return original(client, operation, params)
        self.calls.append(f"{_service(client)}.{operation}")
        if len(self.calls) != self.n:
            return original(client, operation, params)
        self.fired = self.calls[-1]
        return self._fail(original, client, operation, params)

    def _fail(self, original: Callable, client: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.kind == "throttled":
            code = (
                "ProvisionedThroughputExceededException"
                if _service(client) == "dynamodb"
                else "ThrottlingException"
            )
            raise _client_error(operation, code, 400)
        if self.kind == "server_error":
            raise _client_error(operation, "InternalServerError", 500)
        if self.kind == "timeout_after":
            original(client, operation, params)
        if self.kind in ("timeout_before", "timeout_after"):
            raise ReadTimeoutError(endpoint_url=client.meta.endpoint_url)
        original(client, operation, params)  # applied; its answer never arrived
        return original(client, operation, params)  # botocore's retry of the same request


@contextmanager
def installed() -> Iterator[Injector]:
    """Route every botocore API call through a fresh Injector (disarmed until `arm`)."""
    injector = Injector()
    original = botocore.client.BaseClient._make_api_call

    def patched(client: Any, operation: str, params: dict[str, Any]) -> Any:
        return injector.call(original, client, operation, params)

    botocore.client.BaseClient._make_api_call = patched
    try:
        yield injector
    finally:
        botocore.client.BaseClient._make_api_call = original


# ------------------------------------------------------------------ sweeping every failure point


@dataclass
class Sweep:
    """The outcome of running one use case with every kind of fault at every call."""

    name: str
    cases: int = 0
    failures: list[str] = field(default_factory=list)

    def assert_held(self) -> None:
        assert self.failures == [], (
            f"{self.name}: {len(self.failures)} of {self.cases} cases broke an "
            "invariant:\n" + "\n".join(self.failures)
        )


#: the sweeps of the running test, moved onto its report for the summary (tests/faults/conftest.py)
SWEEPS: list[Sweep] = []


def sweep(
    name: str,
    injector: Injector,
    case: Callable[[Callable[[], Any]], None],
    kinds: tuple[str, ...] = KINDS,
    max_calls: int = 80,
    fresh: Callable[[], None] | None = None,
) -> Sweep:
    """Run `case(arm)` for every kind and every N = 1, 2, … until a run makes fewer than N calls.

    `case` calls `arm()` as a context manager around the use case (and only it), runs the
    recovery and asserts the invariants; it starts from fresh state, its own or, with `fresh`,
    what the test set up once before its checkpoint. A case whose injector never
    fired ends the kind's sweep and is not counted. `fresh()`, when given, runs before every
    case but the first: it puts back the world the sweep started from (World.checkpoint), so
    no case pays for the orders, exports and trades the cases before it left."""
    result = Sweep(name)
    first = True
    for kind in kinds:
        for n in range(1, max_calls + 1):
            if fresh is not None and not first:
                fresh()
            first = False
            try:
                case(partial(injector.armed, kind, n))
            except AssertionError as error:
                if injector.fired is None:
                    raise
                result.failures.append(
                    f"  [{kind} at call {n}: {injector.fired}] {str(error).splitlines()[0]}"
                )
            if injector.fired is None:
                break
            result.cases += 1
        else:
            result.failures.append(
                f"  [{kind}] the use case made more than {max_calls} calls: not every one was failed"
            )
    SWEEPS.append(result)
    return result


# ------------------------------------------------------------------ streams as Lambda reads them


class StreamTap:
    """The records of one table's stream not read yet (a cursor per shard).

    moto keeps one shard per stream for the table's life and answers `get_records` with every
    record after the cursor up to `Limit`, so the shards are listed once and a page shorter than
    `Limit` is the end of the shard: a take is one call when nothing is new."""

    LIMIT = 1000

    def __init__(self, table: str):
        self.streams = boto3.client("dynamodbstreams")
        self.arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"][
            "LatestStreamArn"
        ]
        self.iterators: dict[str, str | None] = {
            shard_id: self.streams.get_shard_iterator(
                StreamArn=self.arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for shard_id in self._shards()
        }

    def _shards(self) -> list[str]:
        description = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]
        return [shard["ShardId"] for shard in description["Shards"]]

    def position(self) -> dict[str, int]:
        """The sequence number each shard's cursor reads next (from moto's own iterator)."""
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        iterators = {
            arn: iterator
            for regions in dynamodbstreams_backends.values()
            for backend in regions.values()
            for arn, iterator in backend.shard_iterators.items()
        }
        return {
            shard_id: iterators[iterator].sequence_number
            for shard_id, iterator in self.iterators.items()
            if iterator
        }

    def reopen(self, position: dict[str, int]) -> None:
        """New cursors at `position` (after a moto restore, which drops the old ones)."""
        self.iterators = {
            shard_id: self.streams.get_shard_iterator(
                StreamArn=self.arn,
                ShardId=shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=str(position[shard_id]),
            )["ShardIterator"]
            for shard_id in self._shards()
        }

    def take(self) -> list[dict]:
        records: list[dict] = []
        for shard_id, iterator in self.iterators.items():
            while iterator:
                page = self.streams.get_records(ShardIterator=iterator, Limit=self.LIMIT)
                iterator = self.iterators[shard_id] = page.get("NextShardIterator")
                records += page["Records"]
                if len(page["Records"]) < self.LIMIT:
                    break
        return records


def deliver(
    handler: Callable[[dict, Any], Any], records: list[dict], arn: str, attempts: int = 6
) -> None:
    """Hand a batch to a stream handler as Lambda does with ReportBatchItemFailures: an error
    retries the whole batch, reported failures retry from the first failed record on."""
    from local.stream_pump import to_lambda_event

    pending = records
    for _ in range(attempts):
        try:
            response = handler(to_lambda_event(pending, arn), None) or {}
        except Exception:
            continue
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        if not failed:
            return
        pending = pending[
            next(i for i, r in enumerate(pending) if r["dynamodb"]["SequenceNumber"] in failed) :
        ]
    raise AssertionError(
        f"stream batch still failing after {attempts} deliveries: a record would be dead-lettered"
    )


class Streams:
    """Every stream consumer of the app, fed from taps until nothing new arrives."""

    def __init__(self):
        import app
        from chalicelib.store.models import ExportModel, NoticeModel, OrderModel

        self.taps = {
            "notices": StreamTap(NoticeModel.Meta.table_name),
            "orders": StreamTap(OrderModel.Meta.table_name),
            "exports": StreamTap(ExportModel.Meta.table_name),
        }
        self.consumers = {
            "notices": [app.on_notices_stream],
            "orders": [app.on_orders_stream, app.on_orders_stats],
            "exports": [app.on_exports_stream],
        }

    def position(self) -> dict[str, dict[str, int]]:
        """Where every tap reads next."""
        return {name: tap.position() for name, tap in self.taps.items()}

    def reopen(self, position: dict[str, dict[str, int]]) -> None:
        """Every tap reads on from `position` (after a moto restore)."""
        for name, tap in self.taps.items():
            tap.reopen(position[name])

    def settle(
        self,
        arm: Callable[[], Any] | None = None,
        consumer: Callable | None = None,
        rounds: int = 8,
    ) -> None:
        """Run the consumers over new records until none arrive; `arm()` wraps only the first
        delivery to `consumer` (the fault lands there, its retries run clean)."""
        for _ in range(rounds):
            batches = {name: tap.take() for name, tap in self.taps.items()}
            if not any(batches.values()):
                return
            for name, records in batches.items():
                for handler in self.consumers[name] if records else []:
                    if arm is not None and handler is consumer:
                        arm, armed = None, arm
                        with armed():
                            _first_delivery(handler, records, self.taps[name].arn)
                    deliver(handler, records, self.taps[name].arn)
        raise AssertionError(f"streams still producing records after {rounds} rounds")


def _first_delivery(handler: Callable, records: list[dict], arn: str) -> None:
    """One delivery under fault; what it leaves failing is redelivered by `deliver` afterwards
    (replaying records that succeeded is what Lambda does too, from the first failure on)."""
    from local.stream_pump import to_lambda_event

    with suppress(Exception):
        handler(to_lambda_event(records, arn), None)


# ------------------------------------------------------------------ events as the shop receives them


class ShopInbox:
    """An SQS queue subscribed to the events topic: every message the shop would receive."""

    def __init__(self, topic_arn: str):
        self.sqs = boto3.client("sqs")
        self.url = self.sqs.create_queue(QueueName="fault-shop-events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        boto3.client("sns").subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        self.received: list[dict] = []

    def of(self, order_no: str) -> list[dict]:
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                break
            self.received += [json.loads(m["Body"]) for m in batch]
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )
        return [m for m in self.received if (m.get("order") or {}).get("order_no") == order_no]


def assert_announced(messages: list[dict], event: str, generation: int | None = None) -> None:
    """`event` reached the shop at least once, and every copy carries the same `event_id` (the
    id a shop dedupes on: a crash may repeat an event, never lose it)."""
    copies = [
        m
        for m in messages
        if m["event"] == event and (generation is None or m.get("generation", 0) == generation)
    ]
    assert copies, f"{event} never published (got {[m['event'] for m in messages]})"
    ids = {m.get("event_id") for m in copies}
    assert len(ids) == 1 and None not in ids, (
        f"{event} published {len(copies)} times with event ids {ids}"
    )
