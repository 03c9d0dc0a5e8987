"""Services on in-memory ports (tests/support/fakes.py, tests/support/clock.py): no moto, no
network, milliseconds each. The events' publish-then-claim order (one by one, and a stream
batch's outbox: ten to a request, claimed together, what failed reported), the verification secret and
the channels secret read through their ports, an export written and linked through its port.
(The real SNS, S3 and Secrets Manager calls are proven on moto by the integration tests.)"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import ChannelMisconfigured
from chalicelib.domain.money import Money
from chalicelib.domain.order import Order
from chalicelib.services import channels, events, export_writer, reply_tokens
from chalicelib.services import exports as export_service
from chalicelib.store.exports import ExportRecord
from tests.support.clock import FakeClock
from tests.support.fakes import FakeSecret, FakeTopic, MemoryClaims, MemoryFiles, Refused, wired

AT = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
CHANNELS = {
    "epay-main": {
        "type": "epay",
        "name": "彩虹易支付",
        "pid": "1001",
        "key": "k" * 32,
        "api_base": "https://pay.example.com/",
    },
    "broken": {"type": "alipay"},
}


@pytest.fixture(autouse=True)
def ports():
    """Every port a fake: a standing clock, the topics, the claims, the secrets, the bucket."""
    fakes = {
        "clock": FakeClock(AT),
        "shop_events": FakeTopic(),
        "claims": MemoryClaims(),
        "channels_secret": FakeSecret(json.dumps(CHANNELS)),
        "verification_secret": FakeSecret("s" * 40),
        "export_files": MemoryFiles(),
    }
    channels.forget()
    reply_tokens.forget()
    with wired(**fakes):
        yield fakes
    channels.forget()
    reply_tokens.forget()


def _order() -> Order:
    return Order(
        order_no="20261125140000000001",
        amount=Money.parse("58.00", "CNY"),
        channel="epay-main",
        product_id="vip-month",
        product_name="VIP会员 月卡",
        quantity=1,
        created_at=AT,
        expires_at=AT + timedelta(minutes=15),
    )


def test_an_event_is_published_then_claimed_and_a_replay_is_quiet(ports):
    order = _order()
    assert events.publish_once(order, "order.paid") is True
    assert events.publish_once(order, "order.paid") is False
    (sent,) = ports["shop_events"].sent
    assert sent.message["event"] == "order.paid" and sent.message["at"] == "2026-11-25T06:00:00Z"
    assert sent.message["order"]["order_no"] == order.order_no
    assert sent.attributes == {
        "event": "order.paid",
        "event_id": events.event_id(order.order_no, "order.paid"),
        "channel": "epay-main",
    }
    assert ports["claims"].keys == {order.order_no: {"order.paid"}}


def test_a_refused_publish_leaves_the_event_unclaimed_and_the_retry_has_the_same_id(ports):
    order, topic = _order(), ports["shop_events"]
    topic.failures = 1
    with pytest.raises(Refused):
        events.publish_once(order, "order.ready")
    assert not ports["claims"].keys
    ports["claims"].failures = 1  # published, then the claim fails: the retry publishes again
    with pytest.raises(Refused):
        events.publish_once(order, "order.ready")
    assert events.publish_once(order, "order.ready") is True
    assert len({s.message["event_id"] for s in topic.sent}) == 1 and len(topic.sent) == 2


def _orders(count: int) -> list[Order]:
    first = _order()
    return [replace(first, order_no=f"{first.order_no[:-3]}{i:03d}") for i in range(1, count + 1)]


def _keep_a_batch(orders: list[Order]) -> events.Outbox:
    """Each order's record keeps order.paid and order.ready#0 (and order.paid again: held)."""
    with events.batched() as outbox:
        for n, order in enumerate(orders):
            with outbox.handling(f"seq-{n}"):
                assert events.publish_once(order, "order.paid") is True
                assert events.publish_once(order, "order.ready", key="order.ready#0") is True
                assert events.publish_once(order, "order.paid") is False  # kept already
    return outbox


