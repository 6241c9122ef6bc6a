"""Benchmark: the modelops server vs MLServer vs a bare ASGI app, same models, same machine, one run.

    .venv/bin/python bench/serving/run.py [--duration 10] [--rounds 1] [--baseline-src DIR]

What it does, in one run:
1. trains the two breast_cancer models with the trainer's code (bench/serving/models.py);
2. makes sure MLServer is installed in its own venv (~/.cache/modelops-bench/mlserver-venv,
   never the project's), with the project's scikit-learn version so the joblib files load;
3. starts every server pinned to CPU 0 (one process each, defaults otherwise; ours with metrics
   and drift tracking on, /metrics scraped every 5 s during the run), checks that its answers
   equal scikit-learn's on every held-out row (V2 infer, batch 1, over REST and gRPC), then
   drives it pinned to CPU 1, batch 1, at concurrency 8 and 64, with the same request over
   each protocol it speaks: REST JSON (wrk), REST with the binary tensor data extension (wrk;
   MLServer does not implement it), gRPC ModelInfer with raw_input_contents, as tritonclient
   sends it (ghz);
4. with `--baseline-src DIR` (e.g. an export of main), also serves the rf model from that source
   tree with the same interpreter, so the REST JSON path of this tree and of the baseline are
   compared in the same run;
5. prints the tables (requests/s, p50, p99, ratios) and writes results.json.

Needs `wrk` (Debian: apt-get install -y wrk) and `ghz` (go install github.com/bojand/ghz/cmd/ghz@latest,
in $PATH or ~/go/bin). Traffic goes to 127.0.0.1 only.
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
sys.path.insert(0, str(ROOT / "bench"))
from benchlib import cpu_seconds  # noqa: E402

PYTHON = sys.executable
MLSERVER_VENV = Path.home() / ".cache" / "modelops-bench" / "mlserver-venv"
MLSERVER_VERSION = "1.7.1"
CONCURRENCY = (8, 64)
PORTS = {("bare", "-"): 18190, ("modelops", "rf"): 18191, ("mlserver", "rf"): 18192,
         ("modelops", "lr"): 18193, ("mlserver", "lr"): 18194, ("baseline", "rf"): 18195}  # fmt: skip
GRPC_OFFSET = 100  # each server's gRPC port is its HTTP port + 100
# The protocols each kind of server is driven with.
PROTOCOLS = {
    "bare": ("rest-json",),
    "modelops": ("rest-json", "rest-binary", "grpc"),
    "mlserver": ("rest-json", "grpc"),
    "baseline": ("rest-json",),
}


@dataclass
class Case:
    server: str
    model: str
    protocol: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float  # server CPU time per request served


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


def binary_body(row: list[float]) -> tuple[bytes, int]:
    """The same request with the binary tensor data extension (as tritonclient.http sends it by default)."""
    import numpy as np

    raw = np.asarray(row, dtype="<f8").tobytes()
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [1, len(row)],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": len(raw)},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    return header + raw, len(header)


def grpc_request(model: str, row: list[float]) -> bytes:
    """A serialized ModelInferRequest with raw_input_contents (as tritonclient.grpc sends it by default)."""
    import numpy as np
    from tritonclient.grpc import service_pb2

    request = service_pb2.ModelInferRequest(model_name=model)
    request.inputs.add(name="input-0", datatype="FP64", shape=[1, len(row)])
    request.raw_input_contents.append(np.asarray(row, dtype="<f8").tobytes())
    return bytes(request.SerializeToString())


def write_protoset(path: Path) -> Path:
    """The service's descriptors, from the generated modules the tritonclient wheel ships, for ghz."""
    from google.protobuf import descriptor_pb2
    from tritonclient.grpc import model_config_pb2, service_pb2

    files = descriptor_pb2.FileDescriptorSet()
    for module in (model_config_pb2, service_pb2):
        module.DESCRIPTOR.CopyToProto(files.file.add())
    path.write_bytes(files.SerializeToString())
    return path


def ghz_binary() -> str | None:
    found = shutil.which("ghz")
    fallback = Path.home() / "go" / "bin" / "ghz"
    return found or (str(fallback) if fallback.exists() else None)


