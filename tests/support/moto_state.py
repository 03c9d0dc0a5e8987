"""The provisioned stage on in-process moto, provisioned once per process and restored per test.

Provisioning (eight tables with streams and TTL, the bucket and its lifecycle, the topics, the
secrets, the bootstrap keys) costs hundreds of milliseconds of botocore and moto work; restoring
the backends it left costs a few. The first `provisioned()` of a process provisions for real and
keeps a deep copy of every moto backend it filled; every later one starts from a moto reset
(what `mock_aws()` does on entry) and puts fresh deep copies of those backends back. A test sees
exactly what a fresh provisioning gives it — nothing written by an earlier test survives — only
the random verification secret is the same for every test of a process.

The copy is keyed by the settings and the table names, so a test that changes the stage's
names gets a provisioning of its own.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto import mock_aws
from moto.core.base_backend import BackendDict

#: settings fingerprint -> [(service backends, account, region, the backend as provisioned)]
_SNAPSHOTS: dict[str, list[tuple[Any, str, str, Any]]] = {}


def _fingerprint() -> str:
    from chalicelib.platform.settings import get_settings
    from chalicelib.store.models import ALL_MODELS

    return repr((get_settings(), [model.Meta.table_name for model in ALL_MODELS]))


def _capture(keep_live: tuple[str, ...] = ()) -> list[tuple[Any, str, str, Any]]:
    return [
        (backends, account, region, copy.deepcopy(backend))
        for backends in list(BackendDict._instances)  # type: ignore[misc]
        if backends.service_name not in keep_live
        for account, regions in list(backends.items())
        for region, backend in list(regions.items())
    ]


def _restore(snapshot: list[tuple[Any, str, str, Any]]) -> None:
    for backends, account, region, backend in snapshot:
        dict.__setitem__(backends[account], region, copy.deepcopy(backend))


def checkpoint() -> Callable[[], None]:
    """Keep a copy of every moto backend as it is now; the function returned puts them back.

    SQS is left live: a queue that has been read holds a lock, which does not copy (a reader
    tells its messages apart by what they name). The DynamoDB stream shard iterators handed out so far are dropped first (a copy of one
    would point at its own copy of its table, not at the table put back): stream readers take
    new ones after the checkpoint and after each restore."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    for regions in dynamodbstreams_backends.values():
        for backend in regions.values():
            backend.shard_iterators.clear()
    snapshot = _capture(keep_live=("sqs",))
    return lambda: _restore(snapshot)


@contextmanager
def provisioned(provision: Callable[[], None]) -> Iterator[None]:
    """A fresh moto holding what `provision()` creates (run for real once per fingerprint)."""
    with mock_aws():
        key = _fingerprint()
        if key in _SNAPSHOTS:
            _restore(_SNAPSHOTS[key])
        else:
            provision()
            _SNAPSHOTS[key] = _capture()
        yield


# ------------------------------------------------------------------ DynamoDB answers, serialized directly

#: the members of DynamoDB's AttributeValue, in the order of its shape (and so of moto's output)
_ATTRIBUTE_MEMBERS = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
_MEMBER_SET = frozenset(_ATTRIBUTE_MEMBERS)
_ATTRIBUTE_SERVICES = ("dynamodb", "dynamodbstreams")


def _string(value: Any) -> Any:
    return str(value) if value not in (None, {}, []) else value


def _blob(value: str | bytes) -> str:
    return base64.b64encode(value.encode("utf-8") if isinstance(value, str) else value).decode()


class _NotPlain(Exception):
    """A value that is not an AttributeValue tree as moto's models give it: moto writes it."""


def _attribute_value(value: Any) -> dict[str, Any]:
    """One AttributeValue as moto's shape walk writes it (same keys, same order, same values)."""
    if not isinstance(value, dict) or not value.keys() <= _MEMBER_SET:
        raise _NotPlain
    wire: dict[str, Any] = {}
    for member in _ATTRIBUTE_MEMBERS:
        item = value.get(member)
        if item is None:
            continue
        if member in ("S", "N"):
            wire[member] = _string(item)
        elif member == "B":
            wire[member] = _blob(item)
        elif member in ("SS", "NS"):
            wire[member] = [_string(v) for v in item]
        elif member == "BS":
            wire[member] = [_blob(v) for v in item]
        elif member == "M":
            if not isinstance(item, dict):
                raise _NotPlain
            wire[member] = {k: _attribute_value(v) for k, v in item.items()}
        elif member == "L":
            if not isinstance(item, list):
                raise _NotPlain
            wire[member] = [_attribute_value(v) for v in item]
        else:
            wire[member] = item
    return wire


def serialize_attribute_values_directly() -> None:
    """Let moto write DynamoDB's AttributeValues without its generic shape walk.

    moto 5.2 serializes every answer by walking the operation's output shape member by member,
    trying each member's aliases on the value: a paid order (a few dozen attributes, a timeline)
    costs some 30 ms per GetItem, UpdateItem (ALL_NEW) or stream record, about half of the CPU
    of the fault sweeps. An AttributeValue tree is already in its wire form in moto's models, so
    it is written here as that walk would write it (tests/unit/test_moto_state.py compares the
    two on every type); anything else, and every other service, still goes through moto."""
    from moto.core.serialize import BaseJSONSerializer

    walk = BaseJSONSerializer._serialize
    if getattr(walk, "direct_attribute_values", False):
        return

    def _serialize(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            key
            and shape.name == "AttributeValue"
            and self.service_model.service_name in _ATTRIBUTE_SERVICES
            and not getattr(self._value_picker, "response_transformers", None)
        ):
            try:
                serialized[key] = _attribute_value(value)
                return
            except _NotPlain:
                pass
        walk(self, serialized, value, shape, key)

    _serialize.direct_attribute_values = True  # type: ignore[attr-defined]
    _serialize.walk = walk  # type: ignore[attr-defined]
    BaseJSONSerializer._serialize = _serialize  # type: ignore[method-assign]
