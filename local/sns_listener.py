"""Prints what paytrack publishes on its SNS topics (shop events, paging), through an SQS queue
subscribed to each topic on the embedded AWS: what the shop and the on-call phone would get.

It polls without long polling: moto answers a long poll by spinning until the wait is over,
which kept a core busy on an idle stack."""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable

import boto3

from chalicelib.platform.settings import get_settings

log = logging.getLogger("paytrack.local.sns")
RECEIVED_KEPT = 100  # each a shop event of ~2 KB: a thousand grew the stack 2 MB per 1,000 orders


class SnsListener(threading.Thread):
    def __init__(self, interval_s: float = 1.0, on_event: Callable[[dict], None] | None = None):
        """`on_event`: called with each shop event (the local shop acts on some, local/demo_shop.py)."""
        super().__init__(name="sns-listener", daemon=True)
        self.interval_s = interval_s
        self.on_event = on_event
        self.sqs = boto3.client("sqs")
        self.stop_event = threading.Event()
        self.received: deque[dict] = deque(maxlen=RECEIVED_KEPT)  # the latest, not all of them
        settings = get_settings()
        self.queues = {
            label: self._subscribe(label, arn)
            for label, arn in (
                ("event", settings.events_topic_arn),
                ("PAGE", settings.paging_topic_arn),
            )
        }

    def _subscribe(self, label: str, topic_arn: str) -> str:
        url = self.sqs.create_queue(QueueName=f"local-{label.lower()}-listener")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        boto3.client("sns").subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        return url

    def run(self) -> None:
        while not self.stop_event.is_set():
            for label, url in self.queues.items():
                self._drain(label, url)
            self.stop_event.wait(self.interval_s)

    def _drain(self, label: str, url: str) -> None:
        """Until the queue is empty: ten messages a second fell behind a flash sale's forty
        events a second, and the queue grew for as long as the sale lasted."""
        while not self.stop_event.is_set():
            messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return
            for message in messages:
                body = json.loads(message["Body"])
                self.received.append(body)
                # a page is for the person at the console; each shop event goes to the app log
                level = logging.WARNING if label == "PAGE" else logging.INFO
                log.log(level, "%s %s", label, _describe(body))
                if label == "event" and self.on_event is not None:
                    self.on_event(body)
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )

    def stop(self) -> None:
        self.stop_event.set()


def _describe(body: dict) -> str:
    """One line per message: a shop event (`order.held 2026… reasons=amount_mismatch`) or a
    CloudWatch alarm notification (`ALARM paytrack-local-critical-anomaly: Threshold Crossed…`)."""
    if "AlarmName" in body:
        return f"{body['NewStateValue']} {body['AlarmName']}: {body.get('NewStateReason', '')}"
    order = body.get("order", {})
    reasons = f"reasons={','.join(body['reasons'])}" if body.get("reasons") else ""
    return f"{body.get('event')} {order.get('order_no', '')} {reasons}".rstrip()
