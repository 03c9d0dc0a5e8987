"""The HTTP edge shared by every route in app.py: bearer auth by role, JSON bodies, a read
budget per admin request, and every error mapped to a response in this one place (API.md:
`{"error": {code, message, details}}`) — typed errors by the route wrappers (Guard), Chalice's
own answers (405, 415), AWS briefly unable to serve (503 `service_unavailable`, try again) and
anything unexpected (500 `internal_error`) by the `http_edge` middleware."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from chalice import Chalice, ChaliceUnhandledError, Response
from chalice.app import Request

from .domain import errors as e
from .domain.errors import (
    MethodNotAllowed,
    NotFound,
    PaytrackError,
    UnsupportedMediaType,
    ValidationFailed,
)
from .domain.params import parse_json
from .domain.statement import StatementNotReady, StatementUnparseable
from .platform import read_budget
from .platform.aws import is_unavailable
from .platform.observability import logger, request_id

JSON_TYPES = ["application/json"]
MAX_JSON_BYTES = 64 * 1024


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )


#: the HTTP status of each domain error class; a subclass answers as its nearest listed base
STATUS: dict[type[PaytrackError], int] = {
    PaytrackError: 400,
    e.ValidationFailed: 400,
    e.ReadBudgetExceeded: 400,
    e.NotificationRejected: 400,
    e.Unauthenticated: 401,
    e.Forbidden: 403,
    e.NotFound: 404,
    e.MethodNotAllowed: 405,
    e.Conflict: 409,
    StatementNotReady: 409,
    e.PayloadTooLarge: 413,
    e.UnsupportedMediaType: 415,
    e.ChannelMisconfigured: 500,
    e.GatewayUnavailable: 502,
    StatementUnparseable: 502,
}


def status_of(error: PaytrackError) -> int:
    return next(STATUS[cls] for cls in type(error).__mro__ if cls in STATUS)


def error_response(error: PaytrackError) -> Response:
    return json_response(
        {"error": {"code": error.code, "message": error.message, "details": error.details}},
        status_of(error),
    )


def internal_error(request_id: str | None) -> Response:
    """API.md's unexpected failure: the code and the request id to quote, nothing more (the same
    body as the template's DEFAULT_5XX gateway response)."""
    return json_response({"error": {"code": "internal_error", "request_id": request_id}}, 500)


RETRY_AFTER_S = 1


def unavailable(request_id: str | None) -> Response:
    """AWS could not serve the request even after the client's retries (throttled, timed out,
    down): nothing was decided, so the caller is told to try again, with the id to quote."""
    return json_response(
        {
            "error": {
                "code": "service_unavailable",
                "message": "storage is briefly unavailable, please retry",
                "request_id": request_id,
            }
        },
        503,
        {"Retry-After": str(RETRY_AFTER_S)},
    )


def current_request(app: Chalice) -> Request:
    """The request being handled (Chalice types it optional: it is None only between requests)."""
    request = app.current_request
    if request is None:
        raise RuntimeError("no request is being handled")
    return request


def read_json(app: Chalice) -> Any:
    """The request body as JSON, or a 400 that says why (Chalice's own error shape is not ours)."""
    raw = current_request(app).raw_body or b""
    if len(raw) > MAX_JSON_BYTES:
        raise ValidationFailed(f"body larger than {MAX_JSON_BYTES} bytes", {"field": "body"})
    if not raw.strip():
        return {}
    return parse_json(raw)


def query_params(app: Chalice) -> tuple[dict[str, str], Callable[[str], list[str]]]:
    """The query string as a plain dict (last value wins) and a reader of repeated parameters."""
    params = current_request(app).query_params

    def getlist(name: str) -> list[str]:
        return list(params.getlist(name)) if params and name in params else []

    return dict(params or {}), getlist


C = TypeVar("C")


def read_audited(read: Callable[[], C], refused: Callable[[PaytrackError], None]) -> C:
    """The command `read()` gives; a request it refuses is first handed to `refused` (the use
    cases that audit every request, refusals included, audit it there) and answered as usual."""
    try:
        return read()
    except PaytrackError as error:
        refused(error)
        raise


def _mapped(run: Callable[[], Response]) -> Response:
    """A route's answer: typed errors become their responses; anything else is handed to the
    `http_edge` middleware (Chalice answers other exceptions itself, in its own shape)."""
    try:
        return run()
    except PaytrackError as error:
        return error_response(error)
    except Exception as error:
        raise ChaliceUnhandledError(type(error).__name__) from error


