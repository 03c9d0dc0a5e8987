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
