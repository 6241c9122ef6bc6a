"""Names and labels of children: deterministic, so a restarted operator finds what it made."""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

MANAGED_BY = "modelops"
COMPONENT_LABEL = "modelops.io/component"
_PREPARE = re.compile(r"-prepare-(\d+)-(\d+)$")
MAX_NAME = 63  # Job names become the `job-name` label value, so they obey the label limit


def bounded(name: str, limit: int = MAX_NAME) -> str:
    """`name`, or a prefix of it plus a short hash when it would exceed `limit`."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-.')}-{digest}"


def with_suffix(name: str, suffix: str, limit: int = MAX_NAME) -> str:
    """`<name><suffix>` with `name` shortened (and hashed) so the suffix survives intact."""
    return bounded(name, limit - len(suffix)) + suffix


class JobRun(NamedTuple):
    """Which Job of an object: the spec generation it is for, and the run of that generation."""

    generation: int
    run: int


def prepare_job_name(dataset: str, run: JobRun) -> str:
    return with_suffix(dataset, f"-prepare-{run.generation}-{run.run}")


def parse_prepare_job(job_name: str | None) -> JobRun | None:
    """The run a prepare Job's name stands for, else None."""
    match = _PREPARE.search(job_name or "")
    return JobRun(int(match[1]), int(match[2])) if match else None


def train_job_name(training_run: str, generation: int) -> str:
    return with_suffix(training_run, f"-train-{generation}")


# The key, in a ModelDeployment's serving Secret, of the key that signs its prediction ids.
FEEDBACK_KEY = "feedback-key"


def serving_secret_name(deployment: str) -> str:
    return with_suffix(deployment, "-serving")


def serving_name(deployment: str) -> str:
    """Deployment, Service, HPA and PDB of a ModelDeployment share its name."""
    return bounded(deployment)


def owner_label(kind: str) -> str:
    return f"modelops.io/{kind.lower()}"


def labels(kind: str, owner: str, component: str) -> dict[str, str]:
    """Labels of every child: who manages it, which object owns it, what it does."""
    return {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": "modelops",
        "app.kubernetes.io/instance": bounded(owner),
        COMPONENT_LABEL: component,
        owner_label(kind): bounded(owner),
    }
