"""Feeds DynamoDB stream records to the app's stream handlers, the way Lambda's event source
mapping does: batches in order, `batchItemFailures` retried from the first failed record,
bounded retries, then the batch is logged as dead-lettered and skipped.

Also used by integration tests to turn real moto stream records into Lambda events.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

log = logging.getLogger("paytrack.local.pump")

Handler = Callable[[dict, Any], Any]


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


def read_all(streams_client, stream_arn: str) -> list[dict]:
    """Every record currently in the stream (tests): TRIM_HORIZON on each shard to the end."""
    records: list[dict] = []
    for shard in streams_client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams_client.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = streams_client.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return records


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None


class StreamPump(threading.Thread):
    """One thread per table stream; polls every `interval` seconds."""

    def __init__(self, dynamodb, streams, table: str, handler: Handler, *, interval: float = 0.2,
                 batch_size: int = 100, max_retries: int = 3):
        super().__init__(name=f"pump-{table}", daemon=True)
        self.streams = streams
        self.stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self.handler = handler
        self.interval = interval
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.stop_event = threading.Event()
        self.shards: dict[str, _Shard] = {}
        self.delivered = 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self._discover_shards()
                for shard in list(self.shards.values()):
                    self._poll(shard)
            except Exception:  # the pump must outlive a bad poll, like Lambda's poller does
                log.exception("stream poll failed for %s", self.stream_arn)
            self.stop_event.wait(self.interval)

    def stop(self) -> None:
        self.stop_event.set()

    def _discover_shards(self) -> None:
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description["Shards"]:
            if shard["ShardId"] not in self.shards:
                iterator = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard["ShardId"],
                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                self.shards[shard["ShardId"]] = _Shard(shard["ShardId"], iterator)

    def _poll(self, shard: _Shard) -> None:
        if shard.iterator is None:
            return
        page = self.streams.get_records(ShardIterator=shard.iterator, Limit=self.batch_size)
        shard.iterator = page.get("NextShardIterator")
        if page["Records"]:
            self._deliver(page["Records"])

    def _deliver(self, records: list[dict]) -> None:
        pending = records
        for attempt in range(self.max_retries + 1):
            response = self.handler(to_lambda_event(pending, self.stream_arn), None) or {}
            failures = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            if not failures:
                self.delivered += len(records)
                return
            first = next(i for i, r in enumerate(pending) if r["dynamodb"]["SequenceNumber"] in failures)
            pending = pending[first:]
            time.sleep(min(0.1 * 2 ** attempt, 2))
        log.error("dead-lettered %d stream records from %s after %d retries: %s", len(pending),
                  self.stream_arn, self.max_retries, [r["dynamodb"]["SequenceNumber"] for r in pending])
