"""Runs jobs at given times on a worker pool: the simulator's retry clock."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


class RetryScheduler:
    """One timer thread hands due jobs to a worker pool, so a delivery waiting for its next retry
    holds no worker in the meantime (a gateway may keep a notice retrying for a day)."""

    def __init__(self, workers: int):
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cv = threading.Condition()
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sim-deliver")
        self._timer = threading.Thread(target=self._run, name="sim-timer", daemon=True)
        self._timer.start()

    def call_at(self, when: float, job: Callable[[], None]) -> bool:
        """Run `job` at `time.monotonic()` value `when`; False once the scheduler is closed."""
        with self._cv:
            if self._closed:
                return False
            heapq.heappush(self._heap, (when, next(self._order), job))
            self._cv.notify()
            return True

    def close(self) -> None:
        """Drop the jobs not yet due and wait for the running ones."""
        with self._cv:
            self._closed = True
            self._heap.clear()
            self._cv.notify()
        self._timer.join()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        with self._cv:
            while not self._closed:
                delay = self._heap[0][0] - time.monotonic() if self._heap else None
                if delay is None or delay > 0:
                    self._cv.wait(delay)
                else:
                    self._pool.submit(self._guarded, heapq.heappop(self._heap)[2])

    @staticmethod
    def _guarded(job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:  # a bug in one job must not vanish silently inside the pool
            log.exception("simulator job failed")
