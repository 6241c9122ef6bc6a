"""Benchmark: the modelops server vs MLServer vs a bare ASGI app, same models, same machine, one run.

    .venv/bin/python bench/serving/run.py [--duration 10] [--work /tmp/modelops-bench]

What it does, in one run:
1. trains the two breast_cancer models with the trainer's code (bench/serving/models.py);
2. makes sure MLServer is installed in its own venv (~/.cache/modelops-bench/mlserver-venv,
   never the project's), with the project's scikit-learn version so the joblib files load;
3. for each server in turn: starts it pinned to CPU 0 (one process, defaults otherwise; ours
   with metrics and drift tracking on, /metrics scraped every 5 s during the run), checks that
   its answers equal scikit-learn's on every held-out row (V2 infer, batch 1), then drives it
   with wrk pinned to CPU 1: POST V2 infer, batch 1, at concurrency 8 and 64;
4. prints the table (requests/s, p50, p99, ratios) and writes results.json.

Needs `wrk` (Debian: apt-get install -y wrk). Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PYTHON = sys.executable
MLSERVER_VENV = Path.home() / ".cache" / "modelops-bench" / "mlserver-venv"
MLSERVER_VERSION = "1.7.1"
CONCURRENCY = (8, 64)
PORTS = {("bare", "-"): 18190, ("modelops", "rf"): 18191, ("mlserver", "rf"): 18192,
         ("modelops", "lr"): 18193, ("mlserver", "lr"): 18194}  # fmt: skip


@dataclass
class Case:
    server: str
    model: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


def ensure_mlserver() -> Path:
    binary = MLSERVER_VENV / "bin" / "mlserver"
    if binary.exists():
        return binary
    MLSERVER_VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(MLSERVER_VENV)], check=True)
    import numpy

    subprocess.run(
        [
            str(MLSERVER_VENV / "bin" / "pip"), "install", "-q",
            f"mlserver=={MLSERVER_VERSION}", f"mlserver-sklearn=={MLSERVER_VERSION}",
            f"scikit-learn=={_sklearn_version()}", f"numpy=={numpy.__version__}",
        ],
        check=True,
    )  # fmt: skip
    return binary


def _pinned(cpu: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu)]
    return []


def _get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_ready(port: int, path: str, process: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            if _get(port, path)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server on port {port} not ready after {timeout}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def infer_body(row: list[float]) -> bytes:
    return json.dumps(
        {"inputs": [{"name": "input-0", "shape": [1, len(row)], "datatype": "FP64", "data": row}]}
    ).encode()


def check_predictions(port: int, path: str, check: dict[str, Any]) -> int:
    """Number of held-out rows where the server's label differs from scikit-learn's."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    mismatches = 0
    try:
        for row, expected in zip(check["rows"], check["expected"], strict=True):
            connection.request("POST", path, body=infer_body(row), headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            payload = json.loads(response.read())
            if response.status != 200:
                raise RuntimeError(f"{path} answered {response.status}: {payload}")
            got = payload["outputs"][0]["data"][0]
            mismatches += got != expected
    finally:
        connection.close()
    return mismatches


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(port: int, path: str, body_file: Path, concurrency: int, duration: int, work: Path) -> dict[str, float]:
    script = work / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
    )
    command = [
        *_pinned(1), "wrk", "-t1", f"-c{concurrency}", f"-d{duration}s", "--latency", "-s", str(script),
        f"http://127.0.0.1:{port}{path}",
    ]  # fmt: skip
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*", output)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(0)))
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors}


