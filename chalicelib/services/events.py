"""Events the shop subscribes to on the SNS events topic, each published once per order."""
from __future__ import annotations

import json
from typing import Any

from ..domain.clock import to_api, utcnow
from ..domain.order import Order
from ..platform.aws import client
from ..platform.settings import get_settings
from ..store import orders as order_store
from .render import order_for_shop


def publish_once(order: Order, event: str, extra: dict[str, Any] | None = None,
                 key: str | None = None) -> bool:
    """Publish `event` for this order unless it already was. Returns True when it published now.

    `key` (default: the event's name) is what is claimed in the order's published set; an event
    that may be published again later for a new reason claims a distinct key each time.
    The claim is a conditional write on the order; if SNS then fails, the claim is withdrawn and
    the error propagates, so the stream record is retried rather than the event lost.
    """
    key = key or event
    if not order_store.mark_published(order.order_no, key):
        return False
    message = {"event": event, "at": to_api(utcnow()), "order": order_for_shop(order), **(extra or {})}
    try:
        client("sns").publish(
            TopicArn=get_settings().events_topic_arn, Message=json.dumps(message, ensure_ascii=False),
            MessageAttributes={"event": {"DataType": "String", "StringValue": event},
                               "channel": {"DataType": "String", "StringValue": order.channel}})
    except Exception:
        order_store.unmark_published(order.order_no, key)
        raise
    return True
