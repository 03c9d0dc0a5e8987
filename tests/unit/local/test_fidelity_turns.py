"""The embedded AWS serves DynamoDB one request at a time (local/fidelity.py); who goes next
when both the stream consumers and the API wait is decided by turns, so the API's many request
threads cannot starve the few consumer lanes (a flash sale's `order.ready` stalled for a
minute that way), and the API, most of the requests and each one waited for, takes three
turns to the consumers' one."""

from __future__ import annotations

import threading
import time

from local import fidelity


def _served_order(waiting: list[bool]) -> list[bool]:
    """With one request holding its turn, `waiting` requests (True: a stream consumer's) queue
    in that order; the order they are then served in."""
    turns = fidelity.Turns(threading.RLock())
    served: list[bool] = []
    holding = threading.Event()
    release = threading.Event()

    def first() -> None:
        with turns.turn(False):
            holding.set()
            release.wait()

    def request(consumer: bool) -> None:
        with turns.turn(consumer):
            served.append(consumer)

    holder = threading.Thread(target=first)
    holder.start()
    holding.wait()
    queued = []
    for consumer in waiting:
        thread = threading.Thread(target=request, args=(consumer,))
        thread.start()
        queued.append(thread)
    _until(lambda: sum(turns._waiting.values()) == len(waiting))
    release.set()
    for thread in [holder, *queued]:
        thread.join(timeout=10)
    return served


def _until(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the requests never queued"
        time.sleep(0.001)


def test_a_consumer_waiting_behind_many_api_requests_goes_within_the_api_s_turns():
    served = _served_order([False] * 20 + [True])

    # the request holding the lock was the API's first turn; two more, then the consumer
    assert served.index(True) == fidelity.API_TURNS_PER_CONSUMER_TURN - 1
    assert served.count(False) == 20


def test_the_api_takes_its_turns_then_the_consumers_one_while_both_wait():
    served = _served_order([False] * 6 + [True] * 6)

    api, consumer = False, True
    assert served == [api, api, consumer, api, api, api, consumer, api] + [consumer] * 4


def test_a_consumer_arriving_after_the_api_had_its_turns_goes_next():
    turns = fidelity.Turns(threading.RLock(), api_turns=2)
    for _ in range(5):  # the API alone: every turn its own
        with turns.turn(False):
            pass
    assert turns._due(True) and not turns._due(False)


def test_one_side_alone_takes_every_turn():
    assert _served_order([True] * 5) == [True] * 5
    assert _served_order([False] * 5) == [False] * 5


def test_a_turn_holds_the_lock_and_a_request_can_take_it_again_inside():
    lock = threading.RLock()
    turns = fidelity.Turns(lock)

    with turns.turn(True):
        assert lock._is_owned()
        with lock:  # the backend's writes take the lock again
            pass
    assert not lock._is_owned()


def test_pump_requests_say_they_come_from_the_stream_consumers():
    class Handler:
        def __init__(self, user_agent: str):
            self.headers = {"User-Agent": user_agent}

    pump = f"Boto3/1 md/x app/{fidelity.STREAM_CONSUMERS_APP_ID} Botocore/1"
    assert fidelity._from_stream_consumer(Handler(pump))
    assert not fidelity._from_stream_consumer(Handler("Boto3/1 md/x Botocore/1"))
    assert not fidelity._from_stream_consumer(object())