def test_a_batch_keeps_its_events_then_sends_ten_a_request_and_claims_them_together(ports):
    orders, topic, kept_claims = _orders(12), ports["shop_events"], ports["claims"]
    outbox = _keep_a_batch(orders)
    assert topic.sent == [] and kept_claims.keys == {}  # nothing went out while records ran
    assert outbox.send() == set()
    assert topic.batches == [10, 10, 4]
    assert [s.message["event"] for s in topic.sent] == ["order.paid", "order.ready"] * 12
    assert kept_claims.keys == {o.order_no: {"order.paid", "order.ready#0"} for o in orders}
    with events.batched() as replay:
        for order in orders:
            assert events.publish_once(order, "order.paid") is False
    assert replay.send() == set() and topic.batches == [10, 10, 4]


def test_what_did_not_go_out_stays_unclaimed_and_its_record_is_reported(ports):
    orders, topic, kept_claims = _orders(8), ports["shop_events"], ports["claims"]
    topic.failures = 1  # the first request (orders 0-4) is refused
    topic.unnamed = {3}  # the second one's answer leaves out its 4th event: order 6's ready
    assert _keep_a_batch(orders).send() == {"seq-0", "seq-1", "seq-2", "seq-3", "seq-4", "seq-6"}
    assert topic.batches == [6]
    assert kept_claims.keys == {
        orders[5].order_no: {"order.paid", "order.ready#0"},
        orders[6].order_no: {"order.paid"},
        orders[7].order_no: {"order.paid", "order.ready#0"},
    }


def test_events_that_went_out_but_were_not_claimed_report_their_records(ports):
    orders, kept_claims = _orders(2), ports["claims"]
    kept_claims.failures = 1
    assert _keep_a_batch(orders).send() == {"seq-0", "seq-1"}
    assert len(ports["shop_events"].sent) == 4 and kept_claims.keys == {}


def test_a_batch_request_stays_within_sns_s_ten_messages_and_256_kib():
    def kept(kib: int) -> events._Kept:
        return events._Kept("o", f"k{kib}", "x" * (kib * 1024), {"event": "order.ready"}, "s")

    sizes = [
        [len(k.text) // 1024 for k in chunk]
        for chunk in events._requests([kept(100), kept(100), kept(100), kept(300), *[kept(1)] * 12])
    ]
    assert sizes == [[100, 100], [100], [300], [1] * 10, [1] * 2]


def test_reply_tokens_are_keyed_by_the_verification_secret(ports):
    token = reply_tokens.reply_token("O-1", "ver_1")
    assert (
        token == reply_tokens.reply_token("O-1", "ver_1") != reply_tokens.reply_token("O-1", "v2")
    )
    reply_tokens.forget()
    with wired(verification_secret=FakeSecret("t" * 40)):
        assert reply_tokens.reply_token("O-1", "ver_1") != token
    reply_tokens.forget()
    with (
        wired(verification_secret=FakeSecret("short")),
        pytest.raises(reply_tokens.VerificationSecretUnusable),
    ):
        reply_tokens.reply_token("O-1", "ver_1")


def test_channels_come_from_the_channels_secret_and_a_broken_one_says_why(ports):
    assert list(channels.all_channels()) == ["epay-main"]
    with pytest.raises(ChannelMisconfigured) as broken:
        channels.get_channel("broken")
    assert broken.value.details["type"] == "alipay" and broken.value.details["problems"]
    channels.forget()
    with wired(channels_secret=FakeSecret("{not json")):
        assert channels.all_channels() == {}
        with pytest.raises(ChannelMisconfigured, match="not JSON"):
            channels.get_channel("epay-main")


def test_a_ready_export_is_linked_through_the_files_port_on_the_services_clock(ports):
    record = ExportRecord(
        export_id="e1",
        kind="orders",
        format="csv",
        filters={},
        masked=True,
        requested_by="k1",
        created_at=AT,
        s3_key="exports/2026/11/25/orders-e1.csv",
    ).finished(3, AT)
    sink = ports["export_files"].open(record.s3_key, export_writer.CONTENT_TYPES["csv"])
    assert export_writer.write(sink, "csv", ["a"], iter([("1",), ("2",), ("3",)])) == 3
    content_type, body = ports["export_files"].objects[record.s3_key]
    assert content_type.startswith("text/csv") and body.decode("utf-8-sig").split() == [
        "a",
        "1",
        "2",
        "3",
    ]
    state = export_service._state(record)
    assert state.url == f"memory://{record.s3_key}?expires={export_service.LINK_SECONDS}"
    assert state.expires_at == AT + timedelta(seconds=export_service.LINK_SECONDS)
