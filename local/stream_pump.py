"""Feeds DynamoDB stream records to the app's stream handlers the way Lambda's event source
mapping does, with the failure handling the template configures for it (infra/resources.json):

- records of a shard are delivered in order, and the shard does not move past a batch until the
  batch has succeeded or been sent to the on-failure destination;
- `batchItemFailures` (ReportBatchItemFailures): the records before the lowest failed sequence
  number are done, the batch is retried from that record on; an empty or unknown identifier
  fails the whole batch;
- a function error (the handler raises): with BisectBatchOnFunctionError the batch is split in
  two and each half retried on its own (a split uses no retry), so one bad record ends up alone;
- after MaximumRetryAttempts retries the records are discarded: Lambda's invocation record goes
  to the on-failure destination (the template's SQS queue on the embedded AWS, kept in memory
  too and logged as an error) and the shard moves on.

Also used by integration tests to turn real moto stream records into Lambda events.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("paytrack.local.pump")

Handler = Callable[[dict, Any], Any]
TEMPLATE = Path(__file__).resolve().parents[1] / "infra" / "resources.json"


def to_lambda_record(record: dict, stream_arn: str) -> dict:
    """A get_records record as Lambda delivers it: creation time as epoch seconds, source ARN set."""
    converted = dict(record)
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    converted["dynamodb"] = dynamodb
    converted["eventSourceARN"] = stream_arn
    return converted


def to_lambda_event(records: list[dict], stream_arn: str) -> dict:
    return {"Records": [to_lambda_record(r, stream_arn) for r in records]}


def records_read_as_json(streams_client) -> None:
    """The client's GetRecords answers its records as their JSON, attribute values as DynamoDB
    writes them and Lambda delivers them, instead of walking them through botocore's shapes:
    a fifth of the pumps' CPU under a flash sale, for images the handlers read as JSON anyway
    (a creation time stays epoch seconds, which to_lambda_record makes of botocore's datetime)."""
    streams_client.meta.events.register(
        "before-parse.dynamodb-streams.GetRecords",
        _records_unparsed,
        unique_id="paytrack-records-read-as-json",
    )


def _records_unparsed(response_dict: dict, customized_response_dict: dict, **_: Any) -> None:
    if response_dict["status_code"] >= 300:
        return  # an error: botocore parses it as usual
    body = json.loads(response_dict["body"])
    customized_response_dict["Records"] = body.pop("Records", [])
    response_dict["body"] = json.dumps(body).encode()


def read_all(streams_client, stream_arn: str) -> list[dict]:
    """Every record currently in the stream (tests): TRIM_HORIZON on each shard to the end."""
    records: list[dict] = []
    for shard in streams_client.describe_stream(StreamArn=stream_arn)["StreamDescription"][
        "Shards"
    ]:
        iterator = streams_client.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams_client.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return records


# ------------------------------------------------------------------------------ failure policy


@dataclass(frozen=True)
class FailurePolicy:
    """The event source mapping's settings that decide what happens to a failing batch."""

    batch_size: int = 100
    max_retries: int = 5
    bisect: bool = True
    report_item_failures: bool = True
    on_failure_queue: str | None = None
    batching_window_s: float = 0.0

    @classmethod
    def from_template(
        cls, function_name: str, stage: str, batch_size: int, template: Path = TEMPLATE
    ) -> FailurePolicy:
        """The settings of `function_name`'s DynamoDB event in the template (the function's
        logical id is chalice's CamelCase of its name)."""
        from chalice.utils import to_cfn_resource_name

        resources = json.loads(template.read_text(encoding="utf-8"))["Resources"]
        events = resources[to_cfn_resource_name(function_name)]["Properties"]["Events"]
        (props,) = [event["Properties"] for event in events.values() if event["Type"] == "DynamoDB"]
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        queue = None
        if destination:
            queue_name = resources[destination["Fn::GetAtt"][0]]["Properties"]["QueueName"]
            queue = queue_name["Fn::Sub"].replace("${Stage}", stage)
        return cls(
            batch_size=props.get("BatchSize", batch_size),
            max_retries=props.get("MaximumRetryAttempts", -1),
            bisect=props.get("BisectBatchOnFunctionError", False),
            report_item_failures="ReportBatchItemFailures"
            in props.get("FunctionResponseTypes", []),
            on_failure_queue=queue,
            batching_window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
        )


class OnFailureDestination:
    """Where discarded batches go. Each gets Lambda's invocation record (metadata, not the
    records); it is kept in `records`, logged as an error, and sent to the SQS queue when one is
    given, as Lambda sends it to the template's StreamFailureQueue."""

    def __init__(self, sqs=None, queue_url: str | None = None):
        self.sqs = sqs
        self.queue_url = queue_url
        self.records: list[dict] = []
        self._lock = threading.Lock()

    @classmethod
    def for_policy(cls, policy: FailurePolicy, sqs) -> OnFailureDestination:
        if not policy.on_failure_queue:
            return cls()
        return cls(sqs, sqs.create_queue(QueueName=policy.on_failure_queue)["QueueUrl"])

    def send(self, record: dict) -> None:
        info = record["DDBStreamBatchInfo"]
        log.error(
            "STREAM RECORDS DISCARDED (%s): %d records %s..%s of %s sent to %s",
            record["requestContext"]["condition"],
            info["batchSize"],
            info["startSequenceNumber"],
            info["endSequenceNumber"],
            info["streamArn"],
            self.queue_url or "the in-memory list",
        )
        with self._lock:
            self.records.append(record)
        if self.sqs is not None:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(record))


