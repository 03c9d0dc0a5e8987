"""The HTTP edge (chalicelib/web.py): every answer in API.md's error shape — hostile bodies and
parameters are 400s, Chalice's own 405/415 and unknown paths are mapped, and anything unexpected
is one logged 500 `internal_error` with a request id (a gateway's failure answer on /notify), or,
when AWS is briefly unable to serve, a 503 `service_unavailable` to retry after."""

from __future__ import annotations

import base64
import json
from datetime import date
from urllib.parse import urlencode

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pynamodb.exceptions import PutError

from chalicelib import openapi
from chalicelib.services import admin, ingest
from chalicelib.store import orders as order_store
from tests.integration.conftest import ADMIN_KEY, SHOP_KEY, Api, chalice_client, provisioned_aws
from tests.integration.test_role_matrix import PATH_VALUES
from tests.support import notifications as wires


@pytest.fixture(scope="module")
def module_api():
    """One stage for the module: these requests change nothing (each is refused)."""
    with provisioned_aws(), chalice_client() as client:
        yield Api(client)


@pytest.fixture
def api(module_api):
    return module_api


def _operations():
    for path, operations in openapi.document()["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path.format(**PATH_VALUES, channel="alipay-main"), operation


JSON_ROUTES = [
    (m, p)
    for m, p, op in _operations()
    if op.get("x-role") and "application/json" in op.get("requestBody", {}).get("content", {})
]
TIME_PARAMS = [
    (p, param["name"])
    for m, p, op in _operations()
    if m == "GET" and op.get("x-role")
    for param in op.get("parameters", [])
    if param["in"] == "query" and param["schema"].get("format") in ("date-time", "date")
]
LIMIT_ROUTES = [
    p
    for m, p, op in _operations()
    if m == "GET"
    and op.get("x-role")
    and any(param["name"] == "limit" for param in op.get("parameters", []))
]
QUERY_PARAMS = [
    (p, param["name"])
    for m, p, op in _operations()
    if m == "GET" and op.get("x-role")
    for param in op.get("parameters", [])
    if param["in"] == "query"
]

HOSTILE_BODIES = {
    "nested arrays": b"[" * 60_000,
    "nested objects": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "nested past our depth": json.dumps(json.loads("[" * 40 + "]" * 40)).encode(),
    "5,000-digit integer": b'{"quantity": ' + b"9" * 5000 + b"}",
    "huge float": b'{"quantity": 1e999}',
    "NaN": b'{"quantity": NaN}',
    "not UTF-8": b'{"name": "\xff\xfe"}',
    "lone surrogate": b'{"name": "\\ud800"}',
}


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.body[:300]
    error = json.loads(response.body)["error"]
    assert (
        isinstance(error["code"], str)
        and isinstance(error["message"], str)
        and isinstance(error["details"], dict)
    )
    assert code is None or error["code"] == code
    return error


def test_the_tables_cover_every_route_kind():
    assert len(JSON_ROUTES) >= 8 and ("POST", "/orders") in JSON_ROUTES
    assert {p for p, _ in TIME_PARAMS} >= {
        "/admin/orders",
        "/admin/anomalies",
        "/admin/audit",
        "/admin/stats",
    }
    assert set(LIMIT_ROUTES) == {
        "/admin/orders",
        "/admin/anomalies",
        "/admin/audit",
        "/admin/refunds",
    }


@pytest.mark.parametrize("method,path", JSON_ROUTES, ids=[f"{m} {p}" for m, p in JSON_ROUTES])
@pytest.mark.parametrize("kind", list(HOSTILE_BODIES))
def test_hostile_json_bodies_are_400_on_every_json_route(api, method, path, kind):
    response = api.call(method, path, HOSTILE_BODIES[kind], key=ADMIN_KEY)
    error = assert_error_shape(response, 400)
    assert error["code"] in ("validation_failed", "invalid_amount"), error


@pytest.mark.parametrize("path,name", TIME_PARAMS, ids=[f"{p} {n}" for p, n in TIME_PARAMS])
@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31",
        "２０２６-11-25",
        "2026-11-25T25:00:00Z",
        "x" * 5000,
    ],
)
def test_out_of_range_and_malformed_times_are_400(api, path, name, value):
    response = api.call("GET", f"{path}?{urlencode({name: value})}", key=ADMIN_KEY)
    assert_error_shape(response, 400, "validation_failed")


@pytest.mark.parametrize("path", LIMIT_ROUTES)
@pytest.mark.parametrize(
    "value", ["²", "٣", "１０", "1e2", " 5", "5 ", "+5", "0x10", "9" * 5000, "0"]
)
def test_limits_are_ascii_whole_numbers(api, path, value):
    response = api.call("GET", f"{path}?{urlencode({'limit': value})}", key=ADMIN_KEY)
    assert_error_shape(response, 400, "validation_failed")


