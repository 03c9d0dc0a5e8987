"""The stream pumps' process (local/pump_process.py): what it prints reaches the stack's stdout,
where local paging reads the EMF metrics, and its readiness line is not passed on."""

from __future__ import annotations

import io
import sys
import threading

from local import fidelity, pump_process


def test_the_childs_lines_are_forwarded_to_whatever_stdout_is_now_and_ready_is_noticed(monkeypatch):
    first, second = io.StringIO(), io.StringIO()
    running = threading.Event()

    def lines():
        yield '{"_aws": {"Timestamp": 1}}\n'
        assert not running.is_set()
        yield pump_process.READY + "\n"
        assert running.is_set()
        monkeypatch.setattr(sys, "stdout", second)  # local paging swaps in its tap
        yield "order.paid published\n"

    monkeypatch.setattr(sys, "stdout", first)
    pump_process._forward(lines(), running)
    assert first.getvalue() == '{"_aws": {"Timestamp": 1}}\n'
    assert second.getvalue() == "order.paid published\n"


def test_a_line_that_cannot_be_passed_on_does_not_end_the_forwarding(monkeypatch):
    """Were the forwarder to end, the pipe would fill and every pump would block on a print."""

    class Refusing(io.StringIO):
        def write(self, text):
            if text.startswith("bad"):
                raise ValueError("Extra data")
            return super().write(text)

    out = Refusing()
    monkeypatch.setattr(sys, "stdout", out)
    pump_process._forward(iter(["bad {}{}\n", "good\n"]), threading.Event())
    assert out.getvalue() == "good\n"


def test_concurrent_prints_in_the_child_come_out_as_whole_lines():
    target = io.StringIO()
    lines = pump_process.WholeLines(target)
    barrier = threading.Barrier(8)

    def printer(n: int) -> None:
        barrier.wait()
        for _ in range(200):
            print(f'{{"_aws": {n}}}', file=lines)

    threads = [threading.Thread(target=printer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = target.getvalue().splitlines()
    assert len(written) == 1600 and set(written) == {f'{{"_aws": {n}}}' for n in range(8)}


def test_the_pumps_requests_name_them_so_the_embedded_aws_gives_them_their_turns(monkeypatch):
    """local/fidelity.Turns tells the stream consumers' requests from the API's by botocore's
    application id, which the child gets from its environment."""
    started: dict = {}

    class Child:
        stdout = iter([pump_process.READY + "\n"])
        stdin = io.StringIO()
        returncode = 0

        def __init__(self, args, **kwargs):
            started.update(kwargs)

        def poll(self):
            return None

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(pump_process.subprocess, "Popen", Child)
    pump_process.start(lanes=4)()

    assert started["env"]["AWS_SDK_UA_APP_ID"] == fidelity.STREAM_CONSUMERS_APP_ID