class Guard:
    """`@guard("operator")` on a route: authenticates the bearer key, checks the role, passes the
    Principal as first argument, and turns domain errors into their responses. Every request of
    an admin role reads within a `ReadBudget`. `@guard.public` is the same for routes without a
    key (the signature or nothing is their auth)."""

    def __init__(self, app: Chalice):
        self.app = app

    def __call__(self, role: str) -> Callable:
        def decorate(handler: Callable[..., Any]) -> Callable[..., Response]:
            @functools.wraps(handler)
            def wrapped(*args: Any, **kwargs: Any) -> Response:
                return _mapped(lambda: self.run(role, handler, *args, **kwargs))

            return wrapped

        return decorate

    @staticmethod
    def public(handler: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def wrapped(*args: Any, **kwargs: Any) -> Response:
            return _mapped(lambda: handler(*args, **kwargs))

        return wrapped

    def run(self, role: str, handler: Callable[..., Any], *args: Any, **kwargs: Any) -> Response:
        from .services.auth import authorize  # the key store: loaded by the first guarded request

        principal = authorize(current_request(self.app).headers.get("authorization"), role)
        if principal.role == "shop":
            return handler(principal, *args, **kwargs)
        with read_budget.within(read_budget.admin_budget()):
            return handler(principal, *args, **kwargs)


# ------------------------------------------------------------------------ the http_edge middleware

NOTIFY_ROUTE = "/notify/{channel}"
MAX_ID_BYTES = 512  # every id we issue is far shorter; DynamoDB refuses keys past 2,048 bytes


def _unknown_id(request: Request) -> Response | None:
    """A 404 for a path id longer than any we issue (DynamoDB would refuse it as a key: a 500).
    /notify is left to ingestion, which audits an unknown channel."""
    if request.context.get("resourcePath") == NOTIFY_ROUTE:
        return None
    for name, value in (request.uri_params or {}).items():
        if len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
            return error_response(
                NotFound(f"no such {name}: ids are at most {MAX_ID_BYTES} bytes", {"field": name})
            )
    return None


def _notify_failure(request: Request, status: int) -> Response:
    """A gateway is answered in its own protocol even now: its failure answer, so it retries."""
    from .gateways.registry import get_gateway
    from .services import channels

    config = channels.get_channel((request.uri_params or {}).get("channel", ""))
    answer = get_gateway(config["type"]).failure_answer("internal error, please retry", status)
    return Response(
        body=answer.body,
        status_code=answer.status,
        headers={"Content-Type": answer.content_type, **answer.headers},
    )


def _unexpected(request: Request | None, error: Exception) -> Response:
    """The one catch-all: logged with its stack trace, answered without any detail of it — a
    503 when AWS was briefly unable to serve, else a 500."""
    quoted = request_id(request)
    context = request.context if request is not None else {}
    retry = is_unavailable(error)
    logger.exception(
        "aws unavailable" if retry else "unexpected error",
        extra={
            "error": type(error.__cause__ or error).__name__,
            "route": context.get("resourcePath"),
            "method": context.get("httpMethod"),
            "request_id": quoted,
        },
    )
    if request is not None and context.get("resourcePath") == NOTIFY_ROUTE:
        try:
            return _notify_failure(request, 503 if retry else 500)
        except Exception:  # no channel to answer for: a 500 is a retry for every gateway too
            logger.exception("no gateway answer for the failure", extra={"request_id": quoted})
    return unavailable(quoted) if retry else internal_error(quoted)


def _snake(code: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", code.removesuffix("Error")).lower()


def _ours(app: Chalice, request: Request | None, response: Response) -> Response:
    """Chalice's own answers (`{"Code": …, "Message": …}`: 405 before a route runs, 415 for a
    content type the route does not take, its 500) in our shape."""
    body = response.body
    if not (isinstance(body, dict) and "Code" in body):
        return response
    code, message = str(body["Code"]), str(body.get("Message", ""))
    context = request.context if request is not None else {}
    routes = app.routes.get(context.get("resourcePath") or "", {})
    if response.status_code >= 500:
        logger.error(
            "Chalice answered an error itself",
            extra={"code": code, "route": context.get("resourcePath")},
        )
        return internal_error(request_id(request))
    if code == "MethodNotAllowedError":
        mapped = error_response(MethodNotAllowed(message, {"allowed": sorted(routes)}))
    elif code == "UnsupportedMediaType":
        entry = routes.get(context.get("httpMethod") or "")
        mapped = error_response(
            UnsupportedMediaType(message, {"allowed": list(entry.content_types) if entry else []})
        )
    else:
        mapped = json_response(
            {"error": {"code": _snake(code), "message": message, "details": {}}},
            response.status_code,
        )
    mapped.headers.update(
        {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    )
    return mapped


def register_edge(app: Chalice) -> None:
    """Register the `http_edge` middleware on `app`: every HTTP answer in API.md's shape."""

    def http_edge(request: Request, get_response: Callable[[Request], Response]) -> Response:
        try:
            response = _unknown_id(request) or get_response(request)
        except Exception as error:
            return _unexpected(request, error)
        return _ours(app, request, response)

    app.register_middleware(http_edge, "http")
