"""ModelDeployment: resolve the model, apply Deployment/Service/HPA/PDB, mirror the rollout in status."""

from __future__ import annotations

import kopf

from modelops.operator import decisions
from modelops.operator.builders.deployment import serving_deployment
from modelops.operator.builders.hpa import serving_hpa
from modelops.operator.builders.pdb import serving_pdb
from modelops.operator.builders.service import endpoint, serving_service
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
    """The model of the retraining run, once it succeeded, when the policy promotes automatically."""
    retraining = (obj.get("status") or {}).get("retraining") or {}
    policy = obj["spec"].get("retraining") or {}
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


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    register_kind(registry, ctx, MODEL_DEPLOYMENTS, "ModelDeployment", reconcile)
