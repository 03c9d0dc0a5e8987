"""The embedded AWS (moto's server, made faithful by local/fidelity.py) in two processes of its own.

In the stack's process, moto and the app shared one interpreter lock: under a flash sale every
answer, stream record and moto request queued for the same core while the other core idled. A
child process gave moto its own; then that one child sat at 83–85% of a core for a whole
10-minute sale, bound by its lock (DynamoDB about a third of its busy time, moto's per-request
server overhead two fifths), while the stream consumers starved behind it. In AWS these are
separate services; here they are two processes, each with its own interpreter lock:

- DynamoDB and DynamoDB Streams (one moto backend: a stream reads its table) on a port of its
  own, which the stack's clients reach directly (`EmbeddedAws.environment`: botocore's
  service-specific endpoint variables), its hot operations handed straight to moto's handler
  (local/dynamodb_wsgi.py);
- every other service (SNS, SQS, S3, Secrets Manager) on the public port, which also passes
  any DynamoDB request it gets on to the first (`DynamoDBForwarder`), so that `aws
  --endpoint-url` and the tests see one AWS there, and answers the two processes' request
  counts merged.

Each exits when its parent does (it watches its stdin, a pipe the parent holds), so a killed
stack leaves no moto behind.

    python -m local.aws_process <port> [--dynamodb-at <port>]
"""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

DYNAMODB_TARGETS = ("DynamoDB_20120810.", "DynamoDBStreams_20120810.")
"""The X-Amz-Target prefixes of the requests the DynamoDB process answers."""

ENDPOINT_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
)
"""The variables botocore reads a client's endpoint from (the service's own first)."""


