"""A work queue of objects to reconcile, as controller-runtime's: deduplicated, delayed, one worker per key.

Watch events only add keys; workers take them out and reconcile. A key added again while it is
waiting is not added twice (a burst of events on one object is one reconcile), and a key being
reconciled is not handed to a second worker: added meanwhile, it runs again once the first is
done. A key can be added with a delay (retry later, resync, "look again at the next tick"); the
earliest due time wins.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
log = logging.getLogger("modelops.operator")


class WorkQueue(Generic[K]):
    def __init__(self, handle: Callable[[K], None], *, workers: int, clock: Callable[[], float] = time.monotonic):
        self._handle = handle
        self._workers = workers
        self._clock = clock
        self._due: dict[K, float] = {}  # waiting keys and when they are due
        self._heap: list[tuple[float, int, K]] = []
        self._running: set[K] = set()
        self._again: dict[K, float] = {}  # added while running: due time once the running one is done
        self._sequence = 0
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def add(self, key: K, delay: float = 0.0) -> None:
        """Reconcile `key` after `delay` seconds (or sooner, if it is already due sooner)."""
        due = self._clock() + max(0.0, delay)
        with self._cond:
            if key in self._running:
                self._again[key] = min(due, self._again.get(key, due))
                return
            if key in self._due and self._due[key] <= due:
                return
            self._push(key, due)

    def _push(self, key: K, due: float) -> None:
        self._due[key] = due
        self._sequence += 1
        heapq.heappush(self._heap, (due, self._sequence, key))
        self._cond.notify()

    def __len__(self) -> int:
        with self._cond:
            return len(self._due)

    def due(self, key: K) -> float | None:
        """When a waiting key is due (by the queue's clock), or None when it is not waiting."""
        with self._cond:
            return self._due.get(key)

    def start(self) -> None:
        for number in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"reconcile-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _next(self) -> K | None:
        """The next due key (waiting for it), or None when stopping."""
        with self._cond:
            while not self._stopping:
                now = self._clock()
                while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
                    heapq.heappop(self._heap)  # superseded by an earlier due time
                if self._heap and self._heap[0][0] <= now:
                    _, _, key = heapq.heappop(self._heap)
                    del self._due[key]
                    self._running.add(key)
                    return key
                self._cond.wait(self._heap[0][0] - now if self._heap else None)
            return None

    def _work(self) -> None:
        while (key := self._next()) is not None:
            try:
                self._handle(key)
            except Exception:  # the handler classifies its own errors; this is the last line of defence
                log.exception("reconcile of %s failed", key)
            finally:
                with self._cond:
                    self._running.discard(key)
                    again = self._again.pop(key, None)
                    if again is not None and (key not in self._due or self._due[key] > again):
                        self._push(key, again)
