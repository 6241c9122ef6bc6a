"""A bounded HTTP load against a Service, run inside the node's network namespace (see :mod:`tests.e2e.load`).

Standard library only: it runs under the host's Python, in the one place cluster addresses are
routed. It reads phases from stdin, one JSON object a line, and switches to each as it arrives:

    {"name": "high", "workers": 4, "pause": 0.0, "body": {...}, "labels": [...]}

``workers`` threads each send a request, then sleep ``pause`` seconds. With ``labels`` (the true
labels of the body's rows) every answer's prediction ids are sent back to ``/feedback``, as a
client that learns the truth later would. A line ``stop`` (or the end of stdin) ends the load; it
then prints one JSON summary per phase: requests sent, failures (and the first few errors), and
for each ``model_version`` that answered how often and when first and last (seconds since start).

Every request opens a new connection, so kube-proxy spreads them over all ready pods, new ones
included. The load is bounded whatever stdin says: at most MAX_REQUESTS in all, MAX_SECONDS long.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request
from typing import Any

MAX_REQUESTS = 60_000
MAX_SECONDS = 900.0
TIMEOUT = 10.0
STARTED = time.monotonic()


class Phase:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = str(spec.get("name", "phase"))
        self.workers = int(spec["workers"])
        self.pause = float(spec.get("pause", 0.0))
        self.body = json.dumps(spec["body"]).encode()
        self.labels = spec.get("labels")
        self.sent = 0
        self.failed = 0
        self.errors: list[str] = []
        self.versions: dict[str, list[float]] = {}  # version -> [count, first, last]
        self.lock = threading.Lock()

    def record(self, version: str | None, error: str | None) -> None:
        now = round(time.monotonic() - STARTED, 2)
        with self.lock:
            self.sent += 1
            if error is not None:
                self.failed += 1
                if len(self.errors) < 10:
                    self.errors.append(f"{now}s {error}")
            elif version is not None:
                seen = self.versions.setdefault(version, [0, now, now])
                seen[0] += 1
                seen[2] = now

    def summary(self) -> dict[str, Any]:
        versions = {v: {"count": int(c), "first": f, "last": last} for v, (c, f, last) in self.versions.items()}
        counts = {"sent": self.sent, "failed": self.failed, "errors": self.errors}
        return {"name": self.name, **counts, "versions": versions}


class Load:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.phases: list[Phase] = []
        self.stopped = threading.Event()
        self.threads: list[threading.Thread] = []
        self.total = 0
        self.lock = threading.Lock()

    def post(self, path: str, body: bytes) -> Any:
        request = urllib.request.Request(
            self.url + path, data=body, headers={"Content-Type": "application/json", "Connection": "close"}
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return json.loads(answer.read())

    def request(self, phase: Phase) -> None:
        try:
            answer = self.post("/predict", phase.body)
            if phase.labels is not None:
                pairs = zip(answer["prediction_ids"], phase.labels, strict=True)
                feedback = [{"prediction_id": i, "label": y} for i, y in pairs]
                self.post("/feedback", json.dumps({"feedback": feedback}).encode())
        except Exception as error:  # every failure counts, whatever its kind
            phase.record(None, repr(error)[:200])
            return
        phase.record(answer["model_version"], None)

    def worker(self, index: int) -> None:
        while not self.stopped.is_set():
            phase = self.phases[-1]
            if index >= phase.workers:
                time.sleep(0.05)
                continue
            with self.lock:
                self.total += 1
                if self.total > MAX_REQUESTS or time.monotonic() - STARTED > MAX_SECONDS:
                    self.stopped.set()
                    return
            self.request(phase)
            if phase.pause:
                time.sleep(phase.pause)

    def switch(self, spec: dict[str, Any]) -> None:
        self.phases.append(Phase(spec))
        while len(self.threads) < self.phases[-1].workers:
            thread = threading.Thread(target=self.worker, args=(len(self.threads),), daemon=True)
            self.threads.append(thread)
            thread.start()

    def stop(self) -> list[dict[str, Any]]:
        self.stopped.set()
        for thread in self.threads:
            thread.join(TIMEOUT + 1)
        return [phase.summary() for phase in self.phases]


def main() -> None:
    load = Load(sys.argv[1])
    for line in sys.stdin:
        if line.strip() == "stop" or load.stopped.is_set():
            break
        load.switch(json.loads(line))
        print(json.dumps({"switched": load.phases[-1].name}), flush=True)
    print(json.dumps(load.stop()), flush=True)


if __name__ == "__main__":
    main()
