"""ModelDeployment: resolve the model, apply Deployment/Service/HPA/PDB, mirror the rollout in status.

The rollout is followed through the watch on the Deployment (its status changes wake this
reconcile); failing serving pods come from the pod watch (`Context.failures`).
"""

from __future__ import annotations

import secrets
from typing import Any

from modelops.api.common import ModelVersion
from modelops.api.objects import ModelDeployment, TrainingRun
from modelops.operator import metrics, naming
from modelops.operator.builders.common import Manifest
from modelops.operator.builders.deployment import serving_deployment
from modelops.operator.builders.hpa import serving_hpa
from modelops.operator.builders.keda import serving_scaled_object
from modelops.operator.builders.pdb import serving_pdb
from modelops.operator.builders.secret import serving_secret
from modelops.operator.builders.service import endpoint, serving_service
from modelops.operator.decisions import modeldeployment as decide
from modelops.operator.handlers.context import Context
from modelops.operator.handlers.monitoring import monitor, next_look
from modelops.operator.kube import HPAS, MODEL_DEPLOYMENTS, SCALED_OBJECTS, TRAINING_RUNS, Resource
from modelops.operator.views import DeploymentView


def _from_spec(ctx: Context, md: ModelDeployment) -> ModelVersion | decide.Unresolved:
    source = md.spec.model
    if source.training_run_ref is not None:
        name = source.training_run_ref.name
        return decide.from_run(name, _run(ctx, md.namespace, name))
    if source.from_latest is not None:
        labels = source.from_latest.match_labels
        runs = [
            r for r in ctx.cache.items(TRAINING_RUNS.plural, TrainingRun, namespace=md.namespace) if selects(labels, r)
        ]
        return decide.newest_succeeded(runs, labels)
    assert source.uri is not None  # ModelSource holds exactly one source
    return decide.from_uri(source.uri)


def _retrained(ctx: Context, md: ModelDeployment) -> ModelVersion | None:
    """The model of the retraining run, once it succeeded, when the policy promotes automatically.

    Until then (or if it fails), the model served now, which an earlier retraining may have put
    there: not the spec's. After a rollback, the model it put back (until the next retraining or a
    change of the spec).
    """
    retraining, policy = md.status.retraining, md.spec.retraining
    if retraining is None:
        return None
    if retraining.rolled_back and retraining.restored is not None:
        return retraining.restored
    if retraining.run is None or policy is None or not policy.auto_promote or policy.policy == "Never":
        return None
    found = decide.from_run(retraining.run, _run(ctx, md.namespace, retraining.run))
    return found if isinstance(found, ModelVersion) else md.status.model


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


def reconcile(ctx: Context, md: ModelDeployment) -> float | None:
    """Seconds until the monitoring or the retraining schedule is due next, when either is set."""
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
    scaler = autoscaler(ctx, md)
    if isinstance(scaler, decide.Unresolved):
        model = scaler
    if isinstance(model, ModelVersion) and not isinstance(scaler, decide.Unresolved):
        wanted, unwanted = scaler
        ensure_serving_secret(ctx, md)
        stored_deployment, *_ = ctx.apply_all(
            [serving_deployment(md, model, ctx.settings), serving_service(md), wanted, serving_pdb(md)]
        )
        deployment = DeploymentView.model_validate(stored_deployment)
        if unwanted is not None:
            ctx.delete(unwanted, namespace=md.namespace, name=naming.serving_name(md.name))
    pods = ctx.failures.of(md.namespace, md.name)
    plan = decide.decide(md, model, deployment, pods, endpoint(md), ctx.clock())
    if any(event.reason == "Promoted" for event in plan.events):
        metrics.PROMOTIONS.labels(namespace=md.namespace, modeldeployment=md.name).inc()
    monitor(ctx, md.model_copy(update={"status": plan.status}), plan)
    ctx.write(MODEL_DEPLOYMENTS, stored, plan)
    return next_look(md, ctx.clock())


def ensure_serving_secret(ctx: Context, md: ModelDeployment) -> None:
    """The Secret holding the key the pods sign prediction ids with: made once, never read back, never rotated
    (a new key would void the feedback ids in flight); the operator asks once per start."""
    if md.metadata.uid in ctx.secrets_made:
        return
    ctx.kube.create_if_absent(serving_secret(md, secrets.token_hex(32)))
    ctx.secrets_made.add(md.metadata.uid)


def autoscaler(ctx: Context, md: ModelDeployment) -> tuple[Manifest, Resource[Any] | None] | decide.Unresolved:
    """(the autoscaler the spec asks for, the kind of the one to remove), or why it cannot be had here."""
    settings = ctx.settings
    autoscaling = md.spec.autoscaling
    if autoscaling is None or autoscaling.engine == "HPA":
        return serving_hpa(md), SCALED_OBJECTS if settings.keda else None
    if not settings.keda or settings.prometheus_url is None:
        return decide.Unresolved(
            "KedaNotConfigured",
            "autoscaling.engine KEDA needs an operator told that KEDA is installed and where Prometheus is "
            "(chart values keda.enabled and prometheus.url)",
            terminal=True,
        )
    return serving_scaled_object(md, settings.prometheus_url), HPAS


def _run(ctx: Context, namespace: str, name: str) -> TrainingRun | None:
    return ctx.cache.get(TRAINING_RUNS.plural, TrainingRun, namespace=namespace, name=name)


def selects(labels: dict[str, str], run: TrainingRun) -> bool:
    """Whether a fromLatest selector matches the run."""
    return all(run.metadata.labels.get(key) == value for key, value in labels.items())
