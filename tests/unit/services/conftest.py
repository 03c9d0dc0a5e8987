"""Service tests on in-memory ports: a world of fakes (tests/support/fakes.py) for a test that
asks for it, and for every test here no AWS at all — a call that escapes its port fails at once
instead of reaching for an endpoint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import botocore.client
import pytest
from pynamodb.connection.base import Connection

from chalicelib.platform.observability import correlated, flush_metrics
from chalicelib.services import channels, reply_tokens
from tests.support.clock import FakeClock
from tests.support.fakes import (
    FakeGateways,
    FakeSecret,
    FakeTopic,
    MemoryAnomalies,
    MemoryAudit,
    MemoryClaims,
    MemoryKeys,
    MemoryNotices,
    MemoryOrders,
    MemoryPending,
    MemoryTrades,
    MemoryWindows,
    ScriptedGateway,
    wired,
)
from tests.support.notifications import CHANNELS

AT = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


class EscapedPort(AssertionError):
    """A service reached AWS past its ports."""


@pytest.fixture(autouse=True)
def no_aws(monkeypatch):
    def refuse(*args, **kwargs):
        raise EscapedPort("an AWS call in a test on fakes: route it through a port")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refuse)
    monkeypatch.setattr(Connection, "_make_api_call", refuse)


@dataclass
class World:
    clock: FakeClock
    orders: MemoryOrders
    notices: MemoryNotices
    audit: MemoryAudit
    api_keys: MemoryKeys
    pending: MemoryPending
    gateway: ScriptedGateway  # what the epay channel's gateway answers
    gateways: FakeGateways
    anomalies: MemoryAnomalies
    shop_events: FakeTopic


@pytest.fixture
def world():
    """Every port the order use cases reach, a fake: a standing clock, the repositories, the
    epay channel of the local stack (its notifications are built by tests/support/notifications)
    and its gateway, answering from a script. Like an invocation, the test's log keys end with it
    and its metrics are flushed after it."""
    orders, notices, gateway = MemoryOrders(), MemoryNotices(), ScriptedGateway()
    found = World(
        FakeClock(AT),
        orders,
        notices,
        MemoryAudit(),
        MemoryKeys(),
        MemoryPending(orders),
        gateway,
        FakeGateways(gateway),
        MemoryAnomalies(),
        FakeTopic(),
    )
    channels.forget()
    reply_tokens.forget()
    with (
        correlated(),
        wired(
            clock=found.clock,
            orders=found.orders,
            notices=found.notices,
            audit=found.audit,
            api_keys=found.api_keys,
            pending=found.pending,
            gateways=found.gateways,
            trades=MemoryTrades(orders, notices),
            windows=MemoryWindows(orders),
            channels_secret=FakeSecret(json.dumps({"epay-main": CHANNELS["epay-main"]})),
            verification_secret=FakeSecret("s" * 40),
            shop_events=found.shop_events,
            anomalies=found.anomalies,
            claims=MemoryClaims(),
        ),
    ):
        yield found
    flush_metrics()
    channels.forget()
    reply_tokens.forget()
