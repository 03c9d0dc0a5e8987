"""Services on in-memory ports (tests/support/fakes.py, tests/support/clock.py): no moto, no
network, milliseconds each. The events' publish-then-claim order, the verification secret and
the channels secret read through their ports, an export written and linked through its port.
(The real SNS, S3 and Secrets Manager calls are proven on moto by the integration tests.)"""

from __future__ import annotations

import json
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
