"""The fault-injection suite's world: one moto per module, put back before every case of a sweep
to what the test set up for it (`World.checkpoint`: the order to crash on is set up once, and no
case pays for what the cases before it wrote), the app behind chalice.test.Client, every stream
consumer fed from its stream, the shop's event inbox, and the injector on every botocore call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from local.simulator import GatewaySimulator
from tests.integration.conftest import Api, chalice_client, provisioned_aws
from tests.support import faults, moto_state


@dataclass
class World:
    api: Api
    client: Any
    injector: faults.Injector
    streams: faults.Streams
    inbox: faults.ShopInbox

    def checkpoint(self, *simulators: GatewaySimulator) -> Callable[[], None]:
        """The world as it is now, to be put back before each case of a sweep (`faults.sweep`'s
        `fresh`): every moto backend, where each stream tap reads next, the messages the shop
        has received, and the trade book of each simulator given. What a test set up before its
        checkpoint (an order paid, held, asked about) is there again, as it was, for every case;
        what a case wrote is gone before the next one."""
        position = self.streams.position()
        self.inbox.of("")
        received = list(self.inbox.received)
        restore = moto_state.checkpoint()
        books = [(sim.book, sim.book.snapshot()) for sim in simulators]
        self.streams.reopen(position)

        def fresh() -> None:
            self.inbox.of("")  # the last case's messages leave the queue (SQS stays live)
            self.inbox.received[:] = received
            restore()
            self.streams.reopen(position)
            for book, state in books:
                book.restore(state)

        return fresh

    def counters(self, product_id: str) -> dict[str, int]:
        """The stats counters of one product (each case registers its own), over the shop days
        its order may count in (a case may run across midnight)."""
        from chalicelib.platform.settings import get_settings
        from chalicelib.store import stats as stats_store

        now = datetime.now(ZoneInfo(get_settings().shop_timezone))
        days = [(now - timedelta(days=back)).strftime("%Y-%m-%d") for back in (1, 0)]
        prefix, found = f"product:{product_id}|", {}
        for counters in stats_store.read(days).values():
            for name, value in counters.items():
                if name.startswith(prefix):
                    found[name[len(prefix) :]] = found.get(name[len(prefix) :], 0) + value
        return found


@pytest.fixture(scope="module")
def world():
    from chalicelib.platform.settings import get_settings

    with provisioned_aws(), chalice_client() as client, faults.installed() as injector:
        streams = faults.Streams()
        inbox = faults.ShopInbox(get_settings().events_topic_arn)
        yield World(Api(client), client, injector, streams, inbox)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """The sweeps a test ran travel on its report (under pytest-xdist the summary is printed by
    the controller, which ran no test itself)."""
    outcome = yield
    if call.when == "call":
        report = outcome.get_result()
        report.user_properties += [
            ("sweep", (r.name, r.cases, len(r.failures))) for r in faults.SWEEPS
        ]
        faults.SWEEPS.clear()


def pytest_terminal_summary(terminalreporter):
    sweeps = [
        value
        for report in terminalreporter.getreports("passed") + terminalreporter.getreports("failed")
        for name, value in getattr(report, "user_properties", [])
        if name == "sweep"
    ]
    if not sweeps:
        return
    terminalreporter.section("fault injection")
    for name, cases, broken in sweeps:
        state = "all invariants held" if not broken else f"{broken} broke an invariant"
        terminalreporter.write_line(f"{name:<40} {cases:>4} cases  {state}")
    total, broken = sum(s[1] for s in sweeps), sum(s[2] for s in sweeps)
    terminalreporter.write_line(
        f"{'total (use case x failure point)':<40} {total:>4} cases  {broken} broken"
    )
