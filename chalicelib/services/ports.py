"""The ports the services reach the world through, wired once per process: each a small
Protocol with the real implementation by default, so every Lambda handler uses the real ones.
A test sets its own for a block (`with ports.use(clock=fake): …`); nothing else changes them.

| port | protocol | real |
|---|---|---|
| clock | domain/clock.Clock | SystemClock |
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from ..domain.clock import SYSTEM_CLOCK, Clock


@dataclass
class _Wiring:
    clock: Clock = SYSTEM_CLOCK


_wired = _Wiring()


def clock() -> Clock:
    """The clock services read the time from."""
    return _wired.clock


@contextmanager
def use(*, clock: Clock | None = None) -> Iterator[None]:
    """The given ports instead of the wired ones for the block (tests); restored after it."""
    global _wired
    saved = _wired
    _wired = replace(saved, **{k: v for k, v in {"clock": clock}.items() if v is not None})
    try:
        yield
    finally:
        _wired = saved
