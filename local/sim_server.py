"""The simulator's HTTP side: a stdlib threaded server with one route table per path prefix.

`/sim` serves the simulator itself; `/alipay`, `/wechat`, `/epay` and `/stripe` hold each
gateway's own APIs (query, refund, statements), the URLs the channels file points paytrack at.
A route path may hold `{name}` segments (`/v1/payment_intents/{id}`); exact paths win.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimRequest:
    method: str
    path: str  # below the prefix: "/health" for GET /sim/health
    query: dict[str, list[str]]
    headers: Message  # case-insensitive .get()
    body: bytes
    target: str = ""  # the request line's path and query, as sent (signed by WeChat)
    params: dict[str, str] = field(default_factory=dict)  # the route's {name} segments

    def arg(self, name: str, default: str = "") -> str:
        """One query parameter (the first, if repeated)."""
        return (self.query.get(name) or [default])[0]

    @property
    def base_url(self) -> str:
        """How the client reached us: the base of URLs we hand back (bill downloads)."""
        return f"http://{self.headers.get('Host', '127.0.0.1')}"


@dataclass(frozen=True)
class SimResponse:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, obj: Any, status: int = 200) -> SimResponse:
        return cls(status, json.dumps(obj, ensure_ascii=False).encode())


Handler = Callable[[SimRequest], SimResponse]


class SimServer:
    PREFIXES = ("/sim", "/alipay", "/wechat", "/epay", "/stripe")

    def __init__(self, host: str, port: int):
        self.routes: dict[str, dict[tuple[str, str], Handler]] = {p: {} for p in self.PREFIXES}
        self._patterns: dict[str, list[tuple[str, re.Pattern, Handler]]] = {
            p: [] for p in self.PREFIXES
        }
        self._httpd = _HTTPServer((host, port), _RequestHandler)
        self._httpd.daemon_threads = True
        self._httpd.sim_server = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.1,), name="sim-http", daemon=True
        )  # stop() within 0.1 s

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._httpd.server_address[0]!s}:{self.port}"

    def route(self, prefix: str, method: str, path: str, handler: Handler) -> None:
        self.routes[prefix][(method.upper(), path)] = handler
        if "{" in path:
            regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
            self._patterns[prefix].append((method.upper(), re.compile(regex + "$"), handler))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def _find(
        self, prefix: str, method: str, path: str
    ) -> tuple[Handler | None, dict[str, str], bool]:
        """(handler, path parameters, whether the path exists for another method)."""
        handler = self.routes.get(prefix, {}).get((method, path))
        if handler is not None:
            return handler, {}, True
        known = any(p == path for _, p in self.routes.get(prefix, {}))
        for route_method, regex, candidate in self._patterns.get(prefix, []):
            match = regex.match(path)
            if match and route_method == method:
                return candidate, {k: unquote(v) for k, v in match.groupdict().items()}, True
            known = known or bool(match)
        return None, {}, known

    def dispatch(self, method: str, target: str, headers: Message, body: bytes) -> SimResponse:
        url = urlsplit(target)
        _, prefix, rest = ([*url.path.split("/", 2), ""])[:3]  # "/alipay/gateway.do"
        handler, params, known = self._find("/" + prefix, method, "/" + rest)
        if handler is None:
            return SimResponse.json(
                {"error": "method not allowed" if known else "no such route"}, 405 if known else 404
            )
        request = SimRequest(
            method,
            "/" + rest,
            parse_qs(url.query, keep_blank_values=True),
            headers,
            body,
            target,
            params,
        )
        try:
            return handler(request)
        except Exception as exc:  # a simulator bug answers 500 instead of a dropped connection
            log.exception("simulator route %s %s failed", method, url.path)
            return SimResponse.json({"error": f"{type(exc).__name__}: {exc}"}, 500)


class _HTTPServer(ThreadingHTTPServer):
    sim_server: SimServer  # the routes its handlers dispatch to


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        response = self.server.sim_server.dispatch(self.command, self.path, self.headers, body)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: GET /sim/events is the record of what happened."""
