"""The services' ports: the system's by default, a test's own for a block, restored after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain.clock import SYSTEM_CLOCK
from chalicelib.services import ports
from tests.support.clock import FakeClock, wired

AT = datetime(2026, 11, 25, 8, tzinfo=UTC)


def test_the_services_read_the_wired_clock_and_get_the_system_one_back():
    assert ports.clock() is SYSTEM_CLOCK
    fake = FakeClock(AT)
    with wired(fake):
        assert ports.clock().now() == AT  # a standing clock stands
        assert fake.advance(minutes=2) == ports.clock().now() == AT + timedelta(minutes=2)
        fake.set(AT)
        assert ports.clock().now() == AT
    assert ports.clock() is SYSTEM_CLOCK


def test_a_running_fake_is_the_systems_time_moved():
    fake = FakeClock()
    fake.advance(hours=25)
    assert fake.now() - datetime.now(UTC) > timedelta(hours=24, minutes=59)
