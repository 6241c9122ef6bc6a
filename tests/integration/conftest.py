"""Fixtures of the integration tests: one real control plane per session, a namespace per test.

The control plane (see :mod:`modelops.testing.controlplane`) runs etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok on loopback; pods labelled
``modelops.io/run-locally=true`` are left for a :class:`~modelops.testing.ProcessKubelet`
(fixture ``process_kubelet``) to run as local processes. Every ``crds/*.yaml`` is applied
once per session.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import CompletedProcess

import pytest
import yaml

from modelops.testing import ControlPlane, ProcessKubelet
from modelops.testing.chart import operator_environment, rbac_documents, render_chart, service_account_name
from modelops.testing.tools import upstream_crds

MANUAL_POD_SELECTOR = "modelops.io/run-locally=true"
CRDS_DIR = Path(__file__).resolve().parents[2] / "crds"

Kubectl = Callable[..., CompletedProcess[str]]


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    with ControlPlane(manual_pod_selector=MANUAL_POD_SELECTOR) as cp:
        crds = sorted(CRDS_DIR.glob("*.yaml")) if CRDS_DIR.is_dir() else []
        if crds:
            files = [arg for crd in crds for arg in ("-f", str(crd))]
            cp.kubectl("apply", "--server-side", "--force-conflicts", *files)
            cp.kubectl("wait", "--for", "condition=Established", "crd", "--all", "--timeout=60s")
        yield cp


@pytest.fixture(scope="session")
def third_party_crds(control_plane: ControlPlane) -> list[str]:
    """KEDA, Prometheus Operator, Argo CD and Flux CRDs (from their Go modules) installed; their names."""
    crds = upstream_crds()
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", *[f"-f={crd}" for crd in crds])
    names = [yaml.safe_load(crd.read_text())["metadata"]["name"] for crd in crds]
    control_plane.kubectl("wait", "--for", "condition=Established", "--timeout=60s", *[f"crd/{n}" for n in names])
    return names


@pytest.fixture(scope="session")
def kubectl(control_plane: ControlPlane) -> Kubectl:
    """``kubectl(*args, check=True, input=None)`` against the session's control plane, as admin."""
    return control_plane.kubectl


@pytest.fixture
def namespace(control_plane: ControlPlane, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace (with its ``default`` service account), deleted after the test."""
    stem = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{stem or 'test'}-{uuid.uuid4().hex[:6]}"
    control_plane.kubectl("create", "namespace", name)
    deadline = time.monotonic() + 30
    while control_plane.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no default service account in namespace {name}")
        time.sleep(0.1)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def process_kubelet(control_plane: ControlPlane, namespace: str) -> Iterator[ProcessKubelet]:
    """A running ProcessKubelet for the test's namespace; the image's ``python`` is this interpreter."""
    with ProcessKubelet(
        control_plane.kubeconfig,
        selector=MANUAL_POD_SELECTOR,
        namespace=namespace,
        executables={"python": sys.executable, "python3": sys.executable},
        timeout=120,
    ) as kubelet:
        yield kubelet


# ---------------------------------------------------------------- the operator as a subprocess (operator tests)


class OperatorProcess:
    """`python -m modelops.operator` as the chart's ServiceAccount, with the chart's environment.

    ``extra_env`` is applied over ``chart_env`` and the test settings at the next :meth:`start`.
    """

    def __init__(self, kubeconfig: Path, namespace: str, store: Path, log_dir: Path, chart_env: dict[str, str]):
        self.kubeconfig, self.namespace, self.store, self.log_dir = kubeconfig, namespace, store, log_dir
        self.chart_env = chart_env
        self.extra_env: dict[str, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"operator-{self.starts}.log"

    def start(self) -> OperatorProcess:
        self.starts += 1
        env = {
            **os.environ,
            **self.chart_env,
            "KUBECONFIG": str(self.kubeconfig),
            # KWOK runs no containers: the ProcessKubelet runs the Job pods carrying this label.
            "MODELOPS_JOB_POD_LABELS": json.dumps({MANUAL_POD_SELECTOR.split("=")[0]: "true"}),
            # Longer than any wait in these tests: what they see must come from watch events, not a resync.
            "MODELOPS_RESYNC_INTERVAL": "600",
            "MODELOPS_JOB_BACKOFF_LIMIT": "2",
            "MODELOPS_METRICS_PORT": "0",
            "MODELOPS_LIVENESS_ENDPOINT": "",
            **self.extra_env,
        }
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "modelops.operator"], env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        return self

    def exited(self) -> str | None:
        """Why waiting on this operator is pointless (it exited), or None while it runs."""
        if self.proc is not None and self.proc.poll() is not None:
            return f"operator exited ({self.proc.returncode})"
        return None

    def kill(self) -> None:
        """SIGKILL: no cleanup, like a node dying under it."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        return "".join(
            (self.log_dir / f"operator-{i}.log").read_text(errors="replace") for i in range(1, self.starts + 1)
        )


@pytest.fixture
def operator(
    control_plane: ControlPlane, namespace: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[OperatorProcess]:
    """The operator installed by the Helm chart for the test's namespace (store: `tmp_path/store`).

    Only the chart's RBAC is applied and the operator authenticates as the chart's ServiceAccount
    with the chart's environment. Scoped to the namespace by default; cluster-wide (ClusterRoleBinding)
    with ``@pytest.mark.parametrize("operator", ["cluster"], indirect=True)``; told that KEDA is installed
    (and where Prometheus is) with ``["keda"]``.
    """
    mode = getattr(request, "param", "namespace")
    store = tmp_path / "store"
    store.mkdir()
    values = {"artifactStore.uri": f"file://{store}", "image.repository": "modelops", "image.tag": "test"}
    if mode != "cluster":
        values["watchNamespaces"] = f"{{{namespace}}}"
    if mode == "keda":
        values |= {"keda.enabled": "true", "prometheus.url": "http://prometheus.monitoring.svc:9090"}
    # The release is named after the namespace so cluster-scoped roles of different tests never collide.
    docs = render_chart(control_plane.bin_dir / "helm", namespace, namespace, values)
    control_plane.kubectl(
        "apply", "--server-side", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(rbac_documents(docs))
    )
    kubeconfig = control_plane.kubeconfig_as(service_account_name(docs), namespace)
    op = OperatorProcess(kubeconfig, namespace, store, tmp_path, operator_environment(docs)).start()
    yield op
    op.stop()
    control_plane.kubectl(
        "delete", "clusterrole,clusterrolebinding", "-l", f"app.kubernetes.io/instance={namespace}", check=False
    )
    # pytest shows a test's captured output only when it fails: the log tells what the operator saw.
    print(f"---- operator log ({namespace}) ----\n{op.logs()[-20000:]}")
