"""Fixtures of the integration tests: one real control plane per session, a namespace per test.

The control plane (see :mod:`modelops.testing.controlplane`) runs etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok on loopback; pods labelled
``modelops.io/run-locally=true`` are left for a :class:`~modelops.testing.ProcessKubelet`
(fixture ``process_kubelet``) to run as local processes. Every ``crds/*.yaml`` is applied
once per session.
"""

from __future__ import annotations

import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import CompletedProcess

import pytest

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
