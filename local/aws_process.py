"""The embedded AWS (moto's server, made faithful by local/fidelity.py) in a process of its own.

In the stack's process, moto and the app shared one interpreter lock: under a flash sale every
answer, stream record and moto request queued for the same core while the other core idled. A
child process gives moto its own. It exits when its parent does (it watches its stdin, a pipe
the parent holds), so a killed stack leaves no moto behind.

    python -m local.aws_process <port>
"""

from __future__ import annotations

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
        DomainDispatcherApplication(create_backend_app),
        numthreads=_SERVER_THREADS,
        request_queue_size=128,
        timeout=60,
        server_name="paytrack-local-aws",
    )


_SERVER_THREADS = 32


if __name__ == "__main__":
    main()
