"""What GitOps tools must read from each kind in each phase: kstatus (Flux `wait`, kpt) and Argo CD health.

The status contract (DESIGN.md): work in flight is InProgress / Progressing, usable is Current /
Healthy, a terminal state that needs a person is Failed / Degraded, and a spec the operator has
not yet observed is InProgress / Progressing whatever the conditions say. The Argo CD testdata
are live objects captured in these phases (tests/integration/test_gitops_status.py, and
tests/e2e/test_faults.py for a ModelDeployment whose pods crash).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from modelops.testing.argocd import health
from modelops.testing.tools import kstatus

ARGOCD_CHECK = Path(__file__).resolve().parents[1] / "charts/modelops/argocd/resource_customizations/modelops.io/_"
HEALTH_SCRIPT = ARGOCD_CHECK / "health.lua"

IN_PROGRESS = ("InProgress", "Progressing")
CURRENT = ("Current", "Healthy")
FAILED = ("Failed", "Degraded")

# (kind, phase) -> (kstatus, Argo CD health). "NewGeneration": Ready, then the spec edited while
# the operator was away, so status.observedGeneration lags metadata.generation.
EXPECTED: dict[tuple[str, str], tuple[str, str]] = {
    ("Dataset", "Running"): IN_PROGRESS,
    ("Dataset", "Ready"): CURRENT,
    ("Dataset", "Failed"): FAILED,
    ("TrainingRun", "WaitingForData"): IN_PROGRESS,
    ("TrainingRun", "Running"): IN_PROGRESS,
    ("TrainingRun", "Succeeded"): CURRENT,
    ("TrainingRun", "Rejected"): FAILED,
    ("TrainingRun", "Failed"): FAILED,
    ("ModelDeployment", "Pending"): IN_PROGRESS,
    ("ModelDeployment", "Deploying"): IN_PROGRESS,
    ("ModelDeployment", "Ready"): CURRENT,
    ("ModelDeployment", "NewGeneration"): IN_PROGRESS,
    ("ModelDeployment", "Degraded"): FAILED,
    ("ModelDeployment", "Failed"): FAILED,
}

# Phases no live test reaches yet, and why.
NOT_CAPTURED: dict[tuple[str, str], str] = {}
CAPTURE = bool(os.environ.get("MODELOPS_CAPTURE_TESTDATA"))
CAPTURED_NAMESPACE = "demo"


def captured_path(kind: str, phase: str) -> Path:
    return ARGOCD_CHECK / "testdata" / f"{kind.lower()}-{phase.lower()}.yaml"


def record(namespace: str, kind: str, phase: str, obj: dict[str, Any], message: str) -> None:
    """Write the object (without managedFields, in namespace `demo`) and its health_test.yaml case."""
    obj["metadata"].pop("managedFields", None)
    text = json.dumps(obj).replace(namespace, CAPTURED_NAMESPACE)
    path = captured_path(kind, phase)
    path.write_text(yaml.safe_dump(json.loads(text), sort_keys=False))
    tests_file = ARGOCD_CHECK / "health_test.yaml"
    cases = {c["inputPath"]: c for c in yaml.safe_load(tests_file.read_text())["tests"]} if tests_file.exists() else {}
    relative = f"testdata/{path.name}"
    health = {"status": EXPECTED[kind, phase][1], "message": message.replace(namespace, CAPTURED_NAMESPACE)}
    cases[relative] = {"healthStatus": health, "inputPath": relative}
    order = [f"testdata/{captured_path(*key).name}" for key in EXPECTED]
    ordered = [cases[p] for p in order if p in cases]
    tests_file.write_text(yaml.safe_dump({"tests": ordered}, sort_keys=False, width=1000))


def observe(namespace: str, kind: str, phase: str, obj: dict[str, Any]) -> None:
    """Assert kstatus and the Argo CD health of a live object in `phase`; with MODELOPS_CAPTURE_TESTDATA, record it."""
    (computed,) = kstatus(json.dumps(obj))
    argocd = health(HEALTH_SCRIPT.read_text(), obj)
    seen = (computed.status, argocd.status)
    if CAPTURE and seen == EXPECTED[kind, phase]:  # a capture shows the contract, never a miss of it
        record(namespace, kind, phase, obj, argocd.message)
    assert seen == EXPECTED[kind, phase], (
        f"{kind} {phase}: kstatus {computed}, Argo CD {argocd}, status {obj['status']}"
    )
