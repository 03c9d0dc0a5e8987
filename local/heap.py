"""The local stack's long-lived processes and Python's cyclic garbage collector.

A full collection walks every tracked object the process holds, holding the interpreter lock
throughout. The embedded DynamoDB keeps every item of the sale in its heap, so its full
collections grew with the sale: in ten minutes at 20 pairs a second it ran one every ten
seconds, each stopping every DynamoDB request for 160–330 ms (the API's process and the
pumps', up to 280 and 240 ms), which lands in the answers' tail (docs/internals.md, "Then:
the collector's pauses"). In AWS the data lives in DynamoDB, not in any Lambda's heap. So
each process, once started, puts what it holds out of the collector's reach (`gc.freeze`), and
again after every full collection what survived it: a full collection then walks only what
became long-lived since the last one.

Frozen objects are still freed when their last reference goes, like any other; what a freeze
keeps for good is only a reference cycle that was alive when it was frozen and dies later (the
bench's memory per order counts it).
"""

from __future__ import annotations

import gc
from typing import Any

OLDEST_GENERATION = 2  # the one a full collection collects


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] == OLDEST_GENERATION:
        gc.freeze()


def freeze_long_lived_objects() -> None:
    """Collect, freeze what is left, and freeze the survivors of every full collection from
    now on. Call once the process has started (its modules and service models loaded)."""
    gc.collect()
    gc.freeze()
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)
