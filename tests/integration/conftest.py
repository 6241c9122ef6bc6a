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

# Exactly what the operator needs (README of the Helm chart's RBAC mirrors this); a 403 fails the tests.
OPERATOR_RULES: list[dict[str, list[str]]] = [
    {"apiGroups": ["modelops.io"], "resources": ["datasets", "trainingruns", "modeldeployments"],
     "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": ["modelops.io"],
     "resources": ["datasets/status", "trainingruns/status", "modeldeployments/status"], "verbs": ["patch"]},
    # ModelDeployments with a retraining policy start TrainingRuns from their template.
    {"apiGroups": ["modelops.io"], "resources": ["trainingruns"], "verbs": ["create"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "create"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
    {"apiGroups": [""], "resources": ["services"], "verbs": ["create", "patch"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create", "patch"]},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": ["create", "patch"]},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["create", "patch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
]  # fmt: skip


class OperatorProcess:
    """`python -m modelops.operator` for one namespace, as a least-privilege service account."""

    def __init__(self, kubeconfig: Path, namespace: str, store: Path, log_dir: Path, extra_env: dict[str, str]):
        self.kubeconfig, self.namespace, self.store, self.log_dir = kubeconfig, namespace, store, log_dir
        self.extra_env = extra_env
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"operator-{self.starts}.log"

    def start(self) -> OperatorProcess:
        self.starts += 1
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "MODELOPS_NAMESPACES": self.namespace,
            "MODELOPS_STORE": f"file://{self.store}",
            "MODELOPS_IMAGE": "modelops:test",
            "MODELOPS_JOB_POD_LABELS": json.dumps({MANUAL_POD_SELECTOR.split("=")[0]: "true"}),
            "MODELOPS_RESYNC_INTERVAL": "1",
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
    """The operator for the test's namespace (store: `tmp_path/store`), stopped afterwards; its log is printed.

    Its service account has exactly OPERATOR_RULES: in a Role by default, in a ClusterRole for a
    cluster-wide operator (``@pytest.mark.parametrize("operator", ["cluster"], indirect=True)``).
    """
    clusterwide = getattr(request, "param", "namespace") == "cluster"
    role_kind = "ClusterRole" if clusterwide else "Role"
    name = f"modelops-operator-{namespace}" if clusterwide else "modelops-operator"
    rbac = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "modelops-operator"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": role_kind, "metadata": {"name": name},
         "rules": OPERATOR_RULES},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": f"{role_kind}Binding", "metadata": {"name": name},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": "modelops-operator", "namespace": namespace}]},
    ]  # fmt: skip
    control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(rbac))
    kubeconfig = control_plane.kubeconfig_as("modelops-operator", namespace)
    (tmp_path / "store").mkdir()
    scope = {"MODELOPS_NAMESPACES": ""} if clusterwide else {}
    op = OperatorProcess(kubeconfig, namespace, tmp_path / "store", tmp_path, scope).start()
    yield op
    op.stop()
    if clusterwide:
        control_plane.kubectl("delete", f"{role_kind.lower()}binding,{role_kind.lower()}", name, check=False)
    # pytest shows a test's captured output only when it fails: the log tells what the operator saw.
    print(f"---- operator log ({namespace}) ----\n{op.logs()[-20000:]}")
