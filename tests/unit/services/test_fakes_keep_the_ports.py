"""Each repository's fake (and the gateways') offers what its port's Protocol declares, with the same parameters, and
a port is the test's own inside `ports.use` and its real (the store module) outside it. (What
the fakes answer is held to the real tables by tests/integration/test_repository_fakes.py.)"""

from __future__ import annotations

import inspect

import pytest

from chalicelib.services import gateway_calls, ports
from chalicelib.store import anomalies, audit, claims, keys, lookup, notices, orders, pending
from tests.support.fakes import (
    FakeGateways,
    MemoryAnomalies,
    MemoryAudit,
    MemoryClaims,
    MemoryKeys,
    MemoryNotices,
    MemoryOrders,
    MemoryPending,
    MemoryTrades,
    MemoryWindows,
)

REPOSITORIES = [
    ("orders", ports.orders, ports.Orders, MemoryOrders, orders),
    ("notices", ports.notices, ports.Notices, MemoryNotices, notices),
    ("audit", ports.audit, ports.Audit, MemoryAudit, audit),
    ("api_keys", ports.api_keys, ports.ApiKeys, MemoryKeys, keys),
    ("claims", ports.claims, ports.Claims, MemoryClaims, claims),
    ("trades", ports.trades, ports.Trades, MemoryTrades, lookup),
    ("pending", ports.pending, ports.Pending, MemoryPending, pending),
    ("gateways", ports.gateways, ports.Gateways, FakeGateways, gateway_calls),
    ("anomalies", ports.anomalies, ports.Anomalies, MemoryAnomalies, anomalies),
    ("windows", ports.windows, ports.OrderWindows, MemoryWindows, orders),
]


def _methods(protocol: type) -> list[str]:
    return sorted(
        name for name, value in vars(protocol).items() if callable(value) and name[0] != "_"
    )


def _parameters(function) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]


@pytest.mark.parametrize(
    "protocol, fake, real",
    [entry[2:] for entry in REPOSITORIES],
    ids=[entry[0] for entry in REPOSITORIES],
)
def test_the_fake_and_the_store_module_offer_what_the_protocol_declares(protocol, fake, real):
    assert _methods(protocol)
    for name in _methods(protocol):
        declared = _parameters(getattr(protocol, name))
        assert _parameters(getattr(fake, name)) == declared, name
        assert _parameters(getattr(real, name))[: len(declared)] == declared, name


@pytest.mark.parametrize(
    "name, lookup, fake, real",
    [(entry[0], entry[1], entry[3], entry[4]) for entry in REPOSITORIES],
    ids=[entry[0] for entry in REPOSITORIES],
)
def test_a_repository_port_is_the_tests_own_only_inside_use(name, lookup, fake, real):
    own = fake()
    assert lookup(real) is real
    with ports.use(**{name: own}):
        assert lookup(real) is own
    assert lookup(real) is real
