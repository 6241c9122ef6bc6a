"""A real Prometheus on loopback for tests: scrapes the given targets, answers PromQL over its HTTP API.

The binary is Debian's (see :mod:`modelops.testing.tools`). Targets carry the labels a Kubernetes
scrape would give them (`namespace`, `pod`, `modeldeployment`): the queries under test select by
those, so a static target with the same labels is what they see in a cluster.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from modelops.testing.tools import prometheus_tools


class PrometheusError(RuntimeError):
    """Prometheus refused a query (a parse or evaluation error) or did not start."""


@dataclass(frozen=True)
class Target:
    """One scrape target on loopback and the labels its series get."""

    address: str
    labels: Mapping[str, str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Prometheus:
    """`prometheus` scraping `targets` every `interval`, its data in `workdir`; use as a context manager."""

    def __init__(self, workdir: Path, targets: Sequence[Target], *, interval: str = "1s") -> None:
        self.workdir = workdir
        self.targets = list(targets)
        self.interval = interval
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Prometheus:
        config = {
            "global": {"scrape_interval": self.interval, "evaluation_interval": self.interval},
            "scrape_configs": [
                {
                    "job_name": f"target-{i}",
                    "static_configs": [{"targets": [target.address], "labels": dict(target.labels)}],
                }
                for i, target in enumerate(self.targets)
            ],
        }
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        with (self.workdir / "prometheus.log").open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(prometheus_tools() / "prometheus"),
                    f"--config.file={self.workdir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def log(self) -> str:
        return (self.workdir / "prometheus.log").read_text(errors="replace")

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise PrometheusError(f"prometheus exited ({self._process.returncode}):\n{self.log()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise PrometheusError(f"prometheus not ready after {timeout}s:\n{self.log()[-4000:]}")

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant-query result of `expr` now (series with `metric` and `value`)."""
        body = urllib.parse.urlencode({"query": expr}).encode()
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/query", data=body, timeout=10) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as error:
            raise PrometheusError(f"{expr}: {error.read().decode(errors='replace')}") from error
        data = answer["data"]
        return data["result"] if data["resultType"] in ("vector", "matrix") else [{"value": data["result"]}]

    def scraped(self, job_count: int) -> bool:
        """Every target has been scraped successfully at least twice (so rate() has two samples)."""
        up = self.query("count_over_time(up[1m]) >= 2 and up == 1")
        return len(up) == job_count


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`promtool ARGS` (not checked: the caller reads the exit code and output)."""
    return subprocess.run(
        [str(prometheus_tools() / "promtool"), *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )
