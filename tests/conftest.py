"""Test-wide environment: fake AWS credentials, a fixed region, and no endpoint override, so no
test can talk to a running local stack or a real account by accident (STACK.md); and in-process
moto writes DynamoDB's item values straight to the wire (tests/support/moto_state.py)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support import moto_state

REPO = Path(__file__).resolve().parents[1]

for _name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
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
        "POWERTOOLS_METRICS_NAMESPACE": "Paytrack",
        "POWERTOOLS_DEV": "false",
    }
)

moto_state.serialize_attribute_values_directly()

#: The longest files, longest first, as measured (docs/internals.md, "Tests and benchmarks").
#: `make test` hands whole files to the xdist workers (`--dist loadfile`) in collection order
#: (`--no-loadscope-reorder`: xdist's own order, by number of tests, would start these one- to
#: four-test files last and leave one worker running a sweep alone at the end).
LONGEST_FIRST = (
    "tests/e2e/test_concurrency.py",
    "tests/e2e/test_admin_page.py",
    "tests/e2e/test_api_fuzz.py",
    "tests/integration/test_hostile_api.py",
    "tests/faults/test_verification_faults.py",
    "tests/faults/test_action_faults.py",
    "tests/e2e/test_reconcile_stack.py",
    "tests/integration/test_deploy.py",
    "tests/e2e/test_local_stack.py",
    "tests/e2e/test_review_page.py",
    "tests/integration/test_infra.py",
    "tests/faults/test_job_faults.py",
    "tests/integration/test_hostile_notify.py",
    "tests/faults/test_stream_faults.py",
    "tests/faults/test_ingest_faults.py",
    "tests/faults/test_export_faults.py",
    "tests/e2e/test_own_channels.py",
)


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, the longest files first (a stable sort: each file keeps its order)."""
    if not hasattr(config, "workerinput"):
        return
    rank = {path: place for place, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