@dataclass(frozen=True)
class EmbeddedAws:
    """The two processes started by `start`: where they listen, and their stopper."""

    endpoint: str  # the public one: every service
    dynamodb_endpoint: str  # DynamoDB and DynamoDB Streams, without the forwarding
    stop: Callable[[], None]

    @property
    def environment(self) -> dict[str, str]:
        """ENDPOINT_VARIABLES for clients (boto3, PynamoDB, child processes) that reach
        DynamoDB directly and everything else on the public endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": self.dynamodb_endpoint,
        }


def start(port: int, timeout_s: float = 60.0) -> EmbeddedAws:
    """Start the DynamoDB process on a free port and the public one on `port`, together; return
    once both accept connections."""
    dynamodb_port = free_port()
    children = [
        (_spawn(dynamodb_port), dynamodb_port),
        (_spawn(port, "--dynamodb-at", str(dynamodb_port)), port),
    ]

    def stop() -> None:
        for child, _ in children:
            if child.stdin is not None:
                child.stdin.close()  # tells the child to stop
        for child, _ in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    deadline = time.monotonic() + timeout_s
    for child, child_port in children:
        if not accepts(child, child_port, deadline):
            stop()
            raise RuntimeError(
                f"the embedded AWS did not start on port {child_port} "
                f"(exit code {child.returncode})"
            )
    return EmbeddedAws(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{dynamodb_port}", stop)


def _spawn(port: int, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "local.aws_process", str(port), *args], stdin=subprocess.PIPE
    )


def accepts(child: subprocess.Popen[bytes], port: int, deadline: float) -> bool:
    """Whether the child, still running, accepts connections on `port` before `deadline`."""
    while time.monotonic() < deadline and child.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def free_port() -> int:
    """A port nothing listens on now (the OS's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    port, *rest = sys.argv[1:]
    forwarding = rest[:1] == ["--dynamodb-at"]

    def app() -> Callable[..., Any]:
        counted = moto_app(lean_dynamodb=not forwarding)
        return DynamoDBForwarder(counted, int(rest[1])) if forwarding else counted

    serve_until_parent_closes(int(port), app)


def serve_until_parent_closes(port: int, make_app: Callable[[], Callable[..., Any]]) -> None:
    """moto made like AWS (local/fidelity.py), `make_app()` served on `port` until stdin, a pipe
    the parent holds, is closed (bench/local_aws.py serves its own applications with it)."""
    from local import fidelity, heap

    # A request makes a dozen socket calls, each giving up the interpreter lock; behind a busy
    # thread (a Query) each waited the default 5 ms switch interval to get it back.
    sys.setswitchinterval(0.0005)
    fidelity.like_aws()
    server = keep_alive_server(port, make_app())
    heap.freeze_long_lived_objects()
    threading.Thread(target=server.safe_start, name="moto-server", daemon=True).start()
    sys.stdin.buffer.read()  # until the parent closes the pipe or dies
    server.stop()


def moto_app(lean_dynamodb: bool = False) -> RequestCounter:
    """moto's application for every service, its requests counted; with `lean_dynamodb` (the
    DynamoDB process), the hot DynamoDB operations go straight to moto's handler
    (local/dynamodb_wsgi.py)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from local.dynamodb_wsgi import DynamoDBApplication

    app: Callable[..., Any] = DomainDispatcherApplication(create_backend_app)
    return RequestCounter(DynamoDBApplication(app) if lean_dynamodb else app)


def keep_alive_server(port: int, app: Callable[..., Any]) -> Any:
    """moto's application behind cheroot instead of moto's own werkzeug server.

    werkzeug's development server closes the connection after every answer, so each AWS call
    of the stack paid a TCP connection on both sides and moto a new thread; cheroot keeps
    connections open (HTTP/1.1 keep-alive, idle ones parked in a selector, not on a thread) and
    answers from a fixed pool of threads. The backlog holds a burst of the stack's callers.

    cheroot keeps only 10 idle connections open by default and closes every other one after its
    answer: with the stack's dozens of request threads each holding a pooled connection, most
    AWS calls of a flash sale paid a new TCP connection (a fifth of the stack's time, in
    connect and getaddrinfo) and moto a new registration in its selector. Keep every idle
    connection the stack's pools can hold (`_IDLE_CONNECTIONS_KEPT`)."""
    from cheroot import wsgi

    server = wsgi.Server(
        ("127.0.0.1", port),
        app,
        numthreads=_SERVER_THREADS,
        request_queue_size=128,
        timeout=60,
        server_name="paytrack-local-aws",
    )
    server.keep_alive_conn_limit = _IDLE_CONNECTIONS_KEPT
    return server


_SERVER_THREADS = 64
"""More than the requests the stack can have in flight at once (the API's invocations, the
pumps' lanes, the scheduler, the listeners, a shop's consumers): a request that found every
thread busy would wait in cheroot's queue, first come first served, where local/fidelity.Turns
cannot give the stream consumers their turn."""

_IDLE_CONNECTIONS_KEPT = 1024
"""More than the stack's processes can hold open: each botocore client pools up to
chalicelib/platform/aws.MAX_POOL_CONNECTIONS, one connection per thread calling at once."""

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class DynamoDBForwarder:
    """The public process's application: a request for DynamoDB or DynamoDB Streams (by its
    X-Amz-Target) is passed on to the DynamoDB process as it came — method, path, headers, body
    — and its answer passed back as it came — status, headers, body — over a connection kept
    open per thread; `GET /_paytrack/requests` answers both processes' counts added up; every
    other request goes to moto here. The stack's own clients never come through it."""

    def __init__(self, app: RequestCounter, dynamodb_port: int):
        self.app = app
        self.dynamodb_port = dynamodb_port
        self._held = threading.local()  # this thread's connection to the DynamoDB process

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == COUNTS_PATH:
            body = json.dumps(self.merged_counts()).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGETS):
            return self.app(environ, start_response)
        body = _body(environ)
        try:
            status, headers, answer = self.forward(
                environ["REQUEST_METHOD"], _target(environ), _headers(environ, len(body)), body
            )
        except (OSError, http.client.HTTPException) as error:
            start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
            return [f"the embedded AWS's DynamoDB process did not answer: {error!r}".encode()]
        start_response(status, headers)
        return [answer]

    def forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        """The DynamoDB process's answer: status line, headers, body."""
        while True:
            connection = getattr(self._held, "connection", None)
            reused = connection is not None
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.dynamodb_port, timeout=60)
                self._held.connection = connection
            try:
                connection.request(method, target, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._drop(connection)
                if reused:  # a kept-open connection the other end had closed: once more, anew
                    continue
                raise
            except BaseException:
                self._drop(connection)
                raise
            if answer.will_close:
                self._drop(connection)
            kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP]
            return f"{answer.status} {answer.reason}", kept, data

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        self._held.connection = None

    def merged_counts(self) -> dict[str, int]:
        """This process's counts and the DynamoDB process's, added up."""
        connection = http.client.HTTPConnection("127.0.0.1", self.dynamodb_port, timeout=30)
        try:
            connection.request("GET", COUNTS_PATH)
            theirs: dict[str, int] = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        merged = self.app.snapshot()
        for name, count in theirs.items():
            merged[name] = merged.get(name, 0) + count
        return merged


