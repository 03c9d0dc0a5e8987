"""boto3 clients of a moto server the tests started (the embedded AWS's processes, a cheroot
server in the test's own process), with test credentials in the stack's region."""

from __future__ import annotations

from typing import Any

import boto3


def client_of(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="ap-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
    )
