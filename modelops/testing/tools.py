"""Tools the GitOps and monitoring tests use, each built or extracted once per machine by a `hack/` script.

- `hack/build-gitops-tools.sh`: the `kstatus` command (sigs.k8s.io/cli-utils' status.Compute)
  and upstream CRDs (KEDA, Prometheus Operator, Argo CD, Flux) from their Go modules.
- `hack/install-prometheus.sh`: `prometheus` and `promtool` from Debian's package.

Each script prints the directory it filled; a cached run takes milliseconds.
"""

from __future__ import annotations

import functools
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

HACK = Path(__file__).resolve().parents[2] / "hack"


def _script_dir(script: str) -> Path:
    done = subprocess.run(["bash", str(HACK / script)], check=True, stdout=subprocess.PIPE, text=True, timeout=1200)
    return Path(done.stdout.strip().splitlines()[-1])


@functools.cache
def gitops_tools() -> Path:
    return _script_dir("build-gitops-tools.sh")


@functools.cache
def prometheus_tools() -> Path:
    return _script_dir("install-prometheus.sh")


def upstream_crds() -> list[Path]:
    """ScaledObject, PodMonitor, ServiceMonitor, PrometheusRule, Application, Kustomization, GitRepository."""
    return sorted((gitops_tools() / "crds").glob("*.yaml"))


@dataclass(frozen=True)
class KStatus:
    """What kstatus computes for one object: InProgress, Current, Failed, Terminating or Unknown."""

    kind: str
    name: str
    status: str
    message: str


def kstatus(objects: str) -> list[KStatus]:
    """kstatus of a JSON object or List (`kubectl get -o json` output), one result per object."""
    done = subprocess.run(
        [str(gitops_tools() / "kstatus")], input=objects, check=True, capture_output=True, text=True, timeout=30
    )
    return [KStatus(**json.loads(line)) for line in done.stdout.splitlines() if line.strip()]
