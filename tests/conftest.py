"""Test-wide environment: fake AWS credentials, a fixed region, and no endpoint override, so no
test can talk to a running local stack or a real account by accident (STACK.md); and in-process
moto writes DynamoDB's item values straight to the wire (tests/support/moto_state.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import moto_state

REPO = Path(__file__).resolve().parents[1]

for _name in (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
    "AWS_PROFILE",
):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "ap-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "PAYTRACK_STAGE": "test",
        "PAYTRACK_NOTICE_REPAIR_AFTER_S": "0",  # crash repair at once (tests/integration/test_streams.py waits)
        "POWERTOOLS_METRICS_NAMESPACE": "Paytrack",
        "POWERTOOLS_DEV": "false",
    }
)

moto_state.serialize_attribute_values_directly()

#: Files that share a package- or session-scoped fixture costing seconds to set up: `make test`
#: (`--dist loadfile`) hands each set to one xdist worker as one unit, so the fixture is set up
#: once (pytest_xdist_make_scheduler below). Handed out file by file, the e2e `stack` was started
#: in both workers and again each time a worker came back to tests/e2e from another package;
#: `made` packages and lints both stages for two files (tests/support/packaging.py). Under xdist
#: the workers check that each file using one is listed (_check_shared_units).
SHARED_UNITS = {
    "stack": (
        "tests/e2e/test_admin_page.py",
        "tests/e2e/test_anomalies.py",
        "tests/e2e/test_api_fuzz.py",
        "tests/e2e/test_http_edge_stack.py",
        "tests/e2e/test_local_stack.py",
        "tests/e2e/test_review_page.py",
        "tests/e2e/test_review_stack.py",
    ),
    "made": ("tests/integration/test_deploy.py", "tests/integration/test_infra.py"),
}
UNIT_OF_FILE = {path: unit for unit, paths in SHARED_UNITS.items() for path in paths}

#: The longest units (a shared fixture's files, or one file), longest first, as measured
#: (docs/internals.md, "Tests and benchmarks"). Units go to the workers in collection order
#: (`--no-loadscope-reorder`: xdist's own order, by number of tests, would start the one- to
#: four-test files last and leave one worker running a sweep alone at the end).
LONGEST_FIRST = (
    "stack",
    "tests/e2e/test_concurrency.py",
    "tests/integration/test_hostile_api.py",
    "made",
    "tests/faults/test_action_faults.py",
    "tests/faults/test_verification_faults.py",
    "tests/integration/test_hostile_notify.py",
    "tests/integration/test_order_search.py",
    "tests/e2e/test_reconcile_stack.py",
    "tests/faults/test_job_faults.py",
    "tests/integration/test_reconcile.py",
    "tests/integration/test_anomaly_engine.py",
    "tests/faults/test_stream_faults.py",
    "tests/faults/test_ingest_faults.py",
    "tests/faults/test_export_faults.py",
    "tests/e2e/test_own_channels.py",
)


def _unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return UNIT_OF_FILE.get(path, path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile` with SHARED_UNITS: each set of files one unit, every other file its own.
    (`--dist loadgroup` would do it with xdist_group marks, but xdist 3.8 tags a test's group
    onto `item._nodeid`, which pytest 9 no longer reads: every test became a unit of its own.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedFixtureScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    return SharedFixtureScheduling(config, log)


def _shared_fixture(item) -> str | None:
    """The shared fixture this test uses, if any: a fixture of that name with a narrower scope
    (a file's own `stack`) is not the shared one."""
    for name in SHARED_UNITS:
        definitions = item._fixtureinfo.name2fixturedefs.get(name)
        if definitions and definitions[-1].scope in ("package", "session"):
            return name
    return None


def _check_shared_units(items) -> None:
    """Every file whose tests use a shared fixture is listed under it in SHARED_UNITS (unlisted,
    it would be set up again in whichever worker got the file)."""
    for item in items:
        shared, path = _shared_fixture(item), item.nodeid.split("::", 1)[0]
        if shared and UNIT_OF_FILE.get(path) != shared:
            raise pytest.UsageError(
                f"{path} uses the shared fixture `{shared}`: list it under {shared!r} in "
                "tests/conftest.py SHARED_UNITS"
            )


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, the longest units first (a stable sort: each file keeps its order)."""
    if not hasattr(config, "workerinput"):
        return
    _check_shared_units(items)
    rank = {unit: place for place, unit in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_unit(item.nodeid), len(rank)))
