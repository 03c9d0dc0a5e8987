"""The stack's listener on its topics (local/sns_listener.py) keeps up with a flash sale."""

from __future__ import annotations

import json
import threading
from collections import deque

import boto3

from local.sns_listener import SnsListener
from tests.unit.local.conftest import fresh_moto


def test_a_drain_empties_the_queue_not_just_ten_messages(monkeypatch):
    """Ten messages a second fell behind a sale's forty events a second: the queue grew, and
    moto's receives slowed with it."""
    with fresh_moto(monkeypatch):
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="local-event-listener")["QueueUrl"]
        for i in range(25):
            sqs.send_message(
                QueueUrl=url,
                MessageBody=json.dumps({"event": "order.ready", "order": {"order_no": f"o{i}"}}),
            )
        listener = SnsListener.__new__(SnsListener)
        listener.sqs, listener.stop_event, listener.received = (
            sqs,
            threading.Event(),
            deque(maxlen=1000),
        )
        listener.on_event = None
        listener._drain("event", url)
        assert sorted(body["order"]["order_no"] for body in listener.received) == sorted(
            f"o{i}" for i in range(25)
        )
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert (
            attributes["ApproximateNumberOfMessages"] == "0"
            and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
        )
