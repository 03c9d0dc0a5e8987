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


def _capture() -> list[tuple[Any, str, str, Any]]:
    return [
        (backends, account, region, copy.deepcopy(backend))
        for backends in list(BackendDict._instances)
        for account, regions in list(backends.items())
        for region, backend in list(regions.items())
    ]


def _restore(snapshot: list[tuple[Any, str, str, Any]]) -> None:
    for backends, account, region, backend in snapshot:
        dict.__setitem__(backends[account], region, copy.deepcopy(backend))


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
