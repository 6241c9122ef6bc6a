"""TrainingRun: wait for its Dataset, pin the version, run the train Job, record model and gates."""

from __future__ import annotations

import kopf

from modelops.operator import decisions, naming
from modelops.operator.builders.jobs import train_job
from modelops.operator.handlers.context import Context, Manifest, register_kind
from modelops.operator.handlers.jobs import ensure_job, read_job
from modelops.operator.kube import DATASETS, TRAINING_RUNS


def reconcile(ctx: Context, obj: Manifest) -> None:
    now = ctx.clock()
    meta, status = obj["metadata"], obj.get("status") or {}
    generation = int(meta.get("generation") or 1)
    if status.get("phase") in decisions.TERMINAL_RUN_PHASES and status.get("observedGeneration") == generation:
        return  # what was trained stays as it was (the CRD refuses spec changes from here on)
    job_name = naming.train_job_name(meta["name"], generation)
    if status.get("phase") == "Running" and status.get("jobName") == job_name:
        plan = decisions.training_follow(obj, read_job(ctx.kube, meta["namespace"], job_name), now, ctx.settings.image)
        if plan.create_job is not None:
            _create(ctx, obj, str(status["datasetVersion"]))
        ctx.write(TRAINING_RUNS, obj, plan)
        return
    dataset = ctx.kube.get(DATASETS, meta["namespace"], obj["spec"]["datasetRef"]["name"])
    plan, version = decisions.training_wait_for_data(obj, dataset, now)
    if version is not None:
        _create(ctx, obj, version)
        plan = decisions.training_start(obj, version, job_name, now)
    ctx.write(TRAINING_RUNS, obj, plan)


def _create(ctx: Context, obj: Manifest, version: str) -> None:
    generation = int(obj["metadata"].get("generation") or 1)
    dataset = obj["spec"]["datasetRef"]["name"]
    job = train_job(obj, generation=generation, dataset=dataset, dataset_version=version, settings=ctx.settings)
    ensure_job(ctx.kube, job, "train")


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    register_kind(registry, ctx, TRAINING_RUNS, "TrainingRun", reconcile)