def check_grpc_predictions(port: int, model: str, check: dict[str, Any]) -> int:
    """Number of held-out rows where the server's label over gRPC differs from scikit-learn's."""
    import numpy as np
    import tritonclient.grpc as triton_grpc

    client = triton_grpc.InferenceServerClient(f"127.0.0.1:{port}")
    mismatches = 0
    try:
        for row, expected in zip(check["rows"], check["expected"], strict=True):
            infer_input = triton_grpc.InferInput("input-0", [1, len(row)], "FP64")
            infer_input.set_data_from_numpy(np.asarray([row], dtype=np.float64))
            got = client.infer(model, [infer_input]).as_numpy("predict").ravel()[0]
            mismatches += (got.decode() if isinstance(got, bytes) else str(got)) != str(expected)
    finally:
        client.close()
    return mismatches


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


def run_wrk(
    port: int, path: str, body_file: Path, concurrency: int, duration: int, work: Path, json_length: int | None = None
) -> dict[str, float]:
    script = work / f"post-{body_file.name}.lua"
    headers = 'wrk.headers["Content-Type"] = "application/json"\n'
    if json_length is not None:
        headers = (
            'wrk.headers["Content-Type"] = "application/octet-stream"\n'
            f'wrk.headers["Inference-Header-Content-Length"] = "{json_length}"\n'
        )
    script.write_text(
        f'wrk.method = "POST"\n{headers}local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
    )
    command = [
        *_pinned(1), "wrk", "-t1", f"-c{concurrency}", f"-d{duration}s", "--latency", "-s", str(script),
        f"http://127.0.0.1:{port}{path}",
    ]  # fmt: skip
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*", output)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(0)))
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors, "requests": requests}


def run_ghz(port: int, request_file: Path, protoset: Path, concurrency: int, duration: int) -> dict[str, float]:
    binary = ghz_binary()
    assert binary is not None
    command = [
        *_pinned(1), binary, "--insecure", "--protoset", str(protoset),
        "--call", "inference.GRPCInferenceService/ModelInfer", "--binary-file", str(request_file),
        "-c", str(concurrency), "-z", f"{duration}s", "--cpus", "1", "--format", "json", f"127.0.0.1:{port}",
    ]  # fmt: skip
    report = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    latencies = {d["percentage"]: d["latency"] / 1e6 for d in report.get("latencyDistribution") or []}
    # When the duration ends ghz cancels the calls in flight, or closes their connection under them
    # ("transport is closing"): those are its own doing, not the server's errors.
    errors = sum(
        count
        for message, count in (report.get("errorDistribution") or {}).items()
        if "code = Canceled" not in message and "transport is closing" not in message
    )
    return {
        "rps": report["rps"],
        "p50_ms": latencies.get(50, 0.0),
        "p99_ms": latencies.get(99, 0.0),
        "errors": errors,
        "requests": report["count"],
    }


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


