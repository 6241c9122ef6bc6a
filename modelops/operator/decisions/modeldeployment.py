"""ModelDeployment: which model to serve, and what the rollout and the serving pods make of the status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from modelops.api.common import ModelVersion
from modelops.api.modeldeployment import ModelDeploymentStatus, PromotedVersion
from modelops.api.objects import ModelDeployment, TrainingRun
from modelops.operator.clock import now_iso
from modelops.operator.status import Plan, Transition, transition
from modelops.operator.views import DeploymentView, PodView

MODEL_RESOLVED = "ModelResolved"
PROMOTION_HISTORY = 10
VERSION_LABEL = "modelops.io/model-version"
# A container waiting for one of these will not start by itself: the pod needs a human or a new model.
_STUCK_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


@dataclass(frozen=True)
class Unresolved:
    """Why no model can be served; `terminal` when only a human can change that."""

    reason: str
    message: str
    terminal: bool = False


def version_label(version: str) -> str:
    """The pod label value that names the model version a pod serves."""
    return version[:63]


def from_run(name: str, run: TrainingRun | None) -> ModelVersion | Unresolved:
    if run is None:
        return Unresolved("TrainingRunNotFound", f"TrainingRun {name} does not exist")
    status = run.status
    if status.phase == "Succeeded" and status.model is not None:
        return ModelVersion(uri=status.model.uri, version=status.model.version, run=name)
    terminal = status.phase in ("Failed", "Rejected")
    return Unresolved(
        "ModelNotReady", f"TrainingRun {name} is {status.phase or 'Pending'}, not Succeeded", terminal=terminal
    )


def newest_succeeded(runs: Sequence[TrainingRun], selector: dict[str, str]) -> ModelVersion | Unresolved:
    """The newest Succeeded run with a model; ties broken by name so the choice is stable."""
    candidates = [r for r in runs if isinstance(from_run(r.name, r), ModelVersion)]
    if not candidates:
        labels = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        return Unresolved("ModelNotFound", f"no Succeeded TrainingRun matches {labels}")
    best = max(candidates, key=lambda r: (r.status.completion_time or r.metadata.creation_timestamp or "", r.name))
    return from_run(best.name, best)


def from_uri(uri: str) -> ModelVersion:
    """A model named by its URI (the API server checked its shape: the version is the last segment)."""
    return ModelVersion(uri=uri, version=uri.rstrip("/").rsplit("/", 1)[-1])


def outside_namespace(model: ModelVersion, *, own_prefix: str, allowed: Sequence[str]) -> Unresolved | None:
    """Refuse a model outside the namespace's own part of the store (unless the operator allows its prefix)."""
    if model.uri.startswith(own_prefix) or any(model.uri.startswith(prefix) for prefix in allowed):
        return None
    return Unresolved(
        "ModelOutsideNamespace",
        f"{model.uri} is not under this namespace's models ({own_prefix}); "
        "the operator setting MODELOPS_ALLOWED_MODEL_PREFIXES can allow other prefixes",
        terminal=True,
    )


def serving_failure(pods: Sequence[PodView], version: str) -> tuple[str, str] | None:
    """(reason, message) when pods of `version` cannot run, in the container's own words; else None."""
    label = version_label(version)
    for pod in pods:
        if pod.metadata.labels.get(VERSION_LABEL) != label:
            continue  # the old ReplicaSet's pods: still serving the previous model
        for container in pod.status.container_statuses:
            waiting, current = container.state.waiting, container.state.terminated
            crashed = container.last_state.terminated or current
            if waiting is not None and waiting.reason in _STUCK_WAITING:
                detail = (crashed.message if crashed and crashed.message else None) or waiting.message or ""
                return waiting.reason or "ContainerWaiting", f"pod {pod.metadata.name}: {detail.strip()}"[:1000]
            if crashed is not None and crashed.exit_code != 0 and (current is not None or not container.ready):
                detail = (crashed.message or crashed.reason or "").strip()
                return "ContainerFailed", f"pod {pod.metadata.name} exited {crashed.exit_code}: {detail}"[:1000]
    return None


def decide(
    md: ModelDeployment,
    model: ModelVersion | Unresolved,
    deployment: DeploymentView | None,
    pods: Sequence[PodView],
    endpoint: str,
    now: dt.datetime,
) -> Plan[ModelDeploymentStatus]:
    """Status of a ModelDeployment from the model to serve, its Deployment's rollout and its pods."""
    before = md.status
    plan = Plan(before)
    if isinstance(model, Unresolved):
        to = Transition(
            "Failed" if model.terminal else "Pending",
            model.reason,
            model.message,
            reconciling=not model.terminal,
            stalled=model.terminal,
            warning=True,
            extra=[(MODEL_RESOLVED, False, model.reason, model.message)],
        )
        transition(plan, to, generation=md.generation, now=now)
        return plan
    history = list(before.history or [])
    if before.model is None or before.model.uri != model.uri:
        history = [*history, PromotedVersion(**model.model_dump(), promoted=now_iso(now))][-PROMOTION_HISTORY:]
        plan.note(
            "Normal",
            "Promoted" if before.model else "Deploying",
            f"model {model.version} from {model.run or model.uri}",
        )
    rollout = deployment.status if deployment is not None else None
    desired, ready = (rollout.replicas, rollout.ready_replicas) if rollout else (0, 0)
    plan.status = before.model_copy(
        update={
            "model": model,
            "history": history,
            "endpoint": endpoint,
            "replicas": desired,
            "ready_replicas": ready,
            "ready": f"{ready}/{desired}",
        }
    )
    resolved = (MODEL_RESOLVED, True, "ModelResolved", f"{model.version} ({model.uri})")
    counts = f"model {model.version}: {ready}/{desired} replicas ready"
    if deployment is not None and deployment.rolled_out and ready >= md.spec.replicas.min:
        to = Transition("Ready", "Serving", counts, ready=True, extra=[resolved])
    elif failure := serving_failure(pods, model.version):
        reason, message = failure
        to = Transition("Degraded", reason, f"{counts}; {message}", stalled=True, extra=[resolved])
    else:
        to = Transition("Deploying", "RollingOut", counts, reconciling=True, extra=[resolved])
    transition(plan, to, generation=md.generation, now=now, before=before)
    return plan
