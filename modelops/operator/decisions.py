"""Pure decisions: from an object, its children's state and the clock to a new status and actions.

Handlers fetch, call one of these, then act on the `Plan`. Nothing here talks to the API
server, so every state transition is unit-tested.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from modelops.artifacts.metadata import DatasetResult, TrainResult
from modelops.operator import naming
from modelops.operator.conditions import get_condition, is_true, now_iso, set_condition
from modelops.operator.jobstate import JobOutcome

Manifest = dict[str, Any]
READY = "Ready"
PROGRESSING = "Progressing"
DATA_READY = "DataReady"
MODEL_RESOLVED = "ModelResolved"
DEFAULT_OBJECTIVE = {"classification": "accuracy", "regression": "r2", "clustering": "silhouette"}
VERSION_HISTORY = 20
PROMOTION_HISTORY = 10


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Plan:
    """The status to write (merged over the current one) and what to do first."""

    status: Manifest = field(default_factory=dict)
    create_job: tuple[int, int] | None = None  # (generation, run)
    events: list[Event] = field(default_factory=list)

    def note(self, type_: str, reason: str, message: str) -> None:
        self.events.append(Event(type_, reason, message))


def parse_duration(text: str | None) -> dt.timedelta | None:
    """`1h30m`, `45s` (the CRD's duration pattern) as a timedelta."""
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600}
    seconds = sum(int(n) * units[u] for n, u in re.findall(r"([0-9]+)(s|m|h)", text))
    return dt.timedelta(seconds=seconds) if seconds else None


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _transition(
    plan: Plan,
    status: Manifest,
    *,
    generation: int,
    now: dt.datetime,
    phase: str,
    ready: bool,
    reason: str,
    message: str,
    event_type: str | None = None,
    extra: Sequence[tuple[str, bool, str, str]] = (),
) -> None:
    """Set phase, Ready (+ other conditions) and an Event when the phase or the reason changes."""
    conditions = list(status.get("conditions") or [])
    before = get_condition(conditions, READY)
    conditions = set_condition(conditions, READY, ready, reason, message, generation=generation, now=now)
    for type_, value, why, text in extra:
        conditions = set_condition(conditions, type_, value, why, text, generation=generation, now=now)
    plan.status.update({"phase": phase, "conditions": conditions, "message": message})
    if before is None or status.get("phase") != phase or before.get("reason") != reason:
        warning = not ready and phase in ("Failed", "Rejected")
        plan.note(event_type or ("Warning" if warning else "Normal"), reason, message)


# ------------------------------------------------------------------------------------------ Dataset


def dataset_next_run(obj: Manifest, now: dt.datetime) -> tuple[int, int] | None:
    """The (generation, run) of the prepare Job to start now, or None while nothing is due."""
    generation = int(obj["metadata"].get("generation") or 1)
    status = obj.get("status") or {}
    current = naming.parse_prepare_job(status.get("jobName"))
    if current is None or current[0] != generation:
        return generation, 0
    if is_true(status.get("conditions"), PROGRESSING):
        return None  # a Job is in flight: follow it
    interval = parse_duration(obj["spec"].get("refreshInterval"))
    last = _parse_time(status.get("lastRefreshTime"))
    if interval and last and now - last >= interval:
        return generation, current[1] + 1
    return None


def dataset_start(obj: Manifest, run: tuple[int, int], job_name: str, now: dt.datetime) -> Plan:
    """Status for a prepare Job just created (or found, after a restart)."""
    status = obj.get("status") or {}
    plan = Plan()
    generation, number = run
    plan.create_job = run
    refreshing = bool(status.get("version")) and status.get("phase") == "Ready"
    conditions = set_condition(
        list(status.get("conditions") or []),
        PROGRESSING,
        True,
        "Refreshing" if number else "Preparing",
        f"Job {job_name} is running",
        generation=generation,
        now=now,
    )
    plan.status.update(
        {
            "jobName": job_name,
            "lastRefreshTime": now_iso(now),
            "observedGeneration": generation,
            "conditions": conditions,
        }
    )
    merged = {**status, **plan.status}
    if refreshing:
        plan.note("Normal", "Refreshing", f"started Job {job_name}")
    else:
        _transition(
            plan,
            merged,
            generation=generation,
            now=now,
            phase="Running",
            ready=False,
            reason="Preparing",
            message=f"Job {job_name} is preparing the data",
        )
    return plan


