"""The DynamoDB process's way from a request's bytes to moto's handler, without moto's server.

In a flash sale the DynamoDB process (local/aws_process.py) sits at its one core, and a fifth of
its time went to the way to moto's DynamoDB handler rather than to DynamoDB: Flask and moto's
dispatcher finding the service again for every request, moto's `setup_class` parsing the JSON
body as a query string and again against the service model, and its answer scanned for an XML
request id. A DynamoDB request is always the same shape — a POST whose X-Amz-Target names the
operation and whose body is its input as JSON — so `DynamoDBApplication` hands the hot
operations (`LEAN_OPERATIONS`) to moto's own handler directly, set up with what its operations
read (`_handler`), and passes anything else on to moto's application unchanged.

The input moto's model parse makes from JSON differs from `json.loads` where the model says blob
or timestamp, and in members the model does not know (dropped by the parse, never read by the
handlers); none of `LEAN_OPERATIONS`' inputs has a timestamp, and the only blobs are binary
attribute values (`B`, `BS`), so a body that has one (or any key so named) takes moto's way,
as does an empty body or one that is not a JSON object. A handler that fails raises to the server, as it does through
moto's application. tests/unit/local/test_dynamodb_wsgi.py sends the same history both ways.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.utilities.utils import get_partition
from werkzeug.datastructures import EnvironHeaders

LEAN_OPERATIONS = frozenset(
    {
        "DynamoDB_20120810.GetItem",
        "DynamoDB_20120810.PutItem",
        "DynamoDB_20120810.UpdateItem",
        "DynamoDB_20120810.DeleteItem",
        "DynamoDB_20120810.Query",
        "DynamoDB_20120810.BatchGetItem",
        "DynamoDB_20120810.BatchWriteItem",
        "DynamoDB_20120810.TransactWriteItems",
        "DynamoDB_20120810.ExecuteStatement",
        "DynamoDBStreams_20120810.GetRecords",
        "DynamoDBStreams_20120810.GetShardIterator",
    }
)
"""The operations a flash sale calls (bench/flash_sale.py's request counts) whose input, as the
model parses it, is its JSON: no timestamp, no blob but a binary attribute value."""

_BINARY_VALUE = re.compile(rb'"BS?"\s*:')


class DynamoDBApplication:
    """WSGI: the hot DynamoDB and DynamoDB Streams operations straight to moto's handler, every
    other request to `fallback` (moto's application), which sees it exactly as it came."""

    def __init__(self, fallback: Callable[..., Any]):
        self.fallback = fallback

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if (
            target not in LEAN_OPERATIONS
            or environ.get("REQUEST_METHOD") != "POST"
            or environ.get("HTTP_CONTENT_ENCODING")
        ):
            return self.fallback(environ, start_response)
        raw = _read_body(environ)
        params = lean_params(raw)
        if params is None:
            environ["wsgi.input"] = io.BytesIO(raw)
            return self.fallback(environ, start_response)
        status, headers, body = _handler(target, environ, raw, params).call_action()
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        sent = [(k, str(v)) for k, v in headers.items() if k != "status"]
        sent.append(("Content-Length", str(len(data))))
        start_response(f"{int(status)} {_reason(int(status))}", sent)
        return [data]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def lean_params(raw: bytes) -> dict[str, Any] | None:
    """The operation's input as moto's model parse would make it, or None where it would differ
    (a binary attribute value, decoded by the model from base64: any key named B or BS, to be
    safe) or the body is empty or not a JSON object (moto's way answers those its own way)."""
    if not raw or _BINARY_VALUE.search(raw):
        return None
    try:
        params = json.loads(raw)
    except ValueError:
        return None
    return params if isinstance(params, dict) else None


def _read_body(environ: dict) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data: bytes = environ["wsgi.input"].read(length) if length else b""
    return data


def _handler(target: str, environ: dict, raw: bytes, params: dict[str, Any]) -> Any:
    """moto's handler for `target`, set up as its `setup_class` would for this request, in the
    parts its DynamoDB and DynamoDB Streams operations read."""
    handler_class = DynamoHandler if target.startswith("DynamoDB_") else DynamoDBStreamsHandler
    handler = handler_class()
    handler.is_werkzeug_request = True  # the server writes the Date header
    handler.raw_body = raw
    handler.body = raw.decode("utf-8")
    handler.params = params
    handler.headers = EnvironHeaders(environ)
    handler.querystring = {}
    handler.data = {}
    handler.uri_match = {}
    handler.method = "POST"
    handler.path = handler.uri = environ.get("PATH_INFO") or "/"
    host = environ.get("HTTP_HOST") or "localhost"
    # moto's own rule (the URL, the User-Agent, the signature's scope), which reads `.headers`
    handler.region = handler.get_region_from_url(handler, f"http://{host}{handler.path}")
    handler.partition = get_partition(handler.region)
    handler.response_headers = {"server": "amazon.com"}
    handler.access_key = handler.get_access_key()
    handler.current_account = handler.get_current_account()
    return handler
