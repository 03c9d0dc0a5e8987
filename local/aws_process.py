"""The embedded AWS (moto's server, made faithful by local/fidelity.py) in a process of its own.

In the stack's process, moto and the app shared one interpreter lock: under a flash sale every
answer, stream record and moto request queued for the same core while the other core idled. A
child process gives moto its own. It exits when its parent does (it watches its stdin, a pipe
the parent holds), so a killed stack leaves no moto behind.

    python -m local.aws_process <port>
"""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any


def start(port: int, timeout_s: float = 60.0) -> Callable[[], None]:
    """Start moto on `port` in a child process; returns its stopper once it accepts connections."""
    child = subprocess.Popen(
        [sys.executable, "-m", "local.aws_process", str(port)], stdin=subprocess.PIPE
    )

    pipe = child.stdin  # closing it tells the child to stop

    def stop() -> None:
        if pipe is not None:
            pipe.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and child.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return stop
        except OSError:
            time.sleep(0.1)
    stop()
    raise RuntimeError(
        f"the embedded AWS did not start on port {port} (exit code {child.returncode})"
    )


def main() -> None:
    from local import fidelity

    # A request makes a dozen socket calls, each giving up the interpreter lock; behind a busy
    # thread (a Query) each waited the default 5 ms switch interval to get it back.
    sys.setswitchinterval(0.0005)
    fidelity.like_aws()
    server = keep_alive_server(int(sys.argv[1]))
    threading.Thread(target=server.safe_start, name="moto-server", daemon=True).start()
    sys.stdin.buffer.read()  # until the parent closes the pipe or dies
    server.stop()


def keep_alive_server(port: int) -> Any:
    """moto's application behind cheroot instead of moto's own werkzeug server.

    werkzeug's development server closes the connection after every answer, so each AWS call
    of the stack paid a TCP connection on both sides and moto a new thread; cheroot keeps
    connections open (HTTP/1.1 keep-alive, idle ones parked in a selector, not on a thread) and
    answers from a fixed pool of threads. The backlog holds a burst of the stack's callers."""
    from cheroot import wsgi
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return wsgi.Server(
        ("127.0.0.1", port),
        RequestCounter(DomainDispatcherApplication(create_backend_app)),
        numthreads=_SERVER_THREADS,
        request_queue_size=128,
        timeout=60,
        server_name="paytrack-local-aws",
    )


_SERVER_THREADS = 64
"""More than the requests the stack can have in flight at once (the API's invocations, the
pumps' lanes, the scheduler, the listeners, a shop's consumers): a request that found every
thread busy would wait in cheroot's queue, first come first served, where local/fidelity.Turns
cannot give the stream consumers their turn."""

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
            with self._lock:
                body = json.dumps(self.counts).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        name = request_name(environ.get("HTTP_X_AMZ_TARGET", ""), raw)
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1
        return self.app(environ, start_response)


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
