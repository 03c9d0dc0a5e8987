"""The local API invokes the app for a bounded number of requests at once (local/stack.py
invocations_at_most); the rest wait connected, and a slow client holds no slot."""

from __future__ import annotations

import threading
import time

import pytest

from local.stack import invocations_at_most


class Gateway:
    """Counts the invocations running at once; each waits until the test lets it go."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.served = 0
        self.go = threading.Event()
        self._lock = threading.Lock()

    def handle_request(self, method, path, headers, body):
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.go.wait(10)
        with self._lock:
            self.running -= 1
            self.served += 1
        return {"statusCode": 200}


class Handler:
    """The part of chalice's ChaliceRequestHandler the bound wraps."""

    def __init__(self, gateway: Gateway) -> None:
        self.local_gateway = gateway
        self._generic_handle()

    def _generic_handle(self) -> None:
        self.local_gateway.handle_request(method="GET", path="/", headers={}, body=None)


def _until(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_no_more_than_the_slots_run_at_once_and_every_request_is_served():
    gateway = Gateway()
    bounded = invocations_at_most(Handler, 3)
    threads = [threading.Thread(target=bounded, args=(gateway,)) for _ in range(12)]
    for thread in threads:
        thread.start()
    _until(lambda: gateway.running == 3)
    time.sleep(0.05)  # the other nine had time to start too, had they not been held
    assert gateway.running == 3
    gateway.go.set()
    for thread in threads:
        thread.join(10)
    assert gateway.most == 3
    assert gateway.served == 12


def test_a_failing_invocation_gives_its_slot_back():
    class Failing(Gateway):
        def handle_request(self, method, path, headers, body):
            raise RuntimeError("the app failed")

    bounded = invocations_at_most(Handler, 1)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            bounded(Failing())
    gateway = Gateway()
    gateway.go.set()
    bounded(gateway)
    assert gateway.served == 1
