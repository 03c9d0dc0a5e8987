"""The stream pumps (one per table stream and function, as Lambda's event source mappings) in a
process of their own.

In the API's process, the pumps' threads queued for one interpreter lock behind every request
thread (64 at once in a flash sale): they had about a tenth of it, the orders consumer handled
under 3 orders a second against 20 paid, and `order.ready` reached the shop minutes late. In
Lambda each mapping runs on its own; a child process gives them an interpreter lock of their own.

The child runs with the stack's environment (the embedded AWS's endpoints, its DynamoDB Streams
and DynamoDB reached directly at the DynamoDB process; the stage's names).
What it prints comes back to the stack's stdout line by line, so the EMF metrics its handlers
print reach local paging (local/alarms.py) as the API's do. It exits when the stack does (it
watches its stdin, a pipe the stack holds), like local/aws_process.py.

    python -m local.pump_process <lanes>
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.fidelity import STREAM_CONSUMERS_APP_ID

REPO = Path(__file__).resolve().parents[1]
READY = "paytrack stream pumps running"
log = logging.getLogger("paytrack.local")


def start(lanes: int, timeout_s: float = 120.0) -> Callable[[], None]:
    """Start the pumps' process; returns its stopper once every pump runs."""
    child = subprocess.Popen(
        [sys.executable, "-m", "local.pump_process", str(lanes)],
        cwd=REPO,
        env={
            **os.environ,
            "PYTHONUNBUFFERED": "1",  # each line as printed
            "AWS_SDK_UA_APP_ID": STREAM_CONSUMERS_APP_ID,  # their turns at the embedded AWS
        },
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    running = threading.Event()
    threading.Thread(
        target=_forward, args=(child.stdout, running), name="pump-process-output", daemon=True
    ).start()

    pipe = child.stdin  # closing it tells the child to stop

    def stop() -> None:
        if pipe is not None:
            pipe.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()

    deadline = time.monotonic() + timeout_s
    while not running.wait(0.2):
        if child.poll() is not None or time.monotonic() > deadline:
            stop()
            raise RuntimeError(f"the stream pumps did not start (exit code {child.returncode})")
    return stop


def _forward(lines, running: threading.Event) -> None:
    """The child's stdout onto ours (looked up per line: local paging swaps in its tap later).
    A line that cannot be passed on is logged and dropped: were this thread to end, the pipe
    would fill and every pump would block on its next print."""
    for line in lines:
        if line.rstrip("\n") == READY:
            running.set()
            continue
        try:
            sys.stdout.write(line)
        except Exception:
            log.exception("could not pass on a line of the stream pumps' output: %.200s", line)


class WholeLines(io.TextIOBase):
    """The child's sys.stdout: each thread's text goes out a whole line per write, so the
    handlers' concurrent prints (print writes the text and the newline apart) never splice
    two EMF documents into one line."""

    def __init__(self, target):
        super().__init__()
        self.target = target
        self._pending = threading.local()
        self._writing = threading.Lock()

    def write(self, text: str) -> int:
        *lines, self._pending.text = (getattr(self._pending, "text", "") + text).split("\n")
        if lines:
            with self._writing:
                self.target.write("".join(line + "\n" for line in lines))
                self.target.flush()
        return len(text)

    def flush(self) -> None:
        self.target.flush()


def start_pumps(app, lanes: int) -> list[Any]:
    """A StreamPump for each of the app's DynamoDB stream handlers, under the failure policy
    the template gives its event source mapping."""
    import boto3

    from chalicelib.platform.settings import get_settings
    from local.stack import app_handlers
    from local.stream_pump import FailurePolicy, OnFailureDestination, StreamPump

    settings = get_settings()
    ddb, streams, sqs = (
        boto3.client("dynamodb"),
        boto3.client("dynamodbstreams"),
        boto3.client("sqs"),
    )
    destinations: dict[str | None, OnFailureDestination] = {}
    pumps = []
    for source, handler in app_handlers(app, "DynamoDBEventConfig"):
        table = source.stream_arn.split(":table/")[1].split("/stream")[0]
        policy = FailurePolicy.from_template(source.name, settings.stage, source.batch_size)
        if policy.on_failure_queue not in destinations:
            destinations[policy.on_failure_queue] = OnFailureDestination.for_policy(policy, sqs)
        pump = StreamPump(
            ddb,
            streams,
            table,
            handler,
            policy=policy,
            destination=destinations[policy.on_failure_queue],
            function_arn=f"arn:aws:lambda:{settings.region}:123456789012:function:"
            f"paytrack-{settings.stage}-{source.name}",
            lanes=lanes,
        )
        pump.start()
        pumps.append(pump)
        log.info("stream pump: %s -> %s", table, source.name)
    return pumps


def main() -> None:
    from local.stack import APP_LOG, configure_logging, load_app

    configure_logging()
    sys.stdout = WholeLines(sys.stdout)
    sys.path.insert(0, str(REPO))
    _factory, app = load_app()
    from chalicelib.platform.observability import logger
    from local import console, heap

    console.split_app_logs(logger, APP_LOG, fresh=False)  # like the API's lines: in the app log
    pumps = start_pumps(app, int(sys.argv[1]))
    heap.freeze_long_lived_objects()
    print(READY, flush=True)
    sys.stdin.read()  # until the stack closes the pipe or dies
    for pump in pumps:
        pump.stop()


if __name__ == "__main__":
    main()
