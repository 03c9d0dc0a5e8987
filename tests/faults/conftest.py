"""The fault-injection suite's world: one moto per module (cases are told apart by fresh order
numbers and per-case products), the app behind chalice.test.Client, every stream consumer fed
from its stream, the shop's event inbox, and the injector on every botocore call."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.conftest import Api, chalice_client, provisioned_aws
from tests.support import faults


@dataclass
class World:
    api: Api
    client: Any
    injector: faults.Injector
    streams: faults.Streams
    inbox: faults.ShopInbox

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
                    found[name[len(prefix):]] = found.get(name[len(prefix):], 0) + value
        return found


@pytest.fixture(scope="module")
def world():
    from chalicelib.platform.settings import get_settings

    with provisioned_aws(), chalice_client() as client, faults.installed() as injector:
        streams = faults.Streams()
        inbox = faults.ShopInbox(get_settings().events_topic_arn)
        yield World(Api(client), client, injector, streams, inbox)


def pytest_terminal_summary(terminalreporter):
    if not faults.SWEEPS:
        return
    terminalreporter.section("fault injection")
    for result in faults.SWEEPS:
        state = "all invariants held" if not result.failures else f"{len(result.failures)} broke an invariant"
        terminalreporter.write_line(f"{result.name:<40} {result.cases:>4} cases  {state}")
    total = sum(r.cases for r in faults.SWEEPS)
    broken = sum(len(r.failures) for r in faults.SWEEPS)
    terminalreporter.write_line(f"{'total (use case x failure point)':<40} {total:>4} cases  {broken} broken")
