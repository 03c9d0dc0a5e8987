"""Events the shop subscribes to on the SNS events topic: each at least once, every copy under
one stable `event_id` the shop dedupes on.

The order of the steps is the guarantee: check the claim, publish, then claim. A failure or a
crash anywhere before the claim is written (SNS refuses, the claim write fails, the Lambda times
out right after publishing) leaves the event unclaimed, so the retried stream record publishes
it again under the same id; after the claim there is nothing left to lose. Claiming first would
turn a crash between claim and publish into an event never published. The check before
publishing keeps replays quiet, so a shop sees a duplicate only around such a failure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..domain.clock import to_api
from ..domain.order import Order
from ..platform.aws import client
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


_EVENTS_TOPIC = _EventsTopic()


def publish_once(
    order: Order, event: str, extra: dict[str, Any] | None = None, key: str | None = None
) -> bool:
    """Publish `event` for this order unless its claim is taken. Returns True when this call
    took the claim (so metrics count the event once, even when it went out twice).

    `key` (default: the event's name) is the claim and the seed of the event id; an event that
    may be published again later for a new reason uses a distinct key each time.
    """
    key = key or event
    if ports.claims(claims).is_claimed(order.order_no, key):
        return False
    body = message(order, event, key, extra)
    topic: ports.Publisher = ports.port("shop_events", _EVENTS_TOPIC)
    topic.send(
        json.dumps(body, ensure_ascii=False),
        {"event": event, "event_id": body["event_id"], "channel": order.channel},
    )
    return ports.claims(claims).claim(order.order_no, key)
