"""Loaded by the schemathesis run in test_api_fuzz.py (SCHEMATHESIS_HOOKS): a check that every
error of our API, whatever schemathesis sent, is in API.md's shape."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import schemathesis

#: /notify answers in each gateway's own protocol, not in ours
GATEWAY_PROTOCOL_PREFIX = "/notify/"


@schemathesis.check
def error_shape(ctx, response, case) -> None:
    """A 4xx or 5xx outside /notify is `{"error": {"code": <text>, ...}}` served as JSON."""
    if response.status_code < 400 or urlsplit(response.request.url).path.startswith(
        GATEWAY_PROTOCOL_PREFIX
    ):
        return
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), (
        response.headers
    )
    body = json.loads(response.content)
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert isinstance(body["error"].get("code"), str) and body["error"]["code"], body
