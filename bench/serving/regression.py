"""Same-run regression check of the REST JSON path: this tree against another, side by side on one core.

    .venv/bin/python bench/serving/regression.py --baseline-src /tmp/modelops-main [--rounds 5] [--duration 6]

Both servers serve the rf model of `run.py` (same interpreter, same settings, /metrics scraped
every 5 s), both pinned to CPU 0, and are loaded **at the same time** by two wrk processes pinned
to CPU 1, batch 1, at concurrency 8 and 64. The kernel shares CPU 0 between them, so whatever
else the machine does lands on both alike, in the same instant: the ratio of requests served
(and of server CPU time per request) is steady to about a percent from round to round, where
two servers loaded one after the other on a shared machine differ by ±20%.

The result is the median over the rounds of this tree's requests served per baseline request
(1.0: as fast) and of its CPU time per request per the baseline's. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import models as trained  # noqa: E402
import run  # noqa: E402
from benchlib import cpu_seconds  # noqa: E402

SERVERS = (("modelops", "rf"), ("baseline", "rf"))


def side_by_side(
    started: dict[tuple[str, str], tuple[subprocess.Popen[bytes], str]],
    body: Path,
    concurrency: int,
    duration: int,
    work: Path,
) -> dict[str, dict[str, float]]:
    """Both servers loaded at once; per server: requests served, CPU seconds, errors."""
    results: dict[str, dict[str, float]] = {}
    before = {kind: cpu_seconds(process.pid) for (kind, _), (process, _) in started.items()}

    def load(kind: str, model: str, path: str) -> None:
        results[kind] = run.run_wrk(run.PORTS[(kind, model)], path, body, concurrency, duration, work)

    threads = [threading.Thread(target=load, args=(kind, model, path)) for (kind, model), (_, path) in started.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for (kind, _), (process, _) in started.items():
        results[kind]["cpu_s"] = cpu_seconds(process.pid) - before[kind]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-src", type=Path, required=True, help="the source tree to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=6, help="seconds per round and concurrency")
    parser.add_argument("--work", type=Path, default=Path("/tmp/modelops-bench"))
    parser.add_argument("--out", type=Path, default=HERE / "results-regression.json")
    args = parser.parse_args()
    work: Path = args.work
    models = trained.main(work)
    checks = json.loads((work / "rf-check.json").read_text())
    body = work / "body.json"
    body.write_bytes(run.infer_body(checks["rows"][0]))
    started: dict[tuple[str, str], tuple[subprocess.Popen[bytes], str]] = {}
    scrapers: list[run.Scraper] = []
    rounds: dict[int, list[dict[str, Any]]] = {c: [] for c in run.CONCURRENCY}
    load_before = os.getloadavg()
    try:
        for kind, model in SERVERS:
            started[(kind, model)] = run.start_server(kind, model, work, models, args.baseline_src)
        mismatches = {
            kind: run.check_predictions(run.PORTS[(kind, m)], path, checks) for (kind, m), (_, path) in started.items()
        }
        side_by_side(started, body, 8, 2, work)  # warm-up, not counted
        for kind, model in SERVERS:
            scrapers.append(run.Scraper(run.PORTS[(kind, model)]))
            scrapers[-1].start()
        for number in range(args.rounds):
            for concurrency in run.CONCURRENCY:
                result = side_by_side(started, body, concurrency, args.duration, work)
                ours, base = result["modelops"], result["baseline"]
                entry = {
                    "requests": {k: int(v["requests"]) for k, v in result.items()},
                    "cpu_s": {k: round(v["cpu_s"], 3) for k, v in result.items()},
                    "errors": {k: int(v["errors"]) for k, v in result.items()},
                    "requests_ratio": ours["requests"] / base["requests"],
                    "cpu_per_request_ratio": (ours["cpu_s"] / ours["requests"]) / (base["cpu_s"] / base["requests"]),
                }
                rounds[concurrency].append(entry)
                print(f"round {number + 1} c={concurrency:<3} {entry}", flush=True)
    finally:
        for scraper in scrapers:
            scraper.done.set()
        for process, _ in started.values():
            run.stop(process)
    summary = {
        str(c): {
            "requests_ratio": round(statistics.median(r["requests_ratio"] for r in entries), 3),
            "cpu_per_request_ratio": round(statistics.median(r["cpu_per_request_ratio"] for r in entries), 3),
            "requests_ratio_per_round": [round(r["requests_ratio"], 3) for r in entries],
        }
        for c, entries in rounds.items()
    }
    report = {
        "summary": summary,
        "rounds": {str(c): entries for c, entries in rounds.items()},
        "prediction_mismatches": mismatches,
        "baseline_src": str(args.baseline_src),
        "duration_s": args.duration,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    args.out.write_text(json.dumps(report, indent=2))
    print()
    print("| concurrency | requests served, this tree / baseline | server CPU per request, this tree / baseline |")
    print("|---|---|---|")
    for c, s in summary.items():
        print(f"| {c} | {s['requests_ratio']:.3f} | {s['cpu_per_request_ratio']:.3f} |")
    print(f"prediction mismatches vs scikit-learn (held-out rows): {mismatches}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
