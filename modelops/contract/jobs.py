"""What a prepare or train Job is given and what it gives back.

The operator renders a Job's command line from `PrepareJobArgs` / `TrainJobArgs`; the trainer's
CLI parses it back into the same shapes. The Job reports through its pod's termination message:
a `DatasetResult` / `TrainResult` on success, a `JobFailure` otherwise, and its exit code says
whether a retry can help (the operator builds the Job's podFailurePolicy from `EXIT_BAD_INPUT`).
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from modelops.api.dataset import DatasetSpec
from modelops.api.trainingrun import TrainingRunSpec

# Exit codes of `python -m modelops.trainer`.
EXIT_OK: Final = 0
EXIT_INTERNAL: Final = 1  # a bug: the Job's backoff applies
EXIT_BAD_INPUT: Final = 2  # spec, data or artifact is wrong: a retry cannot help, the Job fails at once
EXIT_TRANSIENT: Final = 75  # EX_TEMPFAIL: network or storage trouble, a retry may help

FailureReason = Literal["BadInput", "Transient", "Internal"]
REASON_BAD_INPUT: Final = "BadInput"
REASON_TRANSIENT: Final = "Transient"
REASON_INTERNAL: Final = "Internal"

# Where the prepare Job finds its mounted source: a configMap's key as a file in SOURCE_DIR,
# a claim at PVC_ROOT/<claimName>.
SOURCE_DIR: Final = "/etc/modelops/source"
PVC_ROOT: Final = "/mnt/pvc"

TERMINATION_MESSAGE_PATH: Final = "/dev/termination-log"


class _Shape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatasetResult(_Shape):
    """What `prepare` reports (termination message and stdout); under 4 KB."""

    name: str
    version: str
    rows: int
    columns: int
    artifact: str
    report: str
    profile: str
    quality: dict[str, int]


class TrainResult(_Shape):
    """What `train` reports (termination message and stdout); under 4 KB."""

    name: str
    version: str
    uri: str
    task: Literal["classification", "regression", "clustering"]
    metrics: dict[str, float] = Field(description="headline test-split metrics")
    passed: bool
    reasons: list[str]
    formats: list[str]
    sha256: str = Field(description="sha256 of model.skops")
    best_hyperparameters: dict[str, Any] = Field(default_factory=dict)
    trials: int = 1
    code_version: str | None = Field(default=None, description="version of modelops that trained it")


class JobFailure(_Shape):
    """What a failed Job reports instead of a result."""

    error: str
    reason: FailureReason


def _spec_json(spec: DatasetSpec | TrainingRunSpec) -> str:
    return json.dumps(spec.wire(), separators=(",", ":"), sort_keys=True)


class PrepareJobArgs(_Shape):
    """The command line of a Dataset's prepare Job."""

    namespace: str
    name: str
    store: str = Field(description="the store root; the version lands in <store>/<namespace>/datasets/<name>")
    spec: DatasetSpec

    def argv(self) -> list[str]:
        return [
            "prepare",
            *("--namespace", self.namespace, "--name", self.name, "--store", self.store),
            *("--spec-json", _spec_json(self.spec)),
        ]


class TrainJobArgs(_Shape):
    """The command line of a TrainingRun's train Job, on a pinned dataset version."""

    namespace: str
    name: str
    store: str
    dataset: str
    dataset_version: str | None = Field(default=None, description="None: the latest complete version")
    spec: TrainingRunSpec

    def argv(self) -> list[str]:
        dataset = f"{self.dataset}@{self.dataset_version}" if self.dataset_version else self.dataset
        return [
            "train",
            *("--namespace", self.namespace, "--name", self.name, "--store", self.store),
            *("--dataset", dataset, "--spec-json", _spec_json(self.spec)),
        ]
