"""The template's GatewayResponses, played by chalice's local gateway.

A path no route serves never reaches the app: API Gateway answers it itself (403 "Missing
Authentication Token"), and so does chalice's LocalGateway, which both the local stack's server
and chalice.test.Client use. The template maps that answer (MISSING_AUTHENTICATION_TOKEN) to
404 `not_found` in API.md's error shape; this does the same locally. Everything that reaches the
app is mapped by the app itself (chalicelib/web.py `http_edge`).
"""

from __future__ import annotations

import functools
import json

NOT_FOUND_BODY = json.dumps(
    {
        "error": {
            "code": "not_found",
            "message": "no such route: see /openapi.json for the paths and methods served",
            "details": {},
        }
    }
).encode()


def answer_unknown_paths_like_the_template() -> None:
    """Patch chalice's LocalGateway once: no route is 404 `not_found`, in our shape."""
    from chalice.local import ForbiddenError, LocalGateway, LocalGatewayException

    if getattr(LocalGateway.handle_request, "_not_found_mapped", False):
        return

    class RouteNotFound(LocalGatewayException):
        CODE = 404

    original = LocalGateway.handle_request

    @functools.wraps(original)
    def handle_request(self, method, path, headers, body):
        try:
            return original(self, method, path, headers, body)
        except (
            ForbiddenError
        ) as error:  # raised only for a path without a route (no authorizers here)
            raise RouteNotFound(
                {**error.headers, "Content-Type": "application/json"}, NOT_FOUND_BODY
            ) from None

    handle_request._not_found_mapped = True  # type: ignore[attr-defined]  # marks chalice's patched
    LocalGateway.handle_request = handle_request  # type: ignore[method-assign]  # chalice's, replaced