class Scraper(threading.Thread):
    """Scrapes /metrics every few seconds, as Prometheus would, so drift statistics really run."""

    def __init__(self, port: int, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.port, self.every = port, every
        self.done = threading.Event()
        self.last = b""

    def run(self) -> None:
        while not self.done.wait(self.every):
            try:
                self.last = _get(self.port, "/metrics", timeout=5)[1]
            except OSError:
                pass


def start_server(kind: str, model: str, work: Path, models: dict[str, Any]) -> tuple[subprocess.Popen[bytes], str]:
    """The process and its infer path."""
    log = open(work / f"{kind}-{model}.log", "wb")
    port = PORTS[(kind, model)]
    if kind == "bare":
        command = [*_pinned(0), PYTHON, str(HERE / "bare_asgi.py"), str(port)]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_ready(port, "/", process)
        return process, f"/v2/models/{model}/infer"
    if kind == "modelops":
        command = [
            *_pinned(0), PYTHON, "-m", "modelops.serving", "--model-uri", models[model]["uri"],
            "--model-name", model, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        wait_ready(port, "/v2/health/ready", process)
        return process, f"/v2/models/{model}/infer"
    environment = {
        **os.environ,
        "MLSERVER_HTTP_PORT": str(port),
        "MLSERVER_GRPC_PORT": str(port + 100),
        "MLSERVER_METRICS_PORT": str(port + 200),
        "MLSERVER_PARALLEL_WORKERS": "0",  # one process, like ours
        "MLSERVER_DEBUG": "false",  # no access log, like ours
    }
    command = [*_pinned(0), str(ensure_mlserver()), "start", str(work / "mlserver" / model)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    wait_ready(port, f"/v2/models/{model}/ready", process)
    return process, f"/v2/models/{model}/infer"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per case (default 10)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/modelops-bench"))
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every case; the table shows medians")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE))
    import models as trained

    work: Path = args.work
    print("training models...", flush=True)
    models = trained.main(work)
    ensure_mlserver()
    checks = {m: json.loads((work / f"{m}-check.json").read_text()) for m in models}
    body_file = work / "body.json"
    body_file.write_bytes(infer_body(checks["rf"]["rows"][0]))
    mismatches: dict[str, int] = {}
    scraped: dict[str, str] = {}
    runs: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    load_before = os.getloadavg()
    started: dict[tuple[str, str], tuple[subprocess.Popen[bytes], str]] = {}
    scrapers: list[Scraper] = []
    try:
        # All servers up at once (idle ones cost nothing), cases interleaved round by round,
        # so a burst of other work on the machine does not land on one server only.
        for kind, model in PORTS:
            started[(kind, model)] = start_server(kind, model, work, models)
        for (kind, model), (_, path) in started.items():
            port = PORTS[(kind, model)]
            if kind != "bare":
                mismatches[f"{kind}/{model}"] = check_predictions(port, path, checks[model])
            run_wrk(port, path, body_file, 8, 2, work)  # warm-up, not counted
            if kind == "modelops":
                scrapers.append(Scraper(port))
                scrapers[-1].start()
        for round_number in range(args.rounds):
            for concurrency in CONCURRENCY:
                for (kind, model), (_, path) in started.items():
                    result = run_wrk(PORTS[(kind, model)], path, body_file, concurrency, args.duration, work)
                    runs.setdefault((kind, model, concurrency), []).append(result)
                    print(f"round {round_number + 1} {kind:9} {model:3} c={concurrency:<3} {result}", flush=True)
        for (kind, model), _ in started.items():
            if kind == "modelops":
                scraped[model] = _get(PORTS[(kind, model)], "/metrics")[1].decode()
    finally:
        for scraper in scrapers:
            scraper.done.set()
        for process, _ in started.values():
            stop(process)
    cases = [Case(kind, model, concurrency, **_median(results)) for (kind, model, concurrency), results in runs.items()]
    report = {
        "cases": [asdict(c) for c in cases],
        "prediction_mismatches": mismatches,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "rounds": args.rounds,
        "duration_s": args.duration,
        "cpus": os.cpu_count(),
        "drift_metrics_present": {m: "modelops_drift_score" in text for m, text in scraped.items()},
    }
    args.out.write_text(json.dumps(report, indent=2))
    print()
    print(table(cases, mismatches))
    return 0


def _median(results: list[dict[str, float]]) -> dict[str, Any]:
    """Per-metric median over the rounds (errors: summed)."""
    merged: dict[str, Any] = {k: statistics.median(r[k] for r in results) for k in ("rps", "p50_ms", "p99_ms")}
    merged["errors"] = int(sum(r["errors"] for r in results))
    return merged


def _find(cases: list[Case], server: str, model: str, concurrency: int) -> Case:
    return next(c for c in cases if c.server == server and c.model == model and c.concurrency == concurrency)


def table(cases: list[Case], mismatches: dict[str, int]) -> str:
    lines = [
        "| model | c | modelops req/s | MLServer req/s | bare req/s | throughput vs MLServer | vs bare "
        "| p50 ms (ours / MLServer) | p99 ms (ours / MLServer) | p99 ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model in ("rf", "lr"):
        for concurrency in CONCURRENCY:
            ours = _find(cases, "modelops", model, concurrency)
            theirs = _find(cases, "mlserver", model, concurrency)
            bare = _find(cases, "bare", "-", concurrency)
            lines.append(
                f"| {model} | {concurrency} | {ours.rps:,.0f} | {theirs.rps:,.0f} | {bare.rps:,.0f} "
                f"| {ours.rps / theirs.rps:.1f}x | {ours.rps / bare.rps:.0%} "
                f"| {ours.p50_ms:.2f} / {theirs.p50_ms:.2f} | {ours.p99_ms:.2f} / {theirs.p99_ms:.2f} "
                f"| {ours.p99_ms / theirs.p99_ms:.2f} |"
            )
    errors = sum(c.errors for c in cases)
    lines.append("")
    lines.append(f"prediction mismatches vs scikit-learn (held-out rows): {mismatches}; HTTP/socket errors: {errors}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
