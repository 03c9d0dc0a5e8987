"""The gateway simulator for integration tests: started on a free port with the stage's channels
pointed at it (real HTTP: queries and statements go over the wire), plus a helper to fire the
scheduled handlers with real CloudWatch schedule events. (Orders are aged by moving the services'
clock: tests/support/clock.py.)"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import local.sim
from local.bootstrap import point_channels_at_simulator
from local.sim import base as sim_base
from local.simulator import GatewaySimulator

CURRENCY = {"alipay-main": "CNY", "wxpay-main": "CNY", "epay-main": "CNY", "stripe-main": "USD"}
NOWHERE = "http://127.0.0.1:9"  # notifications are sent by the tests themselves, when wanted


def start_simulator() -> GatewaySimulator:
    simulator = GatewaySimulator.from_files(NOWHERE, time_scale=1 / 2400)
    point_channels_at_simulator(simulator.start_server(port=0).port)
    return simulator


#: how far ahead `statements_ahead` puts the statements' clock: past the current whole second
AHEAD = timedelta(seconds=1.1)


def statements_ahead(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """The simulator makes its statements as if asked `AHEAD` from now, and that moment is
    returned for the caller's own `now`: a statement of today covers whole seconds up to when it
    is made, so what was just paid is in it without waiting for the clock to pass a second.
    (Each gateway type's module holds the simulator's clock `_now` under its own name.)"""

    def ahead() -> datetime:
        return datetime.now(UTC) + AHEAD

    clock = sim_base._now
    for module in [
        sim_base,
        *(sys.modules[cls.__module__] for cls in local.sim.GATEWAY_TYPES.values()),
    ]:
        if getattr(module, "_now", None) is clock:
            monkeypatch.setattr(module, "_now", ahead)
    return datetime.now(UTC) + AHEAD


def fire_schedule(client: Any, handler: str) -> dict[str, Any]:
    """Invoke a scheduled handler as EventBridge does, with a real scheduled event."""
    event = client.events.generate_cw_event(
        source="aws.events",
        detail_type="Scheduled Event",
        detail={},
        resources=[f"arn:aws:events:ap-east-1:123456789012:rule/paytrack-test-{handler}"],
        region="ap-east-1",
    )
    return client.lambda_.invoke(handler, event).payload
