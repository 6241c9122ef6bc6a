"""Helpers of the serving component tests: train with the trainer's CLI, run the real server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

# One core per process: the suite shares 2 cores with other work.
ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_trainer(args: Sequence[str], termination: Path) -> dict[str, Any]:
    env = {**os.environ, **ENV, "TERMINATION_MESSAGE_PATH": str(termination)}
    done = subprocess.run(
        [sys.executable, "-m", "modelops.trainer", *args], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@dataclass(frozen=True)
class TrainedModel:
    uri: str
    name: str
    version: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    grpc_port: int
    log: Path
    _output: str | None = field(default=None)

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/v2/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready after {timeout}s:\n{self.output()}")

    def stop(self, timeout: float = 30) -> int:
        if self.process.returncode is None:
            self.process.terminate()
        return self.wait(timeout)

    def wait(self, timeout: float = 30) -> int:
        """Reap the process, killed if it is still running after `timeout`; its exit code."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout)

    def peak_resident_bytes(self) -> int:
        """The running server's peak resident memory since its exec (VmHWM).

        Not `ru_maxrss`: a child spawned by vfork/exec inherits its parent's peak there, so late
        in a long test session it reports pytest's own size.
        """
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")


StartServer = Callable[..., Server]


# Small windows so a test fills them quickly; statistics recomputed at every scrape.
TEST_SETTINGS = {
    "MODELOPS_SERVING_DRIFT": '{"window": 200}',
    "MODELOPS_SERVING_DRIFT_MIN_ROWS": "100",
    "MODELOPS_SERVING_STATS_CACHE_SECONDS": "0",
    "MODELOPS_SERVING_FEEDBACK_MIN_SAMPLES": "1",
    "MODELOPS_SERVING_MAX_BODY_BYTES": "65536",
}


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without serving settings, plus `extra`."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MODELOPS_SERVING_")}
    return {**inherited, **ENV, **(extra or {})}


def launch(args: Sequence[str], log: Path, env: dict[str, str], port: int | None = None) -> Server:
    port, grpc_port = port or free_port(), free_port()
    command = [sys.executable, "-m", "modelops.serving", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as sink:
        process = subprocess.Popen(
            [*command, "--grpc-port", str(grpc_port), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    return Server(process, port, grpc_port, log)


# KServe's client pins pandas<3, which the project does not: it gets a venv of its own (from PyPI,
# once per machine) and the tests run it as a user's script would.
KSERVE_VERSION = "0.21.0"
KSERVE_VENV = Path.home() / ".cache" / "modelops-tests" / f"kserve-{KSERVE_VERSION}"


def kserve_python() -> Path:
    python = KSERVE_VENV / "bin" / "python"
    if not (KSERVE_VENV / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(KSERVE_VENV)], check=True, timeout=120)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"kserve=={KSERVE_VERSION}"], check=True, timeout=900
        )
        (KSERVE_VENV / ".installed").touch()
    return python
