"""The HTTP edge shared by every route in app.py: bearer auth by role, JSON bodies, and typed
errors mapped to responses in this one place (API.md: `{"error": {code, message, details}}`)."""
from __future__ import annotations

import functools
import json
from typing import Any, Callable

from chalice import Chalice, Response

from .domain.errors import PaytrackError, ValidationFailed
from .services.auth import Principal, authorize

JSON_TYPES = ["application/json"]
MAX_JSON_BYTES = 64 * 1024


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status,
                    headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})})


def error_response(error: PaytrackError) -> Response:
    return json_response({"error": {"code": error.code, "message": error.message,
                                    "details": error.details}}, error.status)


def internal_error() -> Response:
    return json_response({"error": {"code": "internal_error",
                                    "message": "something failed on our side; it is logged, retry later",
                                    "details": {}}}, 500)


def read_json(app: Chalice) -> Any:
    """The request body as JSON, or a 400 that says why (Chalice's own error shape is not ours)."""
    raw = app.current_request.raw_body or b""
    if len(raw) > MAX_JSON_BYTES:
        raise ValidationFailed(f"body larger than {MAX_JSON_BYTES} bytes", {"field": "body"})
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValidationFailed(f"the body is not valid JSON: {error}", {"field": "body"}) from None


def query_params(app: Chalice) -> tuple[dict[str, str], Callable[[str], list[str]]]:
    """The query string as a plain dict (last value wins) and a reader of repeated parameters."""
    params = app.current_request.query_params

    def getlist(name: str) -> list[str]:
        return list(params.getlist(name)) if params and name in params else []

    return dict(params or {}), getlist


class Guard:
    """`@guard("operator")` on a route: authenticates the bearer key, checks the role, passes the
    Principal as first argument, and turns domain errors into their responses."""

    def __init__(self, app: Chalice):
        self.app = app

    def __call__(self, role: str) -> Callable:
        def decorate(handler: Callable[..., Any]) -> Callable[..., Response]:
            @functools.wraps(handler)
            def wrapped(*args: Any, **kwargs: Any) -> Response:
                return self.run(role, handler, *args, **kwargs)
            return wrapped
        return decorate

    def run(self, role: str, handler: Callable[..., Any], *args: Any, **kwargs: Any) -> Response:
        try:
            principal: Principal = authorize(self.app.current_request.headers.get("authorization"), role)
            return handler(principal, *args, **kwargs)
        except PaytrackError as error:
            return error_response(error)
