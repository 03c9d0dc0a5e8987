"""The embedded AWS's queues under concurrent callers (local/fidelity.py): each change and each
pass of a receive under one lock, so several receivers of one queue and a topic's fan-out at once
no longer meet moto walking a set another thread changes (a 500 under a flash sale; in-process
moto rarely switches threads there, so the lock is what is checked); a long poll still ends when
a message arrives; the queues read the clock as time.time() and keep every timing they had."""

from __future__ import annotations

import threading
import time

import boto3
from moto import mock_aws

from local import fidelity


def test_changes_and_each_pass_of_a_receive_hold_the_queues_lock(patched_later, monkeypatch):
    from moto.sqs.models import Message, Queue

    held = []
    original = Queue.add_message
    received = Message.mark_received

    def add_message(self, message):
        held.append(("sent", fidelity._queues_lock._is_owned()))
        return original(self, message)

    def mark_received(self, *args, **kwargs):
        held.append(("received", fidelity._queues_lock._is_owned()))
        return received(self, *args, **kwargs)

    monkeypatch.setattr(Queue, "add_message", add_message)
    monkeypatch.setattr(Message, "mark_received", mark_received)
    patched_later()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="ap-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="one")
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "2", "MessageBody": "two"}])
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in received) == ["one", "two"]
    assert held == [("sent", True), ("sent", True), ("received", True), ("received", True)]


def test_a_long_poll_ends_when_a_message_arrives_during_its_wait(patched_later):
    patched_later()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="ap-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        sender = threading.Timer(0.3, lambda: sqs.send_message(QueueUrl=url, MessageBody="late"))
        sender.start()
        started = time.monotonic()
        received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"]
        waited = time.monotonic() - started
        sender.join()
    assert [m["Body"] for m in received] == ["late"]
    assert waited < 5  # the send ended the wait; the poll did not sit out its 10 s


def test_the_queues_clock_is_moto_s_seconds_and_every_timing_holds(patched_later):
    from moto.core import utils
    from moto.sqs import models

    patched_later()
    assert models.unix_time._direct and models.unix_time_millis._direct
    assert abs(models.unix_time() - utils.unix_time()) < 0.05
    assert models.unix_time(utils.utcfromtimestamp(86400)) == 86400.0
    with mock_aws():
        sqs = boto3.client("sqs", region_name="ap-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        before = time.time() * 1000
        sqs.send_message(QueueUrl=url, MessageBody="now")
        sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
        (first,) = sqs.receive_message(
            QueueUrl=url, VisibilityTimeout=1, AttributeNames=["SentTimestamp"]
        )["Messages"]
        sent = int(first["Attributes"]["SentTimestamp"])
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert not sqs.receive_message(QueueUrl=url).get("Messages")  # in flight, and delayed
        time.sleep(1.2)
        again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert first["Body"] == "now" and before - 1 <= sent <= time.time() * 1000
    assert (
        counts["ApproximateNumberOfMessages"],
        counts["ApproximateNumberOfMessagesNotVisible"],
        counts["ApproximateNumberOfMessagesDelayed"],
    ) == ("0", "1", "1")
    assert sorted(m["Body"] for m in again) == ["later", "now"]
