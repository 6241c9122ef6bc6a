"""ModelDeployment: resolve the model, apply Deployment/Service/HPA/PDB, mirror the rollout in status."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import kopf

from modelops.operator import decisions, metrics
from modelops.operator.builders.deployment import serving_deployment
from modelops.operator.builders.hpa import serving_hpa
from modelops.operator.builders.pdb import serving_pdb
from modelops.operator.builders.service import endpoint, serving_service
from modelops.operator.errors import outcomes
from modelops.operator.handlers.context import Context, Manifest, register_kind
from modelops.operator.handlers.monitoring import monitor
from modelops.operator.kube import MODEL_DEPLOYMENTS, TRAINING_RUNS


def resolve(ctx: Context, obj: Manifest) -> decisions.ResolvedModel | decisions.Unresolved:
    source = obj["spec"]["model"]
    namespace = obj["metadata"]["namespace"]
    if promoted := _retrained(ctx, obj):
        return promoted
    if ref := source.get("trainingRunRef"):
        return decisions.model_from_run(ref["name"], ctx.kube.get(TRAINING_RUNS, namespace, ref["name"]))
    if latest := source.get("fromLatest"):
        labels: dict[str, str] = latest["matchLabels"]
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        return decisions.newest_succeeded(ctx.kube.list(TRAINING_RUNS, namespace, selector), labels)
    uri = str(source["uri"])
    return decisions.ResolvedModel(uri, uri.rstrip("/").rsplit("/", 1)[-1])


def _retrained(ctx: Context, obj: Manifest) -> decisions.ResolvedModel | None:
    """The model of the retraining run, once it succeeded, when the policy promotes automatically.

    After a rollback, the model it put back (until the next retraining or a change of the spec).
    """
    retraining = (obj.get("status") or {}).get("retraining") or {}
    policy = obj["spec"].get("retraining") or {}
    if retraining.get("rolledBack") and (restored := retraining.get("restored")):
        return decisions.ResolvedModel(restored["uri"], restored["version"], restored.get("run"))
    if not retraining.get("run") or not policy.get("autoPromote", True) or policy.get("policy", "Never") == "Never":
        return None
    run = ctx.kube.get(TRAINING_RUNS, obj["metadata"]["namespace"], retraining["run"])
    found = decisions.model_from_run(retraining["run"], run)
    return found if isinstance(found, decisions.ResolvedModel) else None


def reconcile(ctx: Context, obj: Manifest) -> None:
    status = obj.get("status") or {}
    if status.get("retraining") and status.get("observedGeneration") != obj["metadata"].get("generation"):
        # The user changed the spec: their model choice wins over an earlier automatic promotion.
        meta = obj["metadata"]
        ctx.kube.patch_status(MODEL_DEPLOYMENTS, meta["namespace"], meta["name"], {"retraining": None})
        obj["status"] = {**status, "retraining": None}
    model = resolve(ctx, obj)
    served = (obj.get("status") or {}).get("model") or {}
    if isinstance(model, decisions.Unresolved) and served.get("uri"):
        # The model went away (run deleted, label moved): keep serving what was promoted.
        model = decisions.ResolvedModel(served["uri"], served["version"], served.get("run"))
    deployment = None
    if isinstance(model, decisions.ResolvedModel):
        settings = ctx.settings
        deployment = ctx.kube.apply(
            serving_deployment(obj, model_uri=model.uri, model_version=model.version, settings=settings)
        )
        ctx.kube.apply(serving_service(obj))
        ctx.kube.apply(serving_hpa(obj))
        ctx.kube.apply(serving_pdb(obj))
    plan = decisions.deployment_status(obj, model, deployment, endpoint(obj), ctx.clock())
    ctx.write(MODEL_DEPLOYMENTS, obj, plan)
    monitor(ctx, {**obj, "status": {**(obj.get("status") or {}), **plan.status}})


class RolloutSchedule:
    """When to re-read a rolling-out Deployment: after 1, 2, 4... polls, up to `longest` seconds apart."""

    def __init__(self, first: float, longest: float) -> None:
        self.first, self.longest = first, max(first, longest)
        self._next: dict[str, tuple[float, float]] = {}  # uid: (due, current delay)
        self._guard = threading.Lock()

    def due(self, uid: str, now: float) -> bool:
        with self._guard:
            due, delay = self._next.get(uid, (0.0, 0.0))
            if now - due > 4 * self.longest:  # not polled for long: a new rollout starts over
                due, delay = 0.0, 0.0
            if now < due:
                return False
            delay = min(max(2 * delay, self.first), self.longest)
            self._next[uid] = (now + delay, delay)
            return True

    def forget(self, uid: str) -> None:
        with self._guard:
            self._next.pop(uid, None)


def follow_rollout(ctx: Context, obj: Manifest) -> bool:
    """One apply of the served Deployment (its answer carries the rollout's state); True when the phase changes.

    The operator does not watch Deployments (the chart grants only create/patch on them), so without
    this a finished rollout would show in the status only at the next resync.
    """
    status = obj.get("status") or {}
    served = status.get("model") or {}
    if status.get("observedGeneration") != obj["metadata"].get("generation") or not served.get("uri"):
        return True  # the spec changed since the last reconcile: reconcile in full
    model = decisions.ResolvedModel(served["uri"], served["version"], served.get("run"))
    deployment = ctx.kube.apply(
        serving_deployment(obj, model_uri=model.uri, model_version=model.version, settings=ctx.settings)
    )
    plan = decisions.deployment_status(obj, model, deployment, endpoint(obj), ctx.clock())
    return bool(plan.status.get("phase") != status.get("phase"))


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    register_kind(registry, ctx, MODEL_DEPLOYMENTS, "ModelDeployment", reconcile)
    schedule = RolloutSchedule(ctx.settings.rollout_poll_interval, ctx.settings.rollout_poll_max)

    def rolling_out(namespace: str, name: str, uid: str, **_: Any) -> None:
        if not schedule.due(uid, time.monotonic()):
            return
        with ctx.exclusive(uid), metrics.observed("ModelDeployment"), outcomes():
            obj = ctx.kube.get(MODEL_DEPLOYMENTS, namespace, name)
            if obj is None or obj["metadata"].get("deletionTimestamp"):
                schedule.forget(uid)
                return
            obj.setdefault("apiVersion", MODEL_DEPLOYMENTS.api_version)
            obj.setdefault("kind", "ModelDeployment")
            if (obj.get("status") or {}).get("phase") == "Deploying" and not follow_rollout(ctx, obj):
                return
            schedule.forget(uid)
            reconcile(ctx, obj)

    follow: Callable[..., None] = rolling_out
    # Runs only while status.phase is Deploying: kopf stops the timer when the filter stops matching.
    group, version = MODEL_DEPLOYMENTS.api_version.split("/")
    interval = ctx.settings.rollout_poll_interval
    kopf.timer(group, version, MODEL_DEPLOYMENTS.plural, registry=registry, id="follow-rollout", interval=interval,
               initial_delay=interval, field="status.phase", value="Deploying")(follow)  # fmt: skip
