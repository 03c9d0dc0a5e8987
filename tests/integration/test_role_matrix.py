"""The role matrix over every route of the OpenAPI document (which a unit test holds equal to
app.py's routes): no key is 401, a key of a role the route does not admit is 403 with the role in
the details, every other key gets past the guard without a 5xx."""

from __future__ import annotations

import pytest

from chalicelib import openapi
from chalicelib.services import auth
from tests.integration.conftest import ADMIN_KEY, SHOP_KEY

# who may call a route documented for a role (README, "Roles")
ADMITS = {
    "shop": {"shop", "admin"},
    "viewer": {"viewer", "operator", "admin"},
    "operator": {"operator", "admin"},
    "admin": {"admin"},
    "any": {"shop", "viewer", "operator", "admin"},
}
PATH_VALUES = {
    "order_no": "NOPE-1",
    "key_id": "nope",
    "export_id": "nope",
    "anomaly_id": "nope",
    "run_id": "alipay-main:2026-11-24",
    "name": "channel_health",
    "refund_request_id": "nope",
}


def guarded_routes() -> list[tuple[str, str, str]]:
    routes = []
    for path, operations in openapi.document()["paths"].items():
        for method, operation in operations.items():
            if "x-role" in operation:
                routes.append((method.upper(), path.format(**PATH_VALUES), operation["x-role"]))
    return routes


ROUTES = guarded_routes()


def test_every_admin_and_shop_route_is_in_the_matrix():
    paths = {path for _, path, _ in ROUTES}
    assert (
        len(ROUTES) >= 20
        and "/admin/me" in paths
        and "/orders" in paths
        and "/admin/stats" in paths
    )


@pytest.fixture
def keys(api):
    return {
        role: auth.create_key(f"matrix {role}", role, "test")[1] for role in ("viewer", "operator")
    } | {"admin": ADMIN_KEY, "shop": SHOP_KEY}


@pytest.mark.parametrize("method,path,role", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_role_matrix(api, keys, method, path, role):
    body = {} if method in ("POST", "PUT") else None
    assert api.call(method, path, body, key=None).status_code == 401
    assert api.call(method, path, body, key="pt_admin_not_a_key").status_code == 401
    for caller, key in keys.items():
        response = api.call(method, path, body, key=key)
        if caller in ADMITS[role]:
            assert response.status_code not in (401, 403) and response.status_code < 500, (
                caller,
                response.body,
            )
        else:
            assert response.status_code == 403, (caller, response.status_code)
            assert api.json(response)["error"]["details"] == {"required": role, "role": caller}
