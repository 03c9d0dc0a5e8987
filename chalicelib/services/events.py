"""Events the shop subscribes to on the SNS events topic: each at least once, every copy under
one stable `event_id` the shop dedupes on.

The order of the steps is the guarantee: check the claim, publish, then claim. A failure or a
crash anywhere before the claim is written (SNS refuses, the claim write fails, the Lambda times
out right after publishing) leaves the event unclaimed, so the retried stream record publishes
it again under the same id; after the claim there is nothing left to lose. Claiming first would
turn a crash between claim and publish into an event never published. The check before
publishing keeps replays quiet, so a shop sees a duplicate only around such a failure.

Inside an orders-stream batch (`batched`) the same steps are taken for the whole batch: each
event is checked as it is decided and kept; when the batch's records are done, the kept events
go out ten to a request (SNS PublishBatch), then those that went out are claimed together
(store/claims.claim_all). The records whose events did not all go out and get claimed are
reported failed, so Lambda hands them (and what follows them) over again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ..domain.clock import to_api
from ..domain.order import Order
from ..platform.aws import client
from ..platform.observability import logger
from ..platform.settings import get_settings
from ..store import claims
from . import ports
from .ports import clock
from .render import order_for_shop


def event_id(order_no: str, key: str) -> str:
    """The same for every copy of one event: the order and the event's claim key, hashed."""
    return "evt_" + hashlib.sha256(f"{order_no}\n{key}".encode()).hexdigest()[:32]


def message(
    order: Order, event: str, key: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The message body as the shop receives it (`at`: when this copy was published)."""
    return {
        "event_id": event_id(order.order_no, key),
        "event": event,
        "at": to_api(clock().now()),
        "order": order_for_shop(order),
        **(extra or {}),
    }


def sns_attributes(attributes: Mapping[str, str]) -> dict[str, dict[str, str]]:
    return {
        name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
    }


class _EventsTopic:
    """The shop's events topic (SNS): the real `shop_events` port."""

    def send(self, message: str, attributes: Mapping[str, str], subject: str | None = None) -> None:
        client("sns").publish(
            TopicArn=get_settings().events_topic_arn,
            Message=message,
            MessageAttributes=sns_attributes(attributes),
        )

    def send_batch(self, messages: Sequence[tuple[str, Mapping[str, str]]]) -> list[bool]:
        answer = client("sns").publish_batch(
            TopicArn=get_settings().events_topic_arn,
            PublishBatchRequestEntries=[
                {"Id": str(i), "Message": text, "MessageAttributes": sns_attributes(attributes)}
                for i, (text, attributes) in enumerate(messages)
            ],
        )
        went_out = {entry["Id"] for entry in answer.get("Successful", [])}
        return [str(i) in went_out for i in range(len(messages))]


_EVENTS_TOPIC = _EventsTopic()


# SNS PublishBatch takes at most ten messages a request, 256 KiB of them together (messages
# and attributes); a request over either is refused whole.
_MESSAGES_PER_BATCH = 10
_BYTES_PER_BATCH = 256 * 1024 - 4 * 1024  # room for the attributes' names and types


@dataclass(frozen=True)
class _Kept:
    order_no: str
    key: str
    text: str
    attributes: dict[str, str]
    record: str  # the stream record that decided it: reported failed if it does not go out


@dataclass
class Outbox:
    """A stream batch's events, kept until its records are done (`batched`)."""

    kept: list[_Kept] = field(default_factory=list)
    keys: set[tuple[str, str]] = field(default_factory=set)  # (order number, claim key) kept
    record: str = ""  # the record being handled

    @contextmanager
    def handling(self, record: str) -> Iterator[None]:
        """What is kept inside was decided by this stream record (its sequence number)."""
        self.record = record
        try:
            yield
        finally:
            self.record = ""

    def keep(self, order_no: str, key: str, text: str, attributes: dict[str, str]) -> None:
        self.kept.append(_Kept(order_no, key, text, attributes, self.record))
        self.keys.add((order_no, key))

    def send(self) -> set[str]:
        """Publish what was kept, ten to a request, then claim what went out. Returns the records
        whose events did not all go out and get claimed (each such event stays unclaimed, so the
        record handed over again publishes it again, under the same id)."""
        topic: ports.BatchPublisher = ports.port("shop_events", _EVENTS_TOPIC)
        sent: list[_Kept] = []
        unsent: set[str] = set()
        for chunk in _requests(self.kept):
            for kept, went_out in zip(chunk, _send_batch(topic, chunk), strict=True):
                if went_out:
                    sent.append(kept)
                else:
                    unsent.add(kept.record)
        keys_by_order: dict[str, set[str]] = {}
        for kept in sent:
            keys_by_order.setdefault(kept.order_no, set()).add(kept.key)
        try:
            ports.claims(claims).claim_all(keys_by_order)
        except Exception:
            logger.exception("the batch's events went out but were not claimed")
            return unsent | {kept.record for kept in sent}
        return unsent


def _size(kept: _Kept) -> int:
    return len(kept.text.encode()) + sum(
        len(name.encode()) + len(value.encode()) for name, value in kept.attributes.items()
    )


def _requests(kept: list[_Kept]) -> Iterator[list[_Kept]]:
    """The kept events in order, as PublishBatch requests within SNS's limits (an event too
    big for any request goes alone, and SNS refuses it as it would refuse its Publish)."""
    chunk: list[_Kept] = []
    size = 0
    for event in kept:
        if chunk and (len(chunk) == _MESSAGES_PER_BATCH or size + _size(event) > _BYTES_PER_BATCH):
            yield chunk
            chunk, size = [], 0
        chunk.append(event)
        size += _size(event)
    if chunk:
        yield chunk


def _send_batch(topic: ports.BatchPublisher, chunk: list[_Kept]) -> list[bool]:
    try:
        return topic.send_batch([(kept.text, kept.attributes) for kept in chunk])
    except Exception:
        logger.exception("the events topic refused a batch", extra={"events": len(chunk)})
        return [False] * len(chunk)


_outbox: ContextVar[Outbox | None] = ContextVar("events_outbox", default=None)


@contextmanager
def batched() -> Iterator[Outbox]:
    """Inside, `publish_once` keeps each event in the outbox instead of publishing it; the caller
    sends the outbox (`Outbox.send`) when the batch's records are done."""
    outbox = Outbox()
    token = _outbox.set(outbox)
    try:
        yield outbox
    finally:
        _outbox.reset(token)


def publish_once(
    order: Order, event: str, extra: dict[str, Any] | None = None, key: str | None = None
) -> bool:
    """Publish `event` for this order unless its claim is taken. Returns True when this call
    took the claim (so metrics count the event once, even when it went out twice); inside
    `batched`, when the event was kept to go out with the batch (its claim free until then).

    `key` (default: the event's name) is the claim and the seed of the event id; an event that
    may be published again later for a new reason uses a distinct key each time.
    """
    key = key or event
    outbox = _outbox.get()
    if (outbox is not None and (order.order_no, key) in outbox.keys) or ports.claims(
        claims
    ).is_claimed(order.order_no, key):
        return False
    body = message(order, event, key, extra)
    text = json.dumps(body, ensure_ascii=False)
    attributes = {"event": event, "event_id": body["event_id"], "channel": order.channel}
    if outbox is not None:
        outbox.keep(order.order_no, key, text, attributes)
        return True
    topic: ports.Publisher = ports.port("shop_events", _EVENTS_TOPIC)
    topic.send(text, attributes)
    return ports.claims(claims).claim(order.order_no, key)
