"""How much faster `parallelism: 2` could be at best on this machine: the trainer's steps without Kubernetes.

`run.py` times a TrainingRun end to end through the operator. This runs the same 16-trial search
with the trainer's command line directly, the way the Jobs run it (fresh processes, one BLAS/OpenMP
thread each), and splits the time into the parts the operator cannot change:

- one pod: `train` with the whole search, then refit and save;
- two pods: both `tune` shards at once (the slower one decides), then `train --tuning-shards 2`.

From the trainer's own log timestamps: how well the search itself splits over two processes on
two cores (one pod's search / the slower shard's), and the ceiling of the end-to-end speedup, one
pod / (the slower shard + the final step's refit and save), i.e. as if a second pod cost nothing to
start and import and the control plane took no CPU. Cases alternate in order round by round.

    .venv/bin/python bench/tuning/ceiling.py --rounds 2 --json bench/tuning/ceiling.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from run import ONE_THREAD, SEARCH

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchlib import machine, publish

SPEC = {"datasetRef": {"name": "digits"}, "model": {"algorithm": "random_forest"}, "tuning": SEARCH}
# What the trainer logs at the start of each phase (`modelops.trainer.train`).
SEARCH_STARTS = "INFO tuning random_forest:"
REFIT_STARTS = "INFO refitting random_forest"
SAVED = "INFO wrote model version"


class Trainer:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.store = f"file://{work / 'store'}"
        self.env = {**os.environ, **ONE_THREAD}

    def argv(self, command: str, name: str, *extra: str) -> list[str]:
        """The trainer's command line as a Job renders it, with this run's store."""
        argv = [sys.executable, "-m", "modelops.trainer", command, "--name", name, "--store", self.store]
        # A file of its own per process: the two shards of a search run at once under one name.
        fd, message = tempfile.mkstemp(prefix=f"{command}-{name}-", suffix=".msg", dir=self.work)
        os.close(fd)
        return [*argv, "--termination-message-path", message, *extra]

    def start(self, command: str, name: str, *extra: str) -> tuple[subprocess.Popen[str], float]:
        argv = self.argv(command, name, "--spec-json", json.dumps(SPEC), *extra)
        started = time.time()
        proc = subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        return proc, started

    def finish(self, proc: subprocess.Popen[str], started: float) -> dict[str, Any]:
        _, log = proc.communicate()
        ended = time.time()
        if proc.returncode != 0:
            raise SystemExit(f"{shlex.join(str(a) for a in proc.args)} failed ({proc.returncode}):\n{log}")  # type: ignore[union-attr]
        return {"wall": ended - started, "ended": ended, "phases": phase_times(log)}

    def prepare(self) -> None:
        argv = self.argv("prepare", "digits", "--builtin", "digits", "--target", "target")
        subprocess.run(argv, env=self.env, check=True, capture_output=True)


def phase_times(log: str) -> dict[str, float]:
    """Epoch seconds of the first log line starting each phase."""
    marks = {"search": SEARCH_STARTS, "refit": REFIT_STARTS, "saved": SAVED}
    found: dict[str, float] = {}
    for line in log.splitlines():
        for phase, mark in marks.items():
            if phase not in found and mark in line:
                stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
                found[phase] = stamp.timestamp()
    return found


def one_pod(trainer: Trainer, name: str) -> dict[str, float]:
    run = trainer.finish(*trainer.start("train", name, "--dataset", "digits"))
    phases = run["phases"]
    return {
        "wall_s": round(run["wall"], 2),
        "search_s": round(phases["refit"] - phases["search"], 2),
        "refit_save_s": round(phases["saved"] - phases["refit"], 2),
    }


def two_pods(trainer: Trainer, name: str) -> dict[str, Any]:
    started = [trainer.start("tune", name, "--dataset", "digits", "--shards", "2", "--shard", str(i)) for i in (0, 1)]
    # Waited for side by side: each shard's end is its own, not the moment the other one ended.
    with ThreadPoolExecutor(len(started)) as pool:
        shards = list(pool.map(lambda run: trainer.finish(*run), started))
    final = trainer.finish(*trainer.start("train", name, "--dataset", "digits", "--tuning-shards", "2"))
    phases = final["phases"]
    slowest = max(shard["wall"] for shard in shards)
    return {
        "shard_wall_s": [round(shard["wall"], 2) for shard in shards],
        # From the slower shard's search to its exit: what one pod's search is set against.
        "shard_search_s": [round(shard["ended"] - shard["phases"]["search"], 2) for shard in shards],
        "final_wall_s": round(final["wall"], 2),
        "final_refit_save_s": round(phases["saved"] - phases["refit"], 2),
        "wall_s": round(slowest + final["wall"], 2),
    }


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    def median(values: list[float]) -> float:
        return round(statistics.median(values), 2)

    one = [r["one_pod"] for r in rounds]
    two = [r["two_pods"] for r in rounds]
    search_speedups = [o["search_s"] / max(t["shard_search_s"]) for o, t in zip(one, two, strict=True)]
    two_step = [o["wall_s"] / t["wall_s"] for o, t in zip(one, two, strict=True)]
    ceilings = [o["wall_s"] / (max(t["shard_wall_s"]) + t["final_refit_save_s"]) for o, t in zip(one, two, strict=True)]
    return {
        "one_pod_s": median([o["wall_s"] for o in one]),
        "one_pod_search_s": median([o["search_s"] for o in one]),
        "one_pod_refit_save_s": median([o["refit_save_s"] for o in one]),
        "two_pods_s": median([t["wall_s"] for t in two]),
        "search_speedup": median(search_speedups),
        "speedup_without_kubernetes": median(two_step),
        "ceiling": median(ceilings),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=2, help="pairs of cases, alternating order (median)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="modelops-bench-ceiling-") as tmp:
        trainer = Trainer(Path(tmp))
        trainer.prepare()
        for round_ in range(args.rounds):
            result: dict[str, Any] = {"round": round_}
            # Each case trains a model of its own name: nothing is found stored from another case.
            for case in ("one_pod", "two_pods") if round_ % 2 == 0 else ("two_pods", "one_pod"):
                measure = one_pod if case == "one_pod" else two_pods
                result[case] = measure(trainer, f"{case.replace('_', '-')}-r{round_}")
                print(f"round {round_} {case}: {result[case]}", file=sys.stderr, flush=True)
            rounds.append(result)
    summary = summarize(rounds)
    summary["machine"] = machine(load_before)
    given = argv if argv is not None else sys.argv[1:]
    summary["command"] = shlex.join(["python", "bench/tuning/ceiling.py", *given])
    publish({"summary": summary, "search": SEARCH, "rounds": rounds}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
