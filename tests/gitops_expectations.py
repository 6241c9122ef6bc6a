"""What GitOps tools must read from each kind in each phase: kstatus (Flux `wait`, kpt) and Argo CD health.

The status contract (DESIGN.md): work in flight is InProgress / Progressing, usable is Current /
Healthy, a terminal state that needs a person is Failed / Degraded, and a spec the operator has
not yet observed is InProgress / Progressing whatever the conditions say. The Argo CD testdata
are live objects captured in these phases (tests/integration/test_gitops_status.py).
"""

from __future__ import annotations

from pathlib import Path

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
NOT_CAPTURED = {
    ("ModelDeployment", "Degraded"): "the test kubelets run no readiness probes: a crash-looping server reads ready",
}


def captured_path(kind: str, phase: str) -> Path:
    return ARGOCD_CHECK / "testdata" / f"{kind.lower()}-{phase.lower()}.yaml"
