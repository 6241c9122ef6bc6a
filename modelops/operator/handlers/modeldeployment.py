"""ModelDeployment: resolve the model, apply Deployment/Service/HPA/PDB, mirror the rollout in status."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import kopf

from modelops.api.common import ModelVersion
from modelops.api.objects import ModelDeployment
from modelops.operator import metrics
from modelops.operator.builders.deployment import selector_labels, serving_deployment
from modelops.operator.builders.hpa import serving_hpa
from modelops.operator.builders.pdb import serving_pdb
from modelops.operator.builders.service import endpoint, serving_service
from modelops.operator.decisions import modeldeployment as decide
from modelops.operator.errors import outcomes
from modelops.operator.handlers.context import Context, register_kind
from modelops.operator.handlers.monitoring import monitor
from modelops.operator.kube import MODEL_DEPLOYMENTS, PODS, TRAINING_RUNS
from modelops.operator.views import DeploymentView, PodView


def _from_spec(ctx: Context, md: ModelDeployment) -> ModelVersion | decide.Unresolved:
    source = md.spec.model
    if source.training_run_ref is not None:
        name = source.training_run_ref.name
        return decide.from_run(name, ctx.kube.get(TRAINING_RUNS, namespace=md.namespace, name=name))
    if source.from_latest is not None:
        labels = source.from_latest.match_labels
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        runs = ctx.kube.list(TRAINING_RUNS, namespace=md.namespace, label_selector=selector)
        return decide.newest_succeeded(runs, labels)
    assert source.uri is not None  # ModelSource holds exactly one source
    return decide.from_uri(source.uri)


def _retrained(ctx: Context, md: ModelDeployment) -> ModelVersion | None:
    """The model of the retraining run, once it succeeded, when the policy promotes automatically.

    After a rollback, the model it put back (until the next retraining or a change of the spec).
    """
    retraining, policy = md.status.retraining, md.spec.retraining
    if retraining is None:
        return None
    if retraining.rolled_back and retraining.restored is not None:
        return retraining.restored
    if retraining.run is None or policy is None or not policy.auto_promote or policy.policy == "Never":
        return None
    found = decide.from_run(retraining.run, ctx.kube.get(TRAINING_RUNS, namespace=md.namespace, name=retraining.run))
    return found if isinstance(found, ModelVersion) else None


def resolve(ctx: Context, md: ModelDeployment) -> ModelVersion | decide.Unresolved:
    """The model to serve: a promoted retraining's, else the spec's; refused outside the namespace."""
    model = _retrained(ctx, md) or _from_spec(ctx, md)
    if isinstance(model, decide.Unresolved):
        return model
    settings = ctx.settings
    refused = decide.outside_namespace(
        model, own_prefix=settings.models_prefix(md.namespace), allowed=settings.allowed_model_prefixes
    )
    return refused or model


def _serving_pods(ctx: Context, md: ModelDeployment) -> list[PodView]:
    selector = ",".join(f"{k}={v}" for k, v in selector_labels(md).items())
    return ctx.kube.list(PODS, namespace=md.namespace, label_selector=selector)


def reconcile(ctx: Context, md: ModelDeployment) -> None:
    stored = md
    if md.status.retraining is not None and md.status.observed_generation != md.generation:
        # The user changed the spec: their model choice wins over an earlier automatic promotion.
        md = md.model_copy(update={"status": md.status.model_copy(update={"retraining": None})})
    model = resolve(ctx, md)
    served = md.status.model
    if isinstance(model, decide.Unresolved) and not model.terminal and served is not None:
        # The model went away (run deleted, label moved): keep serving what was promoted.
        model = served
    deployment: DeploymentView | None = None
    pods: list[PodView] = []
    if isinstance(model, ModelVersion):
        deployment = DeploymentView.model_validate(ctx.kube.apply(serving_deployment(md, model, ctx.settings)))
        ctx.kube.apply(serving_service(md))
        ctx.kube.apply(serving_hpa(md))
        ctx.kube.apply(serving_pdb(md))
        if not deployment.rolled_out:
            pods = _serving_pods(ctx, md)
    plan = decide.decide(md, model, deployment, pods, endpoint(md), ctx.clock())
    if any(event.reason == "Promoted" for event in plan.events):
        metrics.PROMOTIONS.labels(namespace=md.namespace, modeldeployment=md.name).inc()
    monitor(ctx, md.model_copy(update={"status": plan.status}), plan)
    ctx.write(MODEL_DEPLOYMENTS, stored, plan)


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


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    register_kind(registry, ctx, MODEL_DEPLOYMENTS, reconcile)
    schedule = RolloutSchedule(ctx.settings.rollout_poll_interval, ctx.settings.rollout_poll_max)

    def rolling_out(namespace: str, name: str, uid: str, **_: Any) -> None:
        if not schedule.due(uid, time.monotonic()):
            return
        with ctx.exclusive(uid), metrics.observed(MODEL_DEPLOYMENTS.kind), outcomes():
            md = ctx.kube.get(MODEL_DEPLOYMENTS, namespace=namespace, name=name)
            if md is None or md.metadata.deletion_timestamp or md.status.phase != "Deploying":
                schedule.forget(uid)
                return
            reconcile(ctx, md)

    follow: Callable[..., None] = rolling_out
    # Runs only while status.phase is Deploying: kopf stops the timer when the filter stops matching.
    # The operator does not watch Deployments, so without this a finished rollout would show in the
    # status only at the next resync.
    group, version = MODEL_DEPLOYMENTS.api_version.split("/")
    interval = ctx.settings.rollout_poll_interval
    kopf.timer(group, version, MODEL_DEPLOYMENTS.plural, registry=registry, id="follow-rollout", interval=interval,
               initial_delay=interval, field="status.phase", value="Deploying")(follow)  # fmt: skip
