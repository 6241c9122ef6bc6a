"""The reconcile queue: one reconcile per burst of events, never two at once for one object, delays kept."""

from __future__ import annotations

import threading

from modelops.operator.workqueue import WorkQueue


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_added_many_times_while_waiting_is_reconciled_once() -> None:
    seen: list[str] = []
    done = threading.Event()

    def handle(key: str) -> None:
        seen.append(key)
        done.set()

    queue: WorkQueue[str] = WorkQueue(handle, workers=1)
    for _ in range(5):
        queue.add("a")
    assert len(queue) == 1
    queue.start()
    assert done.wait(5)
    queue.stop()
    assert seen == ["a"]


def test_the_earliest_due_time_wins() -> None:
    clock = Clock()
    queue: WorkQueue[str] = WorkQueue(lambda key: None, workers=1, clock=clock)
    queue.add("a", delay=60)
    queue.add("a", delay=5)
    queue.add("a", delay=30)
    assert queue.due("a") == 5


def test_a_key_added_while_it_is_reconciled_runs_again_afterwards_never_alongside() -> None:
    running, release, second = threading.Event(), threading.Event(), threading.Event()
    calls: list[int] = []
    overlap: list[bool] = []
    active = threading.Lock()

    def handle(key: str) -> None:
        overlap.append(not active.acquire(blocking=False))
        calls.append(len(calls))
        if len(calls) == 1:
            running.set()
            release.wait(5)
        else:
            second.set()
        active.release()

    queue: WorkQueue[str] = WorkQueue(handle, workers=4)
    queue.start()
    queue.add("a")
    assert running.wait(5)
    queue.add("a")  # while the first one runs
    release.set()
    assert second.wait(5)
    queue.stop()
    assert len(calls) == 2 and overlap == [False, False]