@pytest.mark.parametrize(
    "path,params",
    [
        ("/admin/stats", {"from": "2024-01-01", "to": "2026-01-01"}),
        ("/admin/anomalies", {"from": "2026-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"}),
        ("/admin/audit", {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}),
    ],
)
def test_every_admin_range_is_capped(api, path, params):
    error = assert_error_shape(
        api.call("GET", f"{path}?{urlencode(params)}", key=ADMIN_KEY), 400, "range_too_large"
    )
    assert error["details"]["max_days"] in (92, 31, 365)


QUERY_VALUES = st.one_of(
    st.text(max_size=60),
    st.from_regex(r"[0-9\-+:TZ.eE]{1,40}", fullmatch=True),
    st.integers().map(str),
    st.text(alphabet="²³¹٣١０１", max_size=5),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(param=st.sampled_from(QUERY_PARAMS), value=QUERY_VALUES)
def test_any_query_parameter_value_is_answered_without_5xx(module_api, param, value):
    path, name = param
    response = module_api.call("GET", f"{path}?{urlencode({name: value})}", key=ADMIN_KEY)
    if response.status_code == 502:  # a trade lookup asked a gateway no simulator answers for
        assert (path, json.loads(response.body)["error"]["code"]) == (
            "/admin/lookup",
            "gateway_unavailable",
        )
    else:
        assert response.status_code < 500, (path, name, value, response.body[:300])
    if response.status_code >= 400:
        assert_error_shape(response, response.status_code)


# ------------------------------------------------------------------------ Chalice's own answers


def test_a_wrong_content_type_is_415_in_our_shape(api):
    response = api.call("POST", "/orders", b"{}", headers={"Content-Type": "text/plain"})
    error = assert_error_shape(response, 415, "unsupported_media_type")
    assert error["details"]["allowed"] == ["application/json"]


def test_a_wrong_method_is_405_in_our_shape(api):
    response = api.call("PUT", "/admin/orders", key=ADMIN_KEY)
    error = assert_error_shape(response, 405, "method_not_allowed")
    assert error["details"]["allowed"] == ["GET"] and response.headers["Allow"] == "GET"


def test_an_unknown_path_is_404_in_our_shape_as_the_template_answers_it(api):
    from local.gateway_responses import answer_unknown_paths_like_the_template

    answer_unknown_paths_like_the_template()
    for headers in ({}, {"Authorization": f"Bearer {ADMIN_KEY}"}):
        response = api.client.http.request("GET", "/admin/nothing/here", headers=headers)
        assert_error_shape(response, 404, "not_found")


# ------------------------------------------------------------------------ the catch-all


def test_an_unexpected_error_is_one_logged_500_that_leaks_nothing(api, monkeypatch, caplog):
    def broken(principal):
        raise RuntimeError("connection string postgres://user:hunter2@db")

    monkeypatch.setattr(admin, "whoami", broken)
    response = api.call("GET", "/admin/me", key=ADMIN_KEY)
    assert response.status_code == 500
    body = json.loads(response.body)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "request_id"}
    assert body["error"]["code"] == "internal_error" and body["error"]["request_id"]
    assert "hunter2" not in response.body.decode()
    [entry] = [r for r in caplog.records if r.getMessage() == "unexpected error"]
    assert entry.name == "paytrack" and entry.levelname == "ERROR"  # the Powertools logger
    assert entry.request_id == body["error"]["request_id"] and entry.route == "/admin/me"
    assert isinstance(entry.exc_info[1].__cause__, RuntimeError)  # with the stack trace


def test_an_unexpected_error_on_a_public_route_is_the_same_500(api, monkeypatch):
    monkeypatch.setattr(openapi, "document", lambda: 1 / 0)
    response = api.call("GET", "/openapi.json", key=None)
    assert (
        response.status_code == 500
        and json.loads(response.body)["error"]["code"] == "internal_error"
    )


@pytest.mark.parametrize(
    "failure,http_status",
    [(KeyError("boom"), 500), (EndpointConnectionError(endpoint_url="http://boom"), 503)],
    ids=["unexpected", "aws-unavailable"],
)
@pytest.mark.parametrize(
    "channel,body",
    [
        ("alipay-main", "fail"),
        ("epay-main", "fail"),
        ("stripe-main", None),
        ("wxpay-main", None),
    ],
)
def test_notify_fails_in_the_gateway_protocol_on_an_unexpected_error(
    api, monkeypatch, channel, body, failure, http_status
):
    """Each gateway's failure answer, so it retries: "200 fail" where the protocol says so, else
    500, or 503 when AWS was briefly unable to serve."""

    def broken(channel_id, request):
        raise failure

    monkeypatch.setattr(ingest, "handle_notification", broken)
    wire = wires.alipay("ORDER-1", "58.00")
    response = api.client.http.request(
        "POST", f"/notify/{channel}", headers=wire.headers, body=wire.body
    )
    assert response.status_code == (200 if body is not None else http_status)
    text = response.body.decode()
    if body is not None:
        assert text == body
    elif channel == "wxpay-main":
        assert json.loads(text)["code"] == "FAIL"
    assert "boom" not in text


