"""The `prepare`, `train` and `tune` Jobs: one trainer container, bounded retries, never retried on bad input.

A TrainingRun whose search runs in several pods (`spec.tuning.parallelism`) has two Jobs: the
`tune` Indexed Job, one pod per shard of the trials, then the `train` Job that picks the best of
them, refits and saves the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from kubernetes.utils.quantity import parse_quantity

from modelops.api.dataset import DatasetSpec
from modelops.api.objects import ApiObject, Dataset, TrainingRun
from modelops.contract.jobs import (
    EXIT_BAD_INPUT,
    MIN_PREPARE_MEMORY_BYTES,
    PVC_ROOT,
    SIGNING_KEY_DIR,
    SIGNING_KEY_FILE,
    SOURCE_DIR,
    TERMINATION_MESSAGE_PATH,
    PrepareJobArgs,
    PrepareLimits,
    SourceLimits,
    TrainJobArgs,
    TuneJobArgs,
)
from modelops.operator import naming
from modelops.operator.builders.common import (
    Manifest,
    container_security_context,
    env,
    metadata,
    pod_security_context,
    resources,
    store_env,
    store_env_from,
    volume_mounts,
    volumes,
)
from modelops.operator.naming import JobRun
from modelops.operator.settings import OperatorSettings

CONTAINER = "trainer"


@dataclass(frozen=True)
class Access:
    """What one kind of Job gets beyond the common pod: volumes and mounts, environment."""

    volumes: list[Manifest] = field(default_factory=list)
    mounts: list[Manifest] = field(default_factory=list)
    env_from: list[Manifest] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    tmp_bytes: int | None = None


# A source is streamed to /tmp before parsing: room for the largest one the limits allow, and some.
TMP_HEADROOM = 256 * 1024**2


def source_access(spec: DatasetSpec, limits: SourceLimits) -> Access:
    """Where the prepare Job reads its source (the trainer looks there) and how far it may go."""
    base = Access(env=limits.env(), tmp_bytes=limits.max_bytes + TMP_HEADROOM)
    source = spec.source
    if (cm := source.config_map) is not None:
        volume = {"name": "source", "configMap": {"name": cm.name, "items": [{"key": cm.key, "path": cm.key}]}}
        mount = {"name": "source", "mountPath": SOURCE_DIR, "readOnly": True}
        return replace(base, volumes=[volume], mounts=[mount])
    if (pvc := source.pvc) is not None:
        volume = {"name": "source", "persistentVolumeClaim": {"claimName": pvc.claim_name, "readOnly": True}}
        mount = {"name": "source", "mountPath": f"{PVC_ROOT}/{pvc.claim_name}", "readOnly": True}
        return replace(base, volumes=[volume], mounts=[mount])
    if (s3 := source.s3) is not None and s3.secret_ref is not None:
        return replace(base, env_from=[{"secretRef": {"name": s3.secret_ref.name}}])
    return base


def signing_access(settings: OperatorSettings) -> Access:
    """The signing key, for train Jobs only (readable by the group the pod runs in, nobody else)."""
    if settings.signing_key_secret is None:
        return Access()
    secret = {"secretName": settings.signing_key_secret, "defaultMode": 0o440}
    return Access(
        volumes=[{"name": "signing", "secret": secret}],
        mounts=[{"name": "signing", "mountPath": SIGNING_KEY_DIR, "readOnly": True}],
    )


def _job(
    owner: ApiObject[Any, Any],
    name: str,
    component: str,
    argv: list[str],
    settings: OperatorSettings,
    access: Access,
    *,
    indexed: int | None = None,
) -> Manifest:
    """The Job; with `indexed`, an Indexed Job of that many pods at once, each told its index by the Job controller."""
    labels = naming.labels(owner.kind, owner.name, component)
    container: Manifest = {
        "name": CONTAINER,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["python", "-m", "modelops.trainer"],
        "args": argv,
        "env": env({"HOME": "/tmp", **store_env(settings), **access.env}),
        "resources": resources(owner.spec.resources, settings.job_resources),
        "securityContext": container_security_context(),
        "terminationMessagePath": TERMINATION_MESSAGE_PATH,
        # The trainer writes its JSON result there; a crash before that still leaves the log tail.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [*volume_mounts(settings), *access.mounts],
    }
    if env_from := [*store_env_from(settings), *access.env_from]:
        container["envFrom"] = env_from
    shape: Manifest = (
        {} if indexed is None else {"completionMode": "Indexed", "completions": indexed, "parallelism": indexed}
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(owner, name, labels),
        "spec": {
            **shape,
            "backoffLimit": settings.job_backoff_limit,
            "activeDeadlineSeconds": settings.job_active_deadline_seconds,
            "ttlSecondsAfterFinished": settings.job_ttl_seconds,
            # Bad input fails the same way every time: fail the Job at once instead of spending retries.
            # Disruptions (preemption, node drain) are not the trainer's fault: do not count them.
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {"containerName": CONTAINER, "operator": "In", "values": [EXIT_BAD_INPUT]},
                    },
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                ]
            },
            "template": {
                "metadata": {"labels": {**labels, **settings.job_pod_labels}},
                "spec": {
                    "restartPolicy": "Never",
                    # Jobs report through their termination message: they need no API access.
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security_context(),
                    "containers": [container],
                    "volumes": [*volumes(settings, tmp_bytes=access.tmp_bytes), *access.volumes],
                },
            },
        },
    }


def prepare_limits(job_resources: Manifest) -> PrepareLimits:
    """What `prepare` works within: half the Job's memory limit, the other half for the interpreter,
    its libraries and what the budget does not count; the trainer's default without a limit."""
    limit = job_resources.get("limits", {}).get("memory")
    if limit is None:
        return PrepareLimits()
    limit_bytes = int(parse_quantity(limit))  # type: ignore[no-untyped-call]  # the client ships no hints
    return PrepareLimits(memory_bytes=max(MIN_PREPARE_MEMORY_BYTES, limit_bytes // 2))


def prepare_job(ds: Dataset, run: JobRun, settings: OperatorSettings) -> Manifest:
    """The Job that ingests, cleans, checks and versions a Dataset's data."""
    args = PrepareJobArgs(namespace=ds.namespace, name=ds.name, store=settings.store, spec=ds.spec)
    job_name = naming.prepare_job_name(ds.name, run)
    access = source_access(ds.spec, settings.source_limits)
    memory = prepare_limits(resources(ds.spec.resources, settings.job_resources))
    return _job(ds, job_name, "prepare", args.argv(), settings, replace(access, env={**access.env, **memory.env()}))


def _training_fields(tr: TrainingRun, dataset_version: str, settings: OperatorSettings) -> dict[str, Any]:
    return {
        "namespace": tr.namespace,
        "name": tr.name,
        "store": settings.store,
        "dataset": tr.spec.dataset_ref.name,
        "dataset_version": dataset_version,
        "spec": tr.spec,
    }


def train_job(tr: TrainingRun, dataset_version: str, settings: OperatorSettings) -> Manifest:
    """The Job that fits, tunes, evaluates and saves a TrainingRun's model on a pinned dataset version.

    When the search runs in several pods it is the final step: it picks the best of the trials
    the tune Job stored, refits and saves.
    """
    shards = tr.spec.tuning.shard_count() if tr.spec.tuning else 1
    args = TrainJobArgs(
        **_training_fields(tr, dataset_version, settings),
        signing_key=f"{SIGNING_KEY_DIR}/{SIGNING_KEY_FILE}" if settings.signing_key_secret else None,
        tuning_shards=shards if shards > 1 else None,
    )
    name = naming.train_job_name(tr.name, tr.generation)
    return _job(tr, name, "train", args.argv(), settings, signing_access(settings))


def tune_job(tr: TrainingRun, dataset_version: str, settings: OperatorSettings) -> Manifest:
    """The Indexed Job whose pod of index i scores shard i of the search's trials and stores them.

    It never gets the signing key: it writes trials, not models.
    """
    if tr.spec.tuning is None or tr.spec.tuning.shard_count() < 2:
        raise ValueError(f"TrainingRun {tr.name} runs its search in one pod: it has no tune Job")
    shards = tr.spec.tuning.shard_count()
    args = TuneJobArgs(**_training_fields(tr, dataset_version, settings), shards=shards)
    name = naming.tune_job_name(tr.name, tr.generation)
    return _job(tr, name, "tune", args.argv(), settings, Access(), indexed=shards)
