"""X-Ray tracing through Powertools' Tracer, on Lambda only.

On Lambda (the template turns active tracing on) the first traced block creates the Tracer, which
patches botocore: every DynamoDB (PynamoDB goes through botocore), S3, SNS and Secrets Manager call
becomes a subsegment. `traced(name, **annotations)` adds our own: each invocation (annotated with
its correlation id and cold start) and each gateway call (`gateway <what>`; the `requests` library
is not patched, because X-Ray would record URLs and epay's carry the merchant key).

Anywhere else — tests, chalice local, the local stack, or with POWERTOOLS_TRACE_DISABLED=true —
`traced` does nothing and the X-Ray SDK is never imported: a cold start or a test run does not
pay for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

_TRUTHY = {"1", "true", "yes", "on"}


def tracing_enabled() -> bool:
    """On Lambda's own runtime (not SAM's or chalice's emulators), unless disabled by setting."""
    on_lambda = os.environ.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_")
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in _TRUTHY
    return on_lambda and not disabled


@cache
def tracer() -> Any:
    """The process's Powertools Tracer (botocore patched; its service is POWERTOOLS_SERVICE_NAME),
    or None where tracing is off."""
    if not tracing_enabled():
        return None
    from aws_lambda_powertools import Tracer  # loads the X-Ray SDK: on Lambda only

    return Tracer(patch_modules=["botocore"])


@contextmanager
def traced(name: str, **annotations: str | bool | int | None) -> Iterator[None]:
    """A subsegment `name` around the block, with the annotations that are not None (searchable
    in X-Ray: `annotation.correlation_id = "…"`)."""
    active = tracer()
    if active is None:
        yield
        return
    with active.provider.in_subsegment(name) as subsegment:
        for key, value in annotations.items():
            if value is not None:
                subsegment.put_annotation(key, value)
        yield
