"""A settable clock for tests (domain/clock.Clock), wired in place of the system clock for the
services (services/ports.py) while a test runs: `advance(minutes=2)` ages every order, refund and
verification by two minutes instead of rewriting what is stored."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from chalicelib.services import ports


class FakeClock:
    """The system's time moved by `advance`, or, given `at`, a time that stands still there
    until moved (`set`, `advance`)."""

    def __init__(self, at: datetime | None = None) -> None:
        self._at = at
        self._ahead = timedelta()

    def now(self) -> datetime:
        return (self._at or datetime.now(UTC)) + self._ahead

    def advance(self, **by: float) -> datetime:
        """Move on (`minutes=2`, `days=1`, …); returns the time it is now."""
        self._ahead += timedelta(**by)
        return self.now()

    def set(self, at: datetime) -> None:
        self._at, self._ahead = at, timedelta()


@contextmanager
def wired(fake: FakeClock) -> Iterator[FakeClock]:
    """`fake` as the services' clock for the block."""
    with ports.use(clock=fake):
        yield fake