def invocation_record(
    batch: list[dict],
    stream_arn: str,
    shard_id: str,
    function_arn: str,
    invokes: int,
    function_error: bool,
) -> dict:
    """Lambda's on-failure record for a DynamoDB stream batch whose retries ran out."""

    def arrival(record: dict) -> str:
        created = record["dynamodb"].get("ApproximateCreationDateTime")
        if isinstance(created, int | float):
            created = datetime.fromtimestamp(created, UTC)
        return created.isoformat() if isinstance(created, datetime) else str(created)

    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": invokes,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled" if function_error else "",
        },
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "streamArn": stream_arn,
            "batchSize": len(batch),
            "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": arrival(batch[0]),
            "approximateArrivalOfLastRecord": arrival(batch[-1]),
        },
    }


# ------------------------------------------------------------------------------ one batch

FUNCTION_ERROR = -1


class Interrupted(Exception):
    """The pump was stopped while a batch waited for its retry: it is neither done nor
    discarded, and the shard has not moved past it."""


@dataclass
class _Attempt:
    batch: list[dict]
    retries: int = 0
    invokes: int = 0


def default_backoff(retry: int) -> float:
    return min(0.1 * 2 ** (retry - 1), 2.0)


class BatchDelivery:
    """Delivers one batch of a shard to the handler until every record has succeeded or been
    discarded, under the policy. No AWS and no thread: the pump calls it, tests drive it.
    `wait` sleeps between retries and answers True when the pump is stopping."""

    def __init__(
        self,
        handler: Handler,
        policy: FailurePolicy,
        destination: OnFailureDestination,
        *,
        stream_arn: str,
        function_arn: str = "",
        backoff: Callable[[int], float] = default_backoff,
        wait: Callable[[float], bool | None] = lambda seconds: None,
    ):
        self.handler = handler
        self.policy = policy
        self.destination = destination
        self.stream_arn = stream_arn
        self.function_arn = function_arn
        self.backoff = backoff
        self.wait = wait
        self.invocations = 0
        self.succeeded = 0
        self._counting = threading.Lock()  # lanes deliver on several threads

    def _count(self, invocations: int = 0, succeeded: int = 0) -> None:
        with self._counting:
            self.invocations += invocations
            self.succeeded += succeeded

    def deliver(self, records: list[dict], shard_id: str) -> None:
        pending = [_Attempt(records)]  # a stack: the front of the shard is on top
        while pending:
            attempt = pending.pop()
            pending.extend(reversed(self._try(attempt, shard_id)))

    def _try(self, attempt: _Attempt, shard_id: str) -> list[_Attempt]:
        """One invocation; what is left to deliver, front of the shard first."""
        attempt.invokes += 1
        first_failed = self._invoke(attempt.batch)
        if first_failed is None:
            self._count(succeeded=len(attempt.batch))
            return []
        if first_failed != FUNCTION_ERROR:
            self._count(succeeded=first_failed)
            return self._retry(
                _Attempt(attempt.batch[first_failed:], attempt.retries, attempt.invokes),
                shard_id,
                function_error=False,
            )
        if self.policy.bisect and len(attempt.batch) > 1:
            middle = len(attempt.batch) // 2
            return [
                _Attempt(attempt.batch[:middle], attempt.retries, attempt.invokes),
                _Attempt(attempt.batch[middle:], attempt.retries, attempt.invokes),
            ]
        return self._retry(attempt, shard_id, function_error=True)

    def _invoke(self, batch: list[dict]) -> int | None:
        """None when the whole batch succeeded, FUNCTION_ERROR when the handler raised, else the
        index of the first record to retry from (0 when an identifier names no record: Lambda
        then counts the whole batch as failed)."""
        self._count(invocations=1)
        try:
            response = self.handler(to_lambda_event(batch, self.stream_arn), None)
        except Exception:  # a function error: Lambda retries the batch, so must we
            log.warning(
                "stream handler raised on %d records of %s",
                len(batch),
                self.stream_arn,
                exc_info=True,
            )
            return FUNCTION_ERROR
        if not self.policy.report_item_failures:
            return None
        failures = (response or {}).get("batchItemFailures") or []
        if not failures:
            return None
        sequence = [record["dynamodb"]["SequenceNumber"] for record in batch]
        return min(
            sequence.index(f.get("itemIdentifier")) if f.get("itemIdentifier") in sequence else 0
            for f in failures
        )

    def _retry(self, attempt: _Attempt, shard_id: str, *, function_error: bool) -> list[_Attempt]:
        if attempt.retries >= self.policy.max_retries >= 0:
            self.destination.send(
                invocation_record(
                    attempt.batch,
                    self.stream_arn,
                    shard_id,
                    self.function_arn,
                    attempt.invokes,
                    function_error,
                )
            )
            return []
        retries = attempt.retries + 1
        if self.wait(self.backoff(retries)):
            raise Interrupted
        return [_Attempt(attempt.batch, retries, attempt.invokes)]