def _body(environ: dict) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        data: bytes = environ["wsgi.input"].read(length)
        return data
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        data = environ["wsgi.input"].read()
        return data
    return b""


def _target(environ: dict) -> str:
    """The request's path and query as the client sent them."""
    from urllib.parse import quote

    if environ.get("REQUEST_URI"):
        uri: str = environ["REQUEST_URI"]
        return uri
    query = environ.get("QUERY_STRING")
    return quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "/")) + (
        f"?{query}" if query else ""
    )


def _headers(environ: dict, length: int) -> dict[str, str]:
    """The request's headers (the body is sent whole, with its length)."""
    headers = {
        key[5:].replace("_", "-").title(): value
        for key, value in environ.items()
        if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _HOP_BY_HOP
    }
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    headers["Content-Length"] = str(length)
    return headers


COUNTS_PATH = "/_paytrack/requests"
_TARGET = re.compile(rb'"(?:TableName|QueueUrl|TopicArn|StreamArn)"\s*:\s*"([^"]+)"')
_FORM_ACTION = re.compile(rb"(?:^|&)Action=([A-Za-z]+)")
_FORM_TARGET = re.compile(rb"(?:^|&)(?:TopicArn|QueueUrl)=([^&]+)")
_ITERATOR_TABLE = re.compile(rb"table/([^/]+)/stream")


class RequestCounter:
    """Counts the requests moto answers by operation and the table, queue or topic each names
    (`GetItem paytrack-local-orders`), so a benchmark can say how many AWS calls an order costs:
    `GET /_paytrack/requests` answers the counts so far as JSON."""

    def __init__(self, app: Callable[..., Any]):
        self.app = app
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == COUNTS_PATH:
            body = json.dumps(self.snapshot()).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        name = request_name(environ.get("HTTP_X_AMZ_TARGET", ""), raw)
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1
        return self.app(environ, start_response)

    def snapshot(self) -> dict[str, int]:
        """The counts so far."""
        with self._lock:
            return dict(self.counts)


def request_name(target: str, body: bytes) -> str:
    """`<operation> <what it names>`: the JSON protocols name the operation in X-Amz-Target, the
    query protocol (SNS) in the form's Action; a transaction names each of its tables."""
    from urllib.parse import unquote

    if target:
        operation = target.rsplit(".", 1)[-1]
        names = _ITERATOR_TABLE.findall(body) or _TARGET.findall(body)
        if not names and b'"RequestItems"' in body:  # a batch names its tables as keys
            names = [name.encode() for name in json.loads(body)["RequestItems"]]
    else:
        found = _FORM_ACTION.search(body)
        operation = found.group(1).decode() if found else "?"
        names = [unquote(n.decode()).encode() for n in _FORM_TARGET.findall(body)]
    short = sorted({n.decode().rsplit("/", 1)[-1].rsplit(":", 1)[-1] for n in names})
    return f"{operation} {'+'.join(short)}".strip()


if __name__ == "__main__":
    main()
