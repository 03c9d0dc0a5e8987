"""The stream pumps' process (local/pump_process.py): what it prints reaches the stack's stdout,
where local paging reads the EMF metrics, and its readiness line is not passed on."""
from __future__ import annotations

import io
import sys
import threading

from local import pump_process


def test_the_childs_lines_are_forwarded_to_whatever_stdout_is_now_and_ready_is_noticed(monkeypatch):
    first, second = io.StringIO(), io.StringIO()
    running = threading.Event()

    def lines():
        yield '{"_aws": {"Timestamp": 1}}\n'
        assert not running.is_set()
        yield pump_process.READY + "\n"
        assert running.is_set()
        monkeypatch.setattr(sys, "stdout", second)      # local paging swaps in its tap
        yield "order.paid published\n"

    monkeypatch.setattr(sys, "stdout", first)
    pump_process._forward(lines(), running)
    assert first.getvalue() == '{"_aws": {"Timestamp": 1}}\n'
    assert second.getvalue() == "order.paid published\n"