def test_notify_on_an_unknown_channel_still_answers_a_retryable_500(api, monkeypatch):
    monkeypatch.setattr(ingest, "handle_notification", lambda channel_id, request: 1 / 0)
    response = api.client.http.request(
        "POST", "/notify/no-such-channel", headers={"Content-Type": "text/plain"}, body=b"x"
    )
    assert (
        response.status_code == 500
        and json.loads(response.body)["error"]["code"] == "internal_error"
    )


def _throttled(operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        operation,
    )


def _refused(operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "ValidationException", "Message": "bad key"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        operation,
    )


def _order_body(order_no: str) -> dict[str, str]:
    return {
        "order_no": order_no,
        "product_id": "vip",
        "product_name": "VIP",
        "amount": "58.00",
        "currency": "CNY",
        "channel": "alipay-main",
    }


def _wrapped(cause: Exception) -> PutError:
    """As PynamoDB raises a failed write: its own error, botocore's as the cause."""
    try:
        raise PutError("Failed to put item") from cause
    except PutError as error:
        return error


@pytest.mark.parametrize(
    "failure",
    [
        _wrapped(_throttled("PutItem")),
        _wrapped(ReadTimeoutError(endpoint_url="http://dynamodb")),
        EndpointConnectionError(endpoint_url="http://dynamodb"),
    ],
    ids=["throttled", "read-timeout", "no-connection"],
)
def test_aws_briefly_unavailable_is_a_503_to_retry_that_stores_nothing(
    api, monkeypatch, caplog, failure
):
    def unavailable(order):
        raise failure

    monkeypatch.setattr(order_store, "create", unavailable)
    response = api.call("POST", "/orders", body=_order_body("UNAVAILABLE-1"), key=SHOP_KEY)
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    body = json.loads(response.body)
    assert body["error"]["code"] == "service_unavailable" and body["error"]["request_id"]
    [entry] = [r for r in caplog.records if r.getMessage() == "aws unavailable"]
    assert entry.request_id == body["error"]["request_id"] and entry.exc_info
    monkeypatch.undo()
    assert order_store.get("UNAVAILABLE-1") is None


def test_a_request_aws_refuses_is_still_a_500(api, monkeypatch):
    def refused(order):
        raise _wrapped(_refused("PutItem"))

    monkeypatch.setattr(order_store, "create", refused)
    response = api.call("POST", "/orders", body=_order_body("REFUSED-1"), key=SHOP_KEY)
    assert response.status_code == 500
    assert json.loads(response.body)["error"]["code"] == "internal_error"


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _b64("[" * 5000),
        _b64('{"i":"by_day","d":"' + date.today().isoformat()[:-1] + 'zzz","k":null}'),
        _b64(
            '{"i":"by_day","d":"'
            + date.today().isoformat()
            + '","k":{"a":' * 40
            + "1"
            + "}" * 40
            + "}"
        ),
        "A" * 5000,
    ],
    ids=["nested", "not a day", "nested key", "long"],
)
def test_forged_anomaly_cursors_are_400(api, cursor):
    response = api.call("GET", f"/admin/anomalies?{urlencode({'cursor': cursor})}", key=ADMIN_KEY)
    assert assert_error_shape(response, 400, "validation_failed")["details"]["field"] == "cursor"


@pytest.mark.parametrize(
    "body",
    [
        {"date": "0001-01-01"},
        {"date": "9999-12-31"},
        {"date": 5},
        {"channel": ["alipay-main"]},
        {"channel": {"a": 1}},
    ],
)
def test_a_job_run_with_a_wild_parameter_is_400(api, body):
    response = api.call("POST", "/admin/jobs/reconcile", body, key=ADMIN_KEY)
    assert_error_shape(response, 400, "validation_failed")


ID_ROUTES = [
    (method.upper(), path)
    for path, operations in openapi.document()["paths"].items()
    for method, operation in operations.items()
    if "{" in path and operation.get("x-role")
]


@pytest.mark.parametrize("method,path", ID_ROUTES, ids=[f"{m} {p}" for m, p in ID_ROUTES])
def test_an_id_longer_than_any_we_issue_is_404_before_any_read(api, method, path, monkeypatch):
    from pynamodb.connection.base import Connection

    reads = []
    original = Connection._make_api_call
    monkeypatch.setattr(
        Connection,
        "_make_api_call",
        lambda conn, op, kw: reads.append(op) or original(conn, op, kw),
    )
    long_path = "/".join("é" * 300 if part.startswith("{") else part for part in path.split("/"))
    response = api.call(method, long_path, {} if method == "POST" else None, key=ADMIN_KEY)
    assert_error_shape(response, 404, "not_found")
    assert reads == []
