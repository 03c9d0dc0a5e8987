"""The local stack's processes keep what they hold out of full collections (local/heap.py): the
embedded DynamoDB's heap holds the whole sale, and every full collection that walked it stopped
every DynamoDB request for a fifth of a second."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from local import heap


class Node:
    """A tracked object that can be weakly referenced (to see it freed) and form cycles."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def frozen() -> Iterator[None]:
    """The policy on, and the collector as it was afterwards (the test process is shared)."""
    heap.freeze_long_lived_objects()
    yield
    gc.callbacks.remove(heap._freeze_survivors)
    gc.unfreeze()


def _is_frozen(obj: object) -> bool:
    """Whether a full collection walks `obj` no more: it is in none of the three generations."""
    return not any(obj is tracked for tracked in gc.get_objects())


def test_what_the_process_holds_at_start_is_frozen(frozen) -> None:
    assert gc.get_freeze_count() > 0
    assert _is_frozen(heap)


def test_what_survives_a_full_collection_is_frozen_and_young_objects_are_not(frozen) -> None:
    survivor = Node()
    assert not _is_frozen(survivor)

    gc.collect(1)  # not a full collection: nothing more is frozen
    assert not _is_frozen(survivor)

    gc.collect()
    assert _is_frozen(survivor)
    assert not _is_frozen(Node())


def test_a_frozen_object_is_still_freed_when_its_last_reference_goes(frozen) -> None:
    item = Node()
    gc.collect()
    freed = weakref.ref(item)
    assert _is_frozen(item)

    del item
    assert freed() is None


def test_garbage_cycles_are_still_collected_when_they_die_young(frozen) -> None:
    first, second = Node(), Node()
    first.other, second.other = second, first
    freed = weakref.ref(first)
    del first, second

    gc.collect()
    assert freed() is None


def test_starting_the_policy_twice_freezes_once_per_full_collection(frozen) -> None:
    heap.freeze_long_lived_objects()
    assert gc.callbacks.count(heap._freeze_survivors) == 1