def dataset_follow(obj: Manifest, outcome: JobOutcome, now: dt.datetime) -> Plan:
    """Status once the in-flight prepare Job has an outcome; empty while it runs."""
    status = obj.get("status") or {}
    generation = int(obj["metadata"].get("generation") or 1)
    job_name = status.get("jobName", "")
    plan = Plan()
    if outcome.state == "running":
        return plan
    if outcome.state == "absent":
        plan.create_job = naming.parse_prepare_job(job_name)  # deleted by hand: make it again
        return plan
    done = set_condition(
        list(status.get("conditions") or []),
        PROGRESSING,
        False,
        "JobSucceeded" if outcome.state == "succeeded" else "JobFailed",
        f"Job {job_name} {outcome.state}",
        generation=generation,
        now=now,
    )
    merged = {**status, "conditions": done}
    if outcome.state == "succeeded":
        try:
            result = DatasetResult.model_validate(outcome.result() or {})
        except ValidationError as e:
            return _failed(plan, merged, generation, now, "ResultUnreadable", f"Job {job_name}: {e}")
        versions = list(status.get("versions") or [])
        changed = not versions or versions[-1].get("version") != result.version
        if changed:
            versions.append({"version": result.version, "rows": result.rows, "created": now_iso(now)})
        keep = ((obj["spec"].get("governance") or {}).get("retention") or {}).get("keepVersions", VERSION_HISTORY)
        plan.status.update(
            {
                "version": result.version,
                "versions": versions[-min(int(keep), VERSION_HISTORY) :],
                "rows": result.rows,
                "columns": result.columns,
                "artifact": result.artifact,
                "report": result.report,
                "profile": result.profile,
                "quality": dict(result.quality),
                "failures": 0,
            }
        )
        text = f"version {result.version}: {result.rows} rows, {result.columns} columns"
        _transition(
            plan, merged, generation=generation, now=now, phase="Ready", ready=True, reason="Prepared", message=text
        )
        if status.get("phase") == "Ready":  # a refresh: say whether the content moved
            plan.note(
                "Normal",
                "Prepared" if changed else "Unchanged",
                text if changed else f"refresh found the same content ({result.version})",
            )
        return plan
    reason, message = outcome.failure()
    plan.status["failures"] = int(status.get("failures") or 0) + 1
    return _failed(plan, merged, generation, now, reason, message)


def _failed(plan: Plan, status: Manifest, generation: int, now: dt.datetime, reason: str, message: str) -> Plan:
    _transition(
        plan, status, generation=generation, now=now, phase="Failed", ready=False, reason=reason, message=message
    )
    return plan


# ------------------------------------------------------------------------------------------ TrainingRun

TERMINAL_RUN_PHASES = ("Succeeded", "Failed", "Rejected")


def training_wait_for_data(obj: Manifest, dataset: Manifest | None, now: dt.datetime) -> tuple[Plan, str | None]:
    """(plan, dataset version to train on). No version: wait, with the reason in a condition."""
    status = obj.get("status") or {}
    generation = int(obj["metadata"].get("generation") or 1)
    ref = obj["spec"]["datasetRef"]
    plan = Plan()
    plan.status["observedGeneration"] = generation
    ds_status = (dataset or {}).get("status") or {}
    if dataset is None:
        reason, message = "DatasetNotFound", f"Dataset {ref['name']} does not exist"
    elif ds_status.get("phase") != "Ready" or not ds_status.get("version"):
        reason = "DatasetFailed" if ds_status.get("phase") == "Failed" else "DatasetNotReady"
        message = f"Dataset {ref['name']} is {ds_status.get('phase') or 'Pending'}"
    else:
        return plan, str(status.get("datasetVersion") or ref.get("version") or ds_status["version"])
    _transition(
        plan,
        status,
        generation=generation,
        now=now,
        phase="WaitingForData",
        ready=False,
        reason=reason,
        message=message,
        extra=[(DATA_READY, False, reason, message)],
    )
    return plan, None


