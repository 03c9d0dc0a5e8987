"""API.md's error shape over real HTTP from the local stack, for the answers chalice's local
server gives before (or instead of) our routes: an unknown path, a wrong method, a wrong content
type, and a body or parameter that used to be a 500."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import ADMIN_KEY


def post(stack, path: str, body: bytes, content_type: str) -> requests.Response:
    return requests.post(
        stack.api + path,
        data=body,
        timeout=30,
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": content_type},
    )


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert (
        isinstance(error["code"], str)
        and isinstance(error["message"], str)
        and error["details"] is not None
    )
    return error


@pytest.mark.parametrize(
    "method,path", [("GET", "/nothing/here"), ("POST", "/admin/orders/x/y/z"), ("DELETE", "/")]
)
def test_an_unknown_path_is_404_not_found(stack, method, path):
    assert error_of(stack.call(method, path, key=ADMIN_KEY), 404)["code"] == "not_found"


def test_a_wrong_method_is_405_method_not_allowed(stack):
    response = stack.call("DELETE", "/admin/orders", key=ADMIN_KEY)
    assert (
        error_of(response, 405)["code"] == "method_not_allowed"
        and response.headers["Allow"] == "GET"
    )


def test_a_wrong_content_type_is_415_unsupported_media_type(stack):
    response = post(stack, "/admin/keys", b"name=x", "application/x-www-form-urlencoded")
    assert error_of(response, 415)["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "path",
    [
        "/admin/stats?from=9999-12-31T23:59:59Z",
        "/admin/orders?limit=%C2%B2",
        "/admin/orders?paid_to=9999-12-31T23:59:59Z",
    ],
)
def test_parameters_that_were_500s_are_400s(stack, path):
    assert error_of(stack.call("GET", path, key=ADMIN_KEY), 400)["code"] == "validation_failed"


def test_a_deeply_nested_body_is_a_400(stack):
    response = post(stack, "/admin/keys", b"[" * 50_000, "application/json")
    assert error_of(response, 400)["code"] == "validation_failed"
