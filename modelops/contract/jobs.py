"""What a prepare, train or tune Job is given and what it gives back.

The operator renders a Job's command line from `PrepareJobArgs` / `TrainJobArgs` / `TuneJobArgs`;
the trainer's CLI parses it back into the same shapes. The Job reports through its pod's termination
message: a `DatasetResult` / `TrainResult` / `TuneResult` (`modelops.contract.trials`) on success,
a `JobFailure` otherwise, and its exit code says whether a retry can help (the operator builds the
Job's podFailurePolicy from `EXIT_BAD_INPUT`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, ClassVar, Final, Literal, Self, get_origin

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

# Where a train Job finds the private key that signs every model version it writes (a Secret only
# train Jobs mount); `TrainJobArgs.signing_key` passes the path as `--signing-key`.
SIGNING_KEY_DIR: Final = "/etc/modelops/signing"
SIGNING_KEY_FILE: Final = "private.pem"

SOURCE_ENV_PREFIX: Final = "MODELOPS_SOURCE_"
PREPARE_ENV_PREFIX: Final = "MODELOPS_PREPARE_"


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
    sample: dict[str, Any] | None = Field(
        default=None, description="rows, of, seed, stratified: the sample trained on beyond spec.split.maxRows"
    )


class JobFailure(_Shape):
    """What a failed Job reports instead of a result."""

    error: str
    reason: FailureReason


class _EnvSettings(_Shape):
    """Settings the operator renders as `<PREFIX><FIELD>` variables and the trainer parses back."""

    ENV_PREFIX: ClassVar[str]

    def env(self) -> dict[str, str]:
        """`<PREFIX><FIELD>` for each field; a list is comma-separated."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            out[f"{self.ENV_PREFIX}{name.upper()}"] = ",".join(value) if isinstance(value, list) else str(value)
        return out

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings the environment sets (see `env()`); unset variables keep the defaults."""
        environ = os.environ if environ is None else environ
        data: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            value = environ.get(f"{cls.ENV_PREFIX}{name.upper()}")
            if value is None or value.strip() == "":
                continue
            is_list = get_origin(info.annotation) is list
            data[name] = [part.strip() for part in value.split(",") if part.strip()] if is_list else value
        return cls.model_validate(data)


class SourceLimits(_EnvSettings):
    """How far a prepare Job may go to read its source; the operator renders them with `env()`.

    A URL source may reach only public addresses: loopback, link-local (cloud metadata), private
    and other non-global addresses are refused after DNS resolution and after every redirect,
    unless `allowed_hosts` names the host (as written in the URL) or a network holding its address.
    """

    ENV_PREFIX: ClassVar[str] = SOURCE_ENV_PREFIX

    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="host names, IP addresses or CIDR networks a url source may reach although not public",
    )
    max_bytes: int = Field(default=1024**3, ge=1, description="largest source file or download")
    timeout_seconds: float = Field(default=300.0, gt=0, description="longest download, redirects included")
    max_columns: int = Field(default=10_000, ge=1, description="more columns are refused before parsing")
    max_rows: int = Field(default=50_000_000, ge=1, description="more rows are refused while parsing")


# The interpreter and the libraries `prepare` imports take about 300 MiB before any data.
MIN_PREPARE_MEMORY_BYTES: Final = 512 * 1024**2


class PrepareLimits(_EnvSettings):
    """The memory a prepare Job works within, whatever the size of its data; rendered with `env()`.

    `prepare` reads, cleans, profiles and writes its data batch by batch, with statistics computed
    from a spill on local disk (/tmp), so its peak resident memory follows this setting, not the
    data. The default leaves half of the chart's 2 GiB Job limit to spare.
    """

    ENV_PREFIX: ClassVar[str] = PREPARE_ENV_PREFIX

    memory_bytes: int = Field(
        default=1024**3,
        ge=MIN_PREPARE_MEMORY_BYTES,
        description="peak resident memory prepare stays under: it sizes batches and in-memory statistics",
    )


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


class _TrainingArgs(_Shape):
    """What a TrainingRun's Jobs share: whose run, which store, the dataset version, the spec."""

    namespace: str
    name: str
    store: str
    dataset: str
    dataset_version: str | None = Field(default=None, description="None: the latest complete version")
    spec: TrainingRunSpec

    def _argv(self, command: str) -> list[str]:
        dataset = f"{self.dataset}@{self.dataset_version}" if self.dataset_version else self.dataset
        return [
            command,
            *("--namespace", self.namespace, "--name", self.name, "--store", self.store),
            *("--dataset", dataset, "--spec-json", _spec_json(self.spec)),
        ]


class TrainJobArgs(_TrainingArgs):
    """The command line of a TrainingRun's train Job, on a pinned dataset version."""

    signing_key: str | None = Field(
        default=None,
        description="PEM private key (elliptic curve) that signs the model version, e.g. "
        "SIGNING_KEY_DIR/SIGNING_KEY_FILE from a mounted Secret; None: the version is not signed",
    )
    tuning_shards: int | None = Field(
        default=None,
        ge=2,
        description="the trials were scored by a tune Job of this many shards, whose results are in the store: "
        "pick the best of them instead of running the search; None: run the search here",
    )

    def argv(self) -> list[str]:
        return [
            *self._argv("train"),
            *(("--signing-key", self.signing_key) if self.signing_key else ()),
            *(("--tuning-shards", str(self.tuning_shards)) if self.tuning_shards else ()),
        ]


class TuneJobArgs(_TrainingArgs):
    """The command line of a TrainingRun's tune Job: an Indexed Job, its pod of index i scores shard i.

    The index is not an argument: every pod of the Job has the same command line, and the Job
    controller gives each its index in `JOB_COMPLETION_INDEX` (`modelops.contract.trials`).
    """

    shards: int = Field(ge=2, description="the Job's completions: how many shards the trials are dealt into")

    def argv(self) -> list[str]:
        return [*self._argv("tune"), "--shards", str(self.shards)]
