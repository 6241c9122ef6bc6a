"""Load against a ModelDeployment's Service, from inside the node's network namespace.

The load generator (:mod:`tests.e2e.loadgen`) runs under this machine's Python but in the node's
network namespace, the one place where cluster addresses are routed, and calls the Service by its
ClusterIP (port 80), as a client pod would without DNS; kube-proxy's rules spread its connections
over the ready pods. Nothing it sends can leave the machine: that namespace has no route out.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from types import TracebackType
from typing import Any

from modelops.operator.naming import serving_name
from modelops.testing.netns import NodeNetwork

Kubectl = Callable[..., CompletedProcess[str]]
LOADGEN = Path(__file__).with_name("loadgen.py")


def service_url(kubectl: Kubectl, namespace: str, model_deployment: str) -> str:
    """The ModelDeployment's Service by ClusterIP."""
    name = serving_name(model_deployment)
    ip = kubectl("get", "svc", name, "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout.strip()
    return f"http://{ip}"


class ServiceLoad:
    """One load generator process; switch its phases with :meth:`phase`, collect its summaries with :meth:`stop`."""

    def __init__(self, network: NodeNetwork, url: str) -> None:
        self._proc = subprocess.Popen(
            [*network.enter(), sys.executable, str(LOADGEN), url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def phase(self, name: str, *, workers: int, pause: float, body: Any, labels: list[Any] | None = None) -> None:
        spec = {"name": name, "workers": workers, "pause": pause, "body": body, "labels": labels}
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(spec) + "\n")
        self._proc.stdin.flush()
        ack = self._proc.stdout.readline()
        assert json.loads(ack) == {"switched": name}, ack

    def stop(self) -> dict[str, dict[str, Any]]:
        """Every phase's summary, by name."""
        out, _ = self._proc.communicate("stop\n", timeout=60)
        last = out.strip().splitlines()[-1]
        return {phase["name"]: phase for phase in json.loads(last)}

    def __enter__(self) -> ServiceLoad:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