def training_start(obj: Manifest, dataset_version: str, job_name: str, now: dt.datetime) -> Plan:
    status = obj.get("status") or {}
    generation = int(obj["metadata"].get("generation") or 1)
    plan = Plan(create_job=(generation, 0))
    dataset = obj["spec"]["datasetRef"]["name"]
    plan.status.update(
        {
            "jobName": job_name,
            "datasetVersion": dataset_version,
            "observedGeneration": generation,
            "startTime": status.get("startTime") or now_iso(now),
        }
    )
    _transition(
        plan,
        status,
        generation=generation,
        now=now,
        phase="Running",
        ready=False,
        reason="Training",
        message=f"Job {job_name} is training on {dataset}@{dataset_version}",
        extra=[(DATA_READY, True, "DatasetReady", f"{dataset}@{dataset_version}")],
    )
    return plan


def score(spec: Manifest, task: str, metrics: dict[str, float]) -> str | None:
    """The objective metric, formatted for the printer column."""
    objective = ((spec.get("tuning") or {}).get("objective") or {}).get("metric") or DEFAULT_OBJECTIVE.get(task)
    if objective and objective in metrics:
        return f"{objective}={metrics[objective]:.4f}"
    return None


def training_follow(obj: Manifest, outcome: JobOutcome, now: dt.datetime, image: str) -> Plan:
    status = obj.get("status") or {}
    generation = int(obj["metadata"].get("generation") or 1)
    job_name = status.get("jobName", "")
    plan = Plan()
    if outcome.state == "running":
        return plan
    if outcome.state == "absent":
        plan.create_job = (generation, 0)
        return plan
    plan.status["completionTime"] = now_iso(now)
    if outcome.state == "failed":
        reason, message = outcome.failure()
        plan.status["failures"] = int(status.get("failures") or 0) + 1
        return _failed(plan, status, generation, now, reason, message)
    try:
        result = TrainResult.model_validate(outcome.result() or {})
    except ValidationError as e:
        return _failed(plan, status, generation, now, "ResultUnreadable", f"Job {job_name}: {e}")
    dataset = f"{obj['spec']['datasetRef']['name']}@{status.get('datasetVersion', '')}"
    plan.status.update(
        {
            "metrics": {"test": dict(result.metrics)},
            "score": score(obj["spec"], result.task, dict(result.metrics)),
            "bestHyperparameters": dict(result.best_hyperparameters) or None,
            "trials": result.trials,
            "model": {
                "uri": result.uri,
                "version": result.version,
                "sha256": result.sha256,
                "formats": list(result.formats),
            },
            "lineage": {"dataset": dataset, "image": image},
            "reasons": list(result.reasons) or None,
        }
    )
    if result.passed:
        _transition(
            plan,
            status,
            generation=generation,
            now=now,
            phase="Succeeded",
            ready=True,
            reason="Trained",
            message=f"model {result.version} passed its gates ({plan.status['score'] or 'no score'})",
        )
    else:
        _transition(
            plan,
            status,
            generation=generation,
            now=now,
            phase="Rejected",
            ready=False,
            reason="GatesFailed",
            message="; ".join(result.reasons) or "validation gates failed",
            event_type="Warning",
        )
    return plan


# ------------------------------------------------------------------------------------------ ModelDeployment


@dataclass(frozen=True)
class ResolvedModel:
    uri: str
    version: str
    run: str | None = None


@dataclass(frozen=True)
class Unresolved:
    reason: str
    message: str


def model_from_run(name: str, run: Manifest | None) -> ResolvedModel | Unresolved:
    if run is None:
        return Unresolved("TrainingRunNotFound", f"TrainingRun {name} does not exist")
    status = run.get("status") or {}
    model = status.get("model") or {}
    if status.get("phase") != "Succeeded" or not model.get("uri"):
        return Unresolved("ModelNotReady", f"TrainingRun {name} is {status.get('phase') or 'Pending'}, not Succeeded")
    return ResolvedModel(model["uri"], str(model.get("version") or ""), name)


