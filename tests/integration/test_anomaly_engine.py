"""The anomaly engine on moto: orders and notices written through the real API and services,
their real stream records fed to the app's stream handlers (as the local pump and Lambda do),
and the result asserted — anomaly records, holds, the events the shop gets, and the EMF metrics
printed. Replays create nothing twice; a poisoned record fails alone."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import boto3
import pytest

from chalicelib.domain.clock import utcnow
from chalicelib.domain.order import expire, hold, release_hold
from chalicelib.platform.settings import get_settings
from chalicelib.services import auth, screening
from chalicelib.services.order_writes import write_with_retry
from chalicelib.store import anomalies as anomaly_store
from chalicelib.store import orders as order_store
from chalicelib.store.models import AnomalyModel, NoticeModel, OrderModel
from local.stream_pump import read_all, to_lambda_event
from tests.support import notifications as wires

BEIJING = timezone(timedelta(hours=8))


@dataclass
class StreamFeed:
    """Feeds each stream's new records to its handler, as the local pump does, until both
    streams are quiet (a handler's own writes make new records). `replay` feeds everything so far
    again, in one batch per stream."""

    seen: dict[str, int] = field(default_factory=dict)

    def _records(self, model) -> tuple[str, list[dict]]:
        arn = boto3.client("dynamodb").describe_table(TableName=model.Meta.table_name)["Table"][
            "LatestStreamArn"
        ]
        return arn, read_all(boto3.client("dynamodbstreams"), arn)

    def _handlers(self):
        import app

        return ((NoticeModel, app.on_notices_stream), (OrderModel, app.on_orders_stream))

    def drain(self) -> None:
        for _ in range(10):
            fed = 0
            for model, handler in self._handlers():
                arn, records = self._records(model)
                fresh = records[self.seen.get(arn, 0) :]
                self.seen[arn] = len(records)
                for start in range(0, len(fresh), 100):
                    response = handler(to_lambda_event(fresh[start : start + 100], arn), None)
                    assert response == {"batchItemFailures": []}
                fed += len(fresh)
            if not fed:
                return
        raise AssertionError("the streams never went quiet")

    def replay(self) -> None:
        for model, handler in self._handlers():
            arn, records = self._records(model)
            for start in range(0, len(records), 100):
                assert handler(to_lambda_event(records[start : start + 100], arn), None) == {
                    "batchItemFailures": []
                }


@pytest.fixture
def feed(aws):
    return StreamFeed()


@pytest.fixture
def shop_events(aws):
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName="shop-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=get_settings().events_topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    received: list[dict] = []

    def drain() -> list[dict]:
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            received.extend(json.loads(m["Body"]) for m in batch)
            for m in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return received

    return drain


def events_of(messages: list[dict], order_no: str) -> list[str]:
    return [m["event"] for m in messages if m["order"]["order_no"] == order_no]


class Emf:
    """The EMF lines printed so far: sum of a metric under exactly the given dimensions."""

    def __init__(self, capsys):
        self.capsys = capsys
        self.blobs: list[dict] = []

    def read(self) -> Emf:
        for line in self.capsys.readouterr().out.splitlines():
            if line.startswith('{"_aws"'):
                self.blobs.append(json.loads(line))
        return self

    def total(self, name: str, **dimensions: str) -> float:
        wanted = {"service": "paytrack", **dimensions}
        total = 0.0
        for blob in self.blobs:
            directive = blob["_aws"]["CloudWatchMetrics"][0]
            names = {m["Name"] for m in directive["Metrics"]}
            if (
                name in names
                and any(set(d) == set(wanted) for d in directive["Dimensions"])
                and all(blob.get(k) == v for k, v in wanted.items())
            ):
                value = blob[name]
                total += sum(value) if isinstance(value, list) else value
        return total


@pytest.fixture
def emf(capsys):
    return Emf(capsys)


def anomalies_by_id() -> dict[str, object]:
    return {
        a.anomaly_id: a for a in map(anomaly_store.to_domain, AnomalyModel.scan())
    }  # test-only look


def register(api, **fields) -> str:
    response = api.register(**fields)
    assert response.status_code == 201, response.body
    return api.json(response)["order_no"]


def refund_wire(order_no: str, amount: str):
    now = datetime.now(UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    return wires.alipay(
        order_no, amount, status="TRADE_CLOSED", extra={"refund_fee": amount, "gmt_refund": now}
    )


# ------------------------------------------------------------------ ingestion holds -> anomalies


def test_wrong_amount_is_a_critical_anomaly_the_order_held_and_the_shop_told_held(
    api, feed, shop_events, emf
):
    order_no = register(api)
    api.send(wires.alipay(order_no, "52.20"))
    feed.drain()
    anomaly = anomaly_store.get(f"amount_mismatch#{order_no}")
    assert anomaly.severity.value == "critical" and anomaly.status.value == "open"
    assert anomaly.details["expected"] == {"amount": "58.00", "currency": "CNY"}
    assert anomaly.details["seen"] == {"amount": "52.20", "currency": "CNY"}
    order = order_store.get(order_no)
    assert order.on_hold and order.flagged and order.hold_reasons == ["amount_mismatch"]
    assert [e.type for e in order.timeline].count("anomaly") == 1
    messages = shop_events()
    assert events_of(messages, order_no) == ["order.held"]
    assert messages[0]["reasons"] == ["amount_mismatch"] and messages[0]["order"]["hold"] is True
    emf.read()
    assert emf.total("Anomalies", severity="critical") == 1
    assert emf.total("Anomalies", rule="amount_mismatch", severity="critical") == 1
    assert emf.total("DeliveryHolds", reason="amount_mismatch") == 1
    assert emf.total("OrdersPaid", channel="alipay-main") == 1
    assert emf.total("NotificationsAccepted", channel="alipay-main") == 1


def test_a_good_payment_is_ready_once_and_its_delivery_time_measured(api, feed, shop_events, emf):
    order_no = register(api)
    api.send(wires.alipay(order_no, "58.00"))
    feed.drain()
    assert events_of(shop_events(), order_no) == ["order.paid", "order.ready"]
    assert anomaly_store.for_order(order_no) == [] and not order_store.get(order_no).flagged
    api.call("POST", f"/orders/{order_no}/delivery", {"status": "delivered"})
    feed.drain()
    emf.read()
    assert emf.total("OrdersPaid") == 1 and emf.total("Anomalies") == 0
    assert 0 <= emf.total("PayToDeliverySeconds") < 60


def test_second_payment_after_ready_holds_and_tells_the_shop(api, feed, shop_events):
    order_no = register(api)
    api.send(wires.alipay(order_no, "58.00", trade_no="2026T1"))
    feed.drain()
    api.send(wires.alipay(order_no, "58.00", trade_no="2026T2"))
    feed.drain()
    anomaly = anomaly_store.get(f"duplicate_payment#{order_no}#2026T2")
    assert anomaly.details["refund_due"] == {"amount": "58.00", "currency": "CNY"}
    assert events_of(shop_events(), order_no) == ["order.paid", "order.ready", "order.held"]


def test_late_payment_after_expiry(api, feed, shop_events):
    order_no = register(api)
    write_with_retry(order_store.get(order_no), lambda o: expire(o, utcnow()))
    api.send(wires.alipay(order_no, "58.00"))
    feed.drain()
    assert anomaly_store.get(f"late_payment#{order_no}").details["expired_at"]
    assert events_of(shop_events(), order_no) == ["order.held"]


def test_a_close_for_a_paid_order_is_a_status_conflict(api, feed):
    order_no = register(api)
    api.send(wires.alipay(order_no, "58.00"))
    api.send(wires.alipay(order_no, "58.00", status="TRADE_CLOSED"))
    feed.drain()
    (conflict,) = [a for a in anomaly_store.for_order(order_no) if a.rule == "status_conflict"]
    assert (
        conflict.details["ledger_status"] == "paid" and conflict.details["seen"] == "TRADE_CLOSED"
    )
    assert not order_store.get(order_no).on_hold


# ------------------------------------------------------------------ unknown orders


def test_unknown_order_is_raised_and_resolves_itself_when_the_order_arrives(
    api, feed, shop_events, emf
):
    order_no = "LATE202611250001"
    api.send(wires.alipay(order_no, "58.00", notify_id="n-late-1"))
    feed.drain()
    anomaly = anomaly_store.get("unknown_order#alipay-main:n-late-1")
    assert anomaly is not None, list(anomalies_by_id())
    assert (
        anomaly.status.value == "open"
        and anomaly.order_no == order_no
        and anomaly.severity.value == "critical"
    )
    register(api, order_no=order_no)
    feed.drain()
    resolved = anomaly_store.get(anomaly.anomaly_id)
    assert resolved.status.value == "resolved" and resolved.updated_by == "system"
    assert events_of(shop_events(), order_no) == ["order.paid", "order.ready"]
    assert emf.read().total("Anomalies", rule="unknown_order") == 1


# ------------------------------------------------------------------ ip_burst


def test_ip_burst_holds_every_undelivered_order_of_the_burst_under_one_anomaly(
    api, feed, shop_events
):
    first = register(api, buyer_ip="36.110.9.9", buyer_email="a1@qq.com")
    api.send(wires.alipay(first, "58.00"))
    feed.drain()
    api.call("POST", f"/orders/{first}/delivery", {"status": "delivered"})
    others = [register(api, buyer_ip="36.110.9.9", buyer_email=f"a{i}@qq.com") for i in range(2, 6)]
    feed.drain()
    (anomaly,) = [a for a in anomalies_by_id().values() if a.rule == "ip_burst"]
    assert anomaly.anomaly_id == f"ip_burst#{first}" and anomaly.severity.value == "warning"
    assert anomaly.details["orders"] == [first, *others] and anomaly.order_no == others[-1]
    assert not order_store.get(first).on_hold  # already delivered
    assert all(order_store.get(o).hold_reasons == ["ip_burst"] for o in others)
    sixth = register(api, buyer_ip="36.110.9.9", buyer_email="a6@qq.com")
    feed.drain()
    assert (
        order_store.get(sixth).on_hold
        and len([a for a in anomalies_by_id() if a.startswith("ip_burst")]) == 1
    )
    api.send(wires.alipay(sixth, "58.00"))
    feed.drain()
    held = [m for m in shop_events() if m["order"]["order_no"] == sixth]
    assert [m["event"] for m in held] == ["order.held"] and held[0]["reasons"] == ["ip_burst"]


def test_four_orders_from_one_ip_are_no_burst(api, feed):
    for i in range(4):
        register(api, buyer_ip="36.110.9.8", buyer_email=f"b{i}@qq.com")
    feed.drain()
    assert not [a for a in anomalies_by_id() if a.startswith("ip_burst")]


# ------------------------------------------------------------------ warnings and info


def test_suspicious_email_warns_without_holding(api, feed, shop_events):
    order_no = register(api, buyer_email="x7k2q9vbn3@mailinator.com")
    api.send(wires.alipay(order_no, "58.00"))
    feed.drain()
    anomaly = anomaly_store.get(f"suspicious_email#{order_no}")
    assert anomaly.details["seen"] == ["disposable_domain", "random_local_part"]
    assert events_of(shop_events(), order_no) == ["order.paid", "order.ready"]


def test_quick_refund(api, feed):
    order_no = register(api)
    api.send(wires.alipay(order_no, "58.00"))
    api.send(refund_wire(order_no, "58.00"))
    feed.drain()
    assert anomaly_store.get(f"quick_refund#{order_no}").severity.value == "warning"


def test_large_amount_is_info_and_does_not_hold_by_default(api, feed, shop_events):
    order_no = register(api, amount="500.00")
    small = register(api, amount="499.99")
    api.send(wires.alipay(order_no, "500.00"))
    api.send(wires.alipay(small, "499.99"))
    feed.drain()
    assert anomaly_store.get(f"large_amount#{order_no}").severity.value == "info"
    assert anomaly_store.get(f"large_amount#{small}") is None
    assert events_of(shop_events(), order_no) == ["order.paid", "order.ready"]


# ------------------------------------------------------------------ holds and releases


def test_release_publishes_ready_again_and_a_later_hold_held_again(api, feed, shop_events):
    order_no = register(api)
    api.send(wires.alipay(order_no, "52.20"))
    feed.drain()
    now = utcnow()
    write_with_retry(
        order_store.get(order_no),
        lambda o: release_hold(o, now, "op-key", "customer paid the rest"),
    )
    feed.drain()
    write_with_retry(
        order_store.get(order_no), lambda o: hold(o, ["operator"], now, "operator", "op-key")
    )
    feed.drain()
    messages = [m for m in shop_events() if m["order"]["order_no"] == order_no]
    assert [(m["event"], m["generation"]) for m in messages] == [
        ("order.held", 0),
        ("order.ready", 1),
        ("order.held", 1),
    ]
    feed.replay()
    assert len([m for m in shop_events() if m["order"]["order_no"] == order_no]) == 3


def test_a_release_written_before_the_stream_saw_the_hold_is_not_undone(api, feed, shop_events):
    """The stream lags: an operator releases a payment held at ingestion before its record was
    screened. That older record's rule finding is recorded, but must not hold the order again
    (it used to: `order.held` of the release's generation, then the release record's
    `order.ready`, while the order stood held and refused the shop's delivery)."""
    order_no = register(api)
    api.send(wires.alipay(order_no, "5.80"))  # 5.80 of 58.00: held at ingestion
    now = utcnow()
    write_with_retry(
        order_store.get(order_no),
        lambda o: release_hold(o, now, "op-key", "the buyer paid the rest by bank transfer"),
    )
    feed.drain()  # the paid-and-held record, then the release record, in order
    order = order_store.get(order_no)
    assert not order.on_hold and order.hold_reasons == []
    found = [a for a in anomalies_by_id().values() if a.order_no == order_no]
    assert [a.rule for a in found] == ["amount_mismatch"]
    assert [e.type for e in order.timeline if e.type in ("hold", "release", "anomaly")] == [
        "hold",
        "release",
        "anomaly",
    ]
    assert order.timeline[-1].data["hold"] == "released_since"
    messages = [m for m in shop_events() if m["order"]["order_no"] == order_no]
    assert [(m["event"], m["generation"]) for m in messages] == [("order.ready", 1)]
    delivered = api.call(
        "POST", f"/orders/{order_no}/delivery", {"status": "delivered", "detail": "card key sent"}
    )
    assert delivered.status_code == 200, delivered.body
    feed.replay()
    feed.drain()
    assert not order_store.get(order_no).on_hold
    assert len([m for m in shop_events() if m["order"]["order_no"] == order_no]) == 1


# ------------------------------------------------------------------ exactly once


def test_a_replayed_batch_creates_nothing_twice(api, feed, shop_events, emf):
    burst = [register(api, buyer_ip="36.110.7.7", buyer_email=f"c{i}@qq.com") for i in range(5)]
    wrong = register(api)
    api.send(wires.alipay(wrong, "1.00"))
    api.send(wires.alipay("NOSUCH000001", "58.00", notify_id="n-unknown-2"))
    api.send(wires.alipay(burst[0], "58.00"))
    feed.drain()
    anomalies_before = anomalies_by_id()
    orders_before = {o: order_store.get(o) for o in [*burst, wrong]}
    events_before = Counter(m["event"] for m in shop_events())
    emf.read()
    counted = emf.total("Anomalies"), emf.total("OrdersPaid"), emf.total("DeliveryHolds")
    for _ in range(2):
        feed.replay()
        feed.drain()
    assert set(anomalies_by_id()) == set(anomalies_before) and len(anomalies_before) == 3
    for order_no, before in orders_before.items():
        after = order_store.get(order_no)
        assert (after.timeline, after.hold_reasons, after.flagged) == (
            before.timeline,
            before.hold_reasons,
            before.flagged,
        )
    assert Counter(m["event"] for m in shop_events()) == events_before
    assert (
        emf.read().total("Anomalies"),
        emf.total("OrdersPaid"),
        emf.total("DeliveryHolds"),
    ) == counted


def test_a_poisoned_record_fails_alone_and_the_rest_of_the_batch_is_screened(api, shop_events, emf):
    import app

    order_no = register(api, amount="600.00")
    api.send(wires.alipay(order_no, "600.00"))
    arn = boto3.client("dynamodb").describe_table(TableName=OrderModel.Meta.table_name)["Table"][
        "LatestStreamArn"
    ]
    event = to_lambda_event(read_all(boto3.client("dynamodbstreams"), arn), arn)
    poisoned = json.loads(json.dumps(event["Records"][0]))
    poisoned["dynamodb"]["SequenceNumber"] = "1" + poisoned["dynamodb"]["SequenceNumber"]
    poisoned["dynamodb"]["NewImage"]["pay_status"] = {"S": "bogus"}
    event["Records"].insert(1, poisoned)
    response = app.on_orders_stream(event, None)
    assert response == {
        "batchItemFailures": [{"itemIdentifier": poisoned["dynamodb"]["SequenceNumber"]}]
    }
    assert anomaly_store.get(f"large_amount#{order_no}") is not None
    assert events_of(shop_events(), order_no) == ["order.paid", "order.ready"]
    assert emf.read().total("StreamRecordFailures", stream="orders") == 1


# ------------------------------------------------------------------ scheduled checks


def test_slow_delivery_check_flags_paid_undelivered_orders_only(api, feed, clock):
    slow = register(api)
    done = register(api)
    held = register(api)
    for order_no, amount in ((slow, "58.00"), (done, "58.00"), (held, "5.00")):
        api.send(wires.alipay(order_no, amount))
    api.call("POST", f"/orders/{done}/delivery", {"status": "delivered"})
    feed.drain()
    clock.advance(minutes=4)
    assert screening.slow_delivery_check()["slow"] == 0
    clock.advance(minutes=1, seconds=1)
    summary = screening.slow_delivery_check()
    assert summary == {"job": "slow_delivery", "checked": 1, "slow": 1}
    assert anomaly_store.get(f"slow_delivery#{slow}").severity.value == "warning"
    clock.advance(minutes=1)
    screening.slow_delivery_check()
    assert len([a for a in anomalies_by_id() if a.startswith("slow_delivery")]) == 1


def test_slow_delivery_is_a_job_counted_and_runnable_like_the_others(api, feed, emf, monkeypatch):
    import app

    slow = register(api)
    api.send(wires.alipay(slow, "58.00"))
    feed.drain()
    _, operator = auth.create_key("op", "operator", "test")
    ran = api.call("POST", "/admin/jobs/slow_delivery", {}, key=operator)
    assert ran.status_code == 200
    assert api.json(ran) == {"job": "slow_delivery", "checked": 0, "slow": 0}
    monkeypatch.setattr(screening, "slow_delivery_check", _raise_boom)
    with pytest.raises(RuntimeError):
        app.slow_delivery(SCHEDULE_EVENT, None)
    assert emf.read().total("JobFailures", job="slow_delivery") == 1


SCHEDULE_EVENT = {
    "version": "0",
    "account": "123456789012",
    "region": "us-east-1",
    "detail": {},
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "time": "2026-11-25T00:00:00Z",
    "id": "slow-delivery-test",
    "resources": [],
}


def _raise_boom() -> dict:
    raise RuntimeError("boom")


@pytest.mark.parametrize("expired,flagged", [(3, False), (4, True)])
def test_channel_health_flags_a_failing_channel(api, feed, expired, flagged):
    numbers = [register(api, channel="epay-main") for _ in range(20)]
    now = utcnow()
    for order_no in numbers[:expired]:
        write_with_retry(order_store.get(order_no), lambda o: expire(o, now))
    for order_no in numbers[expired:]:
        api.send(wires.epay(order_no, "58.00"))
    summary = screening.channel_health(utcnow())
    assert summary["channels"]["epay-main"] == {"attempts": 20, "failed": expired}
    assert summary["failing"] == (["epay-main"] if flagged else [])
    found = [a for a in anomalies_by_id().values() if a.rule == "channel_failure"]
    assert bool(found) is flagged
    if flagged:
        assert (
            found[0].channel == "epay-main" and found[0].details["seen"] == "4 of 20 failed (20%)"
        )