# ------------------------------------------------------------------------------ the poller


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None


class StreamPump(threading.Thread):
    """One thread per (table stream, function), as one event source mapping. Reads again at
    once while a shard has records, and slows to `idle_interval` when it has none. With a
    batching window (the mapping's `MaximumBatchingWindowInSeconds`) a batch short of the batch
    size is followed by the window's wait, so records gather into fuller batches as Lambda
    gathers them.

    `lanes` > 1 delivers each batch as that many concurrent batches split by partition key, as
    Lambda does with a ParallelizationFactor or with the several shards a busy table has (moto
    keeps one): records of one key stay in order, in one lane; the shard moves past the batch
    once every lane has delivered or discarded its part."""

    def __init__(
        self,
        dynamodb,
        streams,
        table: str,
        handler: Handler,
        *,
        policy: FailurePolicy = FailurePolicy(),
        destination: OnFailureDestination | None = None,
        function_arn: str = "",
        busy_interval: float = 0.05,
        idle_interval: float = 0.5,
        lanes: int = 1,
    ):
        super().__init__(name=f"pump-{table}", daemon=True)
        self.streams = streams
        records_read_as_json(streams)
        description = dynamodb.describe_table(TableName=table)["Table"]
        self.stream_arn = description["LatestStreamArn"]
        self.partition_key = next(
            k["AttributeName"] for k in description["KeySchema"] if k["KeyType"] == "HASH"
        )
        self.policy = policy
        self.busy_interval = busy_interval
        self.idle_interval = idle_interval
        self.stop_event = threading.Event()
        self.shards: dict[str, _Shard] = {}
        self._last_batch_full = False
        self.delivery = BatchDelivery(
            handler,
            policy,
            destination or OnFailureDestination(),
            stream_arn=self.stream_arn,
            function_arn=function_arn,
            wait=self.stop_event.wait,
        )
        self.lanes = max(1, lanes)
        self._lane_pool = (
            ThreadPoolExecutor(self.lanes, thread_name_prefix=f"pump-{table}-lane")
            if self.lanes > 1
            else None
        )

    @property
    def delivered(self) -> int:
        return self.delivery.succeeded

    def run(self) -> None:
        while not self.stop_event.is_set():
            busy = False
            try:
                busy = self.poll_once()
            except Interrupted:
                return
            except Exception:  # the pump must outlive a bad poll, like Lambda's poller does
                log.exception("stream poll failed for %s", self.stream_arn)
            self.stop_event.wait(self._pause(busy))

    def _pause(self, busy: bool) -> float:
        """Seconds until the next poll: none while full batches come (or any, without a
        window), the batching window after a short batch, the idle interval at least."""
        window = self.policy.batching_window_s
        if busy and (self._last_batch_full or not window):
            return self.busy_interval
        return max(self.idle_interval if not busy else 0.0, window)

    def poll_once(self) -> bool:
        """One batch from each shard, delivered; whether any shard had records."""
        if not self.shards:
            self._discover_shards()
        self._last_batch_full = False
        polled = [self._poll(shard) for shard in list(self.shards.values())]  # every shard polled
        return any(polled)

    def stop(self) -> None:
        self.stop_event.set()
        if self._lane_pool is not None:
            self._lane_pool.shutdown(wait=False)

    def _discover_shards(self) -> None:
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description["Shards"]:
            if shard["ShardId"] not in self.shards:
                iterator = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn,
                    ShardId=shard["ShardId"],
                    ShardIteratorType="TRIM_HORIZON",
                )["ShardIterator"]
                self.shards[shard["ShardId"]] = _Shard(shard["ShardId"], iterator)

    def _poll(self, shard: _Shard) -> bool:
        """Deliver the shard's next batch; the shard's position moves past it only once it is
        delivered or discarded, so a failure in between reads the same batch again."""
        if shard.iterator is None:
            return False
        page = self.streams.get_records(ShardIterator=shard.iterator, Limit=self.policy.batch_size)
        if page["Records"]:
            self._deliver(page["Records"], shard.shard_id)
            self._last_batch_full |= len(page["Records"]) >= self.policy.batch_size
        shard.iterator = page.get("NextShardIterator")
        return bool(page["Records"])

    def _deliver(self, records: list[dict], shard_id: str) -> None:
        if self._lane_pool is None:
            self.delivery.deliver(records, shard_id)
            return
        parts = split_by_partition_key(records, self.partition_key, self.lanes)
        futures = [self._lane_pool.submit(self.delivery.deliver, part, shard_id) for part in parts]
        wait(futures)
        for future in futures:
            future.result()  # Interrupted (or a bug) surfaces here, once every lane has ended


def split_by_partition_key(records: list[dict], partition_key: str, lanes: int) -> list[list[dict]]:
    """The non-empty lanes, each in shard order; a key always goes to the same lane."""
    parts: list[list[dict]] = [[] for _ in range(lanes)]
    for record in records:
        key = json.dumps(record["dynamodb"]["Keys"].get(partition_key), sort_keys=True)
        parts[zlib.crc32(key.encode()) % lanes].append(record)
    return [part for part in parts if part]