def newest_succeeded(runs: list[Manifest], selector: dict[str, str]) -> ResolvedModel | Unresolved:
    """The newest Succeeded run with a model; ties broken by name so the choice is stable."""
    candidates = [r for r in runs if model_from_run(r["metadata"]["name"], r).__class__ is ResolvedModel]
    if not candidates:
        labels = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        return Unresolved("ModelNotFound", f"no Succeeded TrainingRun matches {labels}")

    def key(run: Manifest) -> tuple[str, str]:
        status = run.get("status") or {}
        return (status.get("completionTime") or run["metadata"].get("creationTimestamp") or "", run["metadata"]["name"])

    best = max(candidates, key=key)
    return model_from_run(best["metadata"]["name"], best)


def deployment_status(
    obj: Manifest, model: ResolvedModel | Unresolved, deployment: Manifest | None, endpoint: str, now: dt.datetime
) -> Plan:
    """Status of a ModelDeployment from the resolved model and its Deployment's state."""
    status = obj.get("status") or {}
    generation = int(obj["metadata"].get("generation") or 1)
    plan = Plan()
    plan.status["observedGeneration"] = generation
    if isinstance(model, Unresolved):
        _transition(
            plan,
            status,
            generation=generation,
            now=now,
            phase="Pending",
            ready=False,
            reason=model.reason,
            message=model.message,
            event_type="Warning",
            extra=[(MODEL_RESOLVED, False, model.reason, model.message)],
        )
        return plan
    served = status.get("model") or {}
    history = list(status.get("history") or [])
    if served.get("uri") != model.uri:
        entry = {"version": model.version, "uri": model.uri, "promoted": now_iso(now)}
        if model.run:
            entry["run"] = model.run
        history = [*history, entry][-PROMOTION_HISTORY:]
        verb = "Promoted" if served else "Deploying"
        plan.note("Normal", verb, f"model {model.version} from {model.run or model.uri}")
    model_status: Manifest = {"uri": model.uri, "version": model.version}
    if model.run:
        model_status["run"] = model.run
    dep_status = (deployment or {}).get("status") or {}
    dep_meta = (deployment or {}).get("metadata") or {}
    desired = int(dep_status.get("replicas") or 0)
    ready = int(dep_status.get("readyReplicas") or 0)
    updated = int(dep_status.get("updatedReplicas") or 0)
    available = int(dep_status.get("availableReplicas") or 0)
    wanted = int((obj["spec"].get("replicas") or {}).get("min", 1))
    rolled = (
        deployment is not None
        and int(dep_status.get("observedGeneration") or 0) >= int(dep_meta.get("generation") or 1)
        and desired > 0
        and updated == desired
        and available >= desired
        and ready >= wanted
    )
    plan.status.update(
        {
            "model": model_status,
            "history": history,
            "endpoint": endpoint,
            "replicas": desired,
            "readyReplicas": ready,
            "ready": f"{ready}/{desired}",
        }
    )
    resolved = (MODEL_RESOLVED, True, "ModelResolved", f"{model.version} ({model.uri})")
    if rolled:
        _transition(
            plan,
            status,
            generation=generation,
            now=now,
            phase="Ready",
            ready=True,
            reason="Serving",
            message=f"model {model.version}: {ready}/{desired} replicas ready",
            extra=[resolved],
        )
    else:
        _transition(
            plan,
            status,
            generation=generation,
            now=now,
            phase="Deploying",
            ready=False,
            reason="RollingOut",
            message=f"model {model.version}: {ready}/{desired} replicas ready",
            extra=[resolved],
        )
    return plan


def changed(current: Manifest, update: Manifest) -> bool:
    """Whether writing `update` over `current` changes anything (no-op writes are skipped)."""
    return any(current.get(key) != value for key, value in update.items())
