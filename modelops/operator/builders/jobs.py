"""The `prepare` and `train` Jobs: one trainer container, bounded retries, never retried on bad input."""

from __future__ import annotations

import json

from modelops.operator import naming
from modelops.operator.builders.common import (
    Manifest,
    container_security_context,
    metadata,
    pod_security_context,
    resources,
    store_env,
    store_env_from,
    volume_mounts,
    volumes,
)
from modelops.operator.settings import OperatorSettings
from modelops.trainer import EXIT_BAD_INPUT

CONTAINER = "trainer"


SOURCE_DIR = "/etc/modelops/source"  # modelops.trainer.sources.DEFAULT_SOURCE_DIR
PVC_ROOT = "/mnt/pvc"  # modelops.trainer.sources.DEFAULT_PVC_ROOT


def source_access(dataset_spec: Manifest) -> tuple[list[Manifest], list[Manifest], list[Manifest]]:
    """(volumes, mounts, envFrom) that let the prepare Job read a Dataset's source where the trainer looks."""
    source = dataset_spec.get("source", {})
    if cm := source.get("configMap"):
        volume = {"name": "source", "configMap": {"name": cm["name"], "items": [{"key": cm["key"], "path": cm["key"]}]}}
        return [volume], [{"name": "source", "mountPath": SOURCE_DIR, "readOnly": True}], []
    if pvc := source.get("pvc"):
        volume = {"name": "source", "persistentVolumeClaim": {"claimName": pvc["claimName"], "readOnly": True}}
        mount = {"name": "source", "mountPath": f"{PVC_ROOT}/{pvc['claimName']}", "readOnly": True}
        return [volume], [mount], []
    if (s3 := source.get("s3")) and s3.get("secretRef"):
        return [], [], [{"secretRef": {"name": s3["secretRef"]["name"]}}]
    return [], [], []


def _job(
    owner: Manifest,
    name: str,
    component: str,
    args: list[str],
    settings: OperatorSettings,
    access: tuple[list[Manifest], list[Manifest], list[Manifest]] = ([], [], []),
) -> Manifest:
    kind = owner["kind"]
    labels = naming.labels(kind, owner["metadata"]["name"], component)
    container: Manifest = {
        "name": CONTAINER,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["python", "-m", "modelops.trainer"],
        "args": args,
        "env": [{"name": "HOME", "value": "/tmp"}, *store_env(settings)],
        "resources": resources(owner["spec"].get("resources"), settings.job_resources),
        "securityContext": container_security_context(),
        "terminationMessagePath": "/dev/termination-log",
        # The trainer writes its JSON result there; a crash before that still leaves the log tail.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [*volume_mounts(settings), *access[1]],
    }
    if env_from := [*store_env_from(settings), *access[2]]:
        container["envFrom"] = env_from
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(owner, name, labels),
        "spec": {
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
                    "volumes": [*volumes(settings), *access[0]],
                },
            },
        },
    }


def prepare_job(dataset: Manifest, *, generation: int, run: int, settings: OperatorSettings) -> Manifest:
    """The Job that ingests, cleans, checks and versions a Dataset's data."""
    name = dataset["metadata"]["name"]
    args = ["prepare", "--name", name, "--store", settings.store, "--spec-json", _spec_json(dataset)]
    job_name = naming.prepare_job_name(name, generation, run)
    return _job(dataset, job_name, "prepare", args, settings, source_access(dataset["spec"]))


def train_job(
    training_run: Manifest, *, generation: int, dataset: str, dataset_version: str, settings: OperatorSettings
) -> Manifest:
    """The Job that fits, tunes, evaluates and saves a TrainingRun's model on a pinned dataset version."""
    name = training_run["metadata"]["name"]
    args = [
        "train",
        "--name",
        name,
        "--store",
        settings.store,
        "--dataset",
        f"{dataset}@{dataset_version}",
        "--spec-json",
        _spec_json(training_run),
    ]
    return _job(training_run, naming.train_job_name(name, generation), "train", args, settings)


def _spec_json(owner: Manifest) -> str:
    return json.dumps(owner["spec"], separators=(",", ":"), sort_keys=True)
