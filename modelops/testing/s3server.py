"""A real S3-compatible server (gofakes3's server command) on a free loopback port.

`hack/build-s3server.sh` builds it once per machine from its Go
module and caches it by version; `start_s3_server` runs it with an in-memory
backend and one bucket, and `S3Server.stop` ends it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "hack" / "build-s3server.sh"
BUCKET = "modelops"


def s3_server_binary() -> str:
    """Path of the server binary, building it on first use."""
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], check=True, capture_output=True, text=True, timeout=600)
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    process: subprocess.Popen[bytes]
    access_key: str = "modelops-test"
    secret_key: str = "modelops-test-secret"
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.env = {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the S3 server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the S3 server did not listen on 127.0.0.1:{port} within {timeout}s")


def start_s3_server(bucket: str = BUCKET) -> S3Server:
    binary = s3_server_binary()
    port = free_port()
    process = subprocess.Popen(
        [binary, "-backend", "memory", "-host", f"127.0.0.1:{port}", "-initialbucket", bucket, "-quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"PATH": os.environ.get("PATH", "")},
    )
    try:
        _wait_listening(port, process)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return S3Server(endpoint=f"http://127.0.0.1:{port}", bucket=bucket, process=process)