def start_server(
    kind: str, model: str, work: Path, models: dict[str, Any], baseline: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """The process and its infer path."""
    log = open(work / f"{kind}-{model}.log", "wb")
    port = PORTS[(kind, model)]
    if kind == "bare":
        command = [*_pinned(0), PYTHON, str(HERE / "bare_asgi.py"), str(port)]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_ready(port, "/", process)
        return process, f"/v2/models/{model}/infer"
    if kind in ("modelops", "baseline"):
        command = [
            *_pinned(0), PYTHON, "-m", "modelops.serving", "--model-uri", models[model]["uri"],
            "--model-name", model, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        ]  # fmt: skip
        source = ROOT
        environment = dict(os.environ)
        if kind == "modelops":
            command += ["--grpc-port", str(port + GRPC_OFFSET)]
        else:
            assert baseline is not None
            source = baseline
            environment["PYTHONPATH"] = str(baseline)
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=source, env=environment)
        wait_ready(port, "/v2/health/ready", process)
        return process, f"/v2/models/{model}/infer"
    environment = {
        **os.environ,
        "MLSERVER_HTTP_PORT": str(port),
        "MLSERVER_GRPC_PORT": str(port + GRPC_OFFSET),
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
    parser.add_argument("--baseline-src", type=Path, help="another source tree of modelops to serve rf from")
    parser.add_argument(
        "--servers", default=",".join(PROTOCOLS), help="which kinds of server to run (default: all), comma-separated"
    )
    parser.add_argument(
        "--protocols", default="rest-json,rest-binary,grpc", help="which protocols to drive (default: all)"
    )
    args = parser.parse_args()
    if not shutil.which("wrk") or ghz_binary() is None:
        print("wrk and ghz are needed: apt-get install -y wrk; go install github.com/bojand/ghz/cmd/ghz@latest")
        return 2
    sys.path.insert(0, str(HERE))
    import models as trained

    work: Path = args.work
    kinds = set(args.servers.split(","))
    protocols = set(args.protocols.split(","))
    print("training models...", flush=True)
    models = trained.main(work)
    if "mlserver" in kinds:
        ensure_mlserver()
    checks = {m: json.loads((work / f"{m}-check.json").read_text()) for m in models}
    row = checks["rf"]["rows"][0]
    bodies = {"rest-json": work / "body.json", "rest-binary": work / "body.bin"}
    bodies["rest-json"].write_bytes(infer_body(row))
    binary, json_length = binary_body(row)
    bodies["rest-binary"].write_bytes(binary)
    protoset = write_protoset(work / "inference.protoset")
    mismatches: dict[str, int] = {}
    scraped: dict[str, str] = {}
    runs: dict[tuple[str, str, str, int], list[dict[str, float]]] = {}
    load_before = os.getloadavg()
    started: dict[tuple[str, str], tuple[subprocess.Popen[bytes], str]] = {}
    scrapers: list[Scraper] = []
    targets = [key for key in PORTS if key[0] in kinds and (key[0] != "baseline" or args.baseline_src is not None)]

    def drive(kind: str, model: str, protocol: str, concurrency: int, duration: int) -> dict[str, float]:
        """One case; besides what the load generator saw, the server's CPU time per request served.

        CPU per request moves far less than throughput when other work shares the machine:
        it is what the same-run comparison with the baseline is judged on.
        """
        port = PORTS[(kind, model)]
        pid = started[(kind, model)][0].pid
        before = cpu_seconds(pid)
        if protocol == "grpc":
            request = work / f"grpc-{model}.bin"
            request.write_bytes(grpc_request(model, row))
            result = run_ghz(port + GRPC_OFFSET, request, protoset, concurrency, duration)
        else:
            length = json_length if protocol == "rest-binary" else None
            result = run_wrk(port, started[(kind, model)][1], bodies[protocol], concurrency, duration, work, length)
        result["cpu_us"] = (cpu_seconds(pid) - before) / max(result.pop("requests"), 1) * 1e6
        return result

    try:
        # All servers up at once (idle ones cost nothing), cases interleaved round by round,
        # so a burst of other work on the machine does not land on one server only.
        for kind, model in targets:
            started[(kind, model)] = start_server(kind, model, work, models, args.baseline_src)
        for (kind, model), (_, path) in started.items():
            port = PORTS[(kind, model)]
            if kind != "bare":
                mismatches[f"{kind}/{model}/rest"] = check_predictions(port, path, checks[model])
            if "grpc" in PROTOCOLS[kind]:
                mismatches[f"{kind}/{model}/grpc"] = check_grpc_predictions(port + GRPC_OFFSET, model, checks[model])
            for protocol in PROTOCOLS[kind]:
                if protocol in protocols:
                    drive(kind, model, protocol, 8, 2)  # warm-up, not counted
            if kind in ("modelops", "baseline"):  # both pay for their drift statistics alike
                scrapers.append(Scraper(port))
                scrapers[-1].start()
        for round_number in range(args.rounds):
            for concurrency in CONCURRENCY:
                for kind, model in started:
                    for protocol in (p for p in PROTOCOLS[kind] if p in protocols):
                        result = drive(kind, model, protocol, concurrency, args.duration)
                        runs.setdefault((kind, model, protocol, concurrency), []).append(result)
                        print(
                            f"round {round_number + 1} {kind:9} {model:3} {protocol:11} c={concurrency:<3} {result}",
                            flush=True,
                        )
        for kind, model in started:
            if kind == "modelops":
                scraped[model] = _get(PORTS[(kind, model)], "/metrics")[1].decode()
    finally:
        for scraper in scrapers:
            scraper.done.set()
        for process, _ in started.values():
            stop(process)
    cases = [
        Case(kind, model, protocol, concurrency, **_median(results))
        for (kind, model, protocol, concurrency), results in runs.items()
    ]
    report = {
        "cases": [asdict(c) for c in cases],
        "prediction_mismatches": mismatches,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "rounds": args.rounds,
        "duration_s": args.duration,
        "cpus": os.cpu_count(),
        "baseline_src": str(args.baseline_src) if args.baseline_src else None,
        "drift_metrics_present": {m: "modelops_drift_score" in text for m, text in scraped.items()},
    }
    args.out.write_text(json.dumps(report, indent=2))
    print()
    print(table(cases, mismatches))
    return 0


def _median(results: list[dict[str, float]]) -> dict[str, Any]:
    """Per-metric median over the rounds (errors: summed)."""
    merged: dict[str, Any] = {
        k: statistics.median(r[k] for r in results) for k in ("rps", "p50_ms", "p99_ms", "cpu_us")
    }
    merged["errors"] = int(sum(r["errors"] for r in results))
    return merged


def _find(cases: list[Case], server: str, model: str, protocol: str, concurrency: int) -> Case | None:
    return next(
        (c for c in cases if (c.server, c.model, c.protocol, c.concurrency) == (server, model, protocol, concurrency)),
        None,
    )


def table(cases: list[Case], mismatches: dict[str, int]) -> str:
    lines = [
        "| model | c | protocol | modelops req/s | MLServer req/s | throughput vs MLServer "
        "| p50 ms (ours / MLServer) | p99 ms (ours / MLServer) | p99 ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    # Binary REST has no MLServer counterpart: it is set against MLServer's fastest, gRPC.
    peer_protocol = {"rest-json": "rest-json", "rest-binary": "grpc", "grpc": "grpc"}
    for model in ("rf", "lr"):
        for concurrency in CONCURRENCY:
            for protocol in PROTOCOLS["modelops"]:
                ours = _find(cases, "modelops", model, protocol, concurrency)
                theirs = _find(cases, "mlserver", model, peer_protocol[protocol], concurrency)
                if ours is None or theirs is None:
                    continue
                versus = protocol if protocol == peer_protocol[protocol] else f"{protocol} vs grpc"
                lines.append(
                    f"| {model} | {concurrency} | {versus} | {ours.rps:,.0f} | {theirs.rps:,.0f} "
                    f"| {ours.rps / theirs.rps:.1f}x | {ours.p50_ms:.2f} / {theirs.p50_ms:.2f} "
                    f"| {ours.p99_ms:.2f} / {theirs.p99_ms:.2f} | {ours.p99_ms / theirs.p99_ms:.2f} |"
                )
    lines += [
        "",
        "| model | c | REST JSON req/s | bare req/s | vs bare | baseline req/s | vs baseline "
        "| server CPU µs/request (ours / baseline) | CPU vs baseline |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model in ("rf", "lr"):
        for concurrency in CONCURRENCY:
            ours = _find(cases, "modelops", model, "rest-json", concurrency)
            bare = _find(cases, "bare", "-", "rest-json", concurrency)
            baseline = _find(cases, "baseline", model, "rest-json", concurrency)
            if ours is None:
                continue
            versus = (
                f"{baseline.rps:,.0f} | {ours.rps / baseline.rps:.1%} | {ours.cpu_us:.0f} / {baseline.cpu_us:.0f} "
                f"| {ours.cpu_us / baseline.cpu_us:.1%}"
                if baseline is not None
                else "- | - | - | -"
            )
            ceiling = f"{bare.rps:,.0f} | {ours.rps / bare.rps:.0%}" if bare is not None else "- | -"
            lines.append(f"| {model} | {concurrency} | {ours.rps:,.0f} | {ceiling} | {versus} |")
    errors = sum(c.errors for c in cases)
    lines.append("")
    lines.append(
        f"prediction mismatches vs scikit-learn (held-out rows): {mismatches}; HTTP/gRPC/socket errors: {errors}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
