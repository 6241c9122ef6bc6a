"""Shapes shared by the three kinds: the Kubernetes condition and status conventions."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "modelops.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

ConditionStatus = Literal["True", "False", "Unknown"]

# Dataset and model versions are content hashes of this many hex digits.
VERSION_LENGTH = 16
NAMESPACE_PATTERN = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
# Names of stored artifacts: the CR names (DNS-1123 subdomains), which the trainer also accepts with '_'.
ARTIFACT_NAME_PATTERN = r"[a-z0-9]([-a-z0-9_.]{0,251}[a-z0-9])?"
MODEL_URI_PATTERN = (
    rf"^(s3|file|pvc)://[^?# ]*/{NAMESPACE_PATTERN}/models/{ARTIFACT_NAME_PATTERN}/[0-9a-f]{{{VERSION_LENGTH}}}$"
)
MODEL_URI_MESSAGE = "must name a model version: <store>/<namespace>/models/<name>/<16 hex digits>"


class ApiModel(BaseModel):
    """Base of every CR shape: camelCase on the wire, snake_case in Python, unknown fields refused.

    The API server already prunes unknown fields; refusing them here catches typos in
    specs handed to the trainer outside Kubernetes.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def wire(self) -> dict[str, Any]:
        """The JSON shape the API server stores (camelCase, unset fields omitted)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def cel(rule: tuple[str, str], *more: tuple[str, str]) -> ConfigDict:
    """Model config carrying CEL rules (rule, message) that the API server enforces on that object."""
    return ConfigDict(
        json_schema_extra={"x-kubernetes-validations": [{"rule": r, "message": m} for r, m in (rule, *more)]}
    )


def exactly_one(*fields: str) -> tuple[str, str]:
    """A CEL rule (rule, message) that exactly one of the named optional fields is set."""
    present = ", ".join(f"has(self.{name})" for name in fields)
    return f"[{present}].filter(x, x).size() == 1", f"exactly one of {', '.join(fields)} must be set"


class Condition(ApiModel):
    """metav1.Condition."""

    type: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$", max_length=316)
    status: ConditionStatus
    reason: str = Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)
    message: str = Field(default="", max_length=32768)
    last_transition_time: str = Field(json_schema_extra={"format": "date-time"})
    observed_generation: int | None = Field(default=None, ge=0)


class SecretKeyRef(ApiModel):
    name: str = Field(min_length=1, max_length=253)


class ResourceRequirements(ApiModel):
    """Requests and limits of the Job or serving container, as Kubernetes quantities."""

    requests: dict[str, str] | None = None
    limits: dict[str, str] | None = None


class ModelVersion(ApiModel):
    """One version of a model in the store, and the TrainingRun that made it (when one did)."""

    uri: str = Field(description="<store>/<namespace>/models/<name>/<version>")
    version: str
    run: str | None = Field(default=None, description="the TrainingRun that trained it")


class ObjectStatus(ApiModel):
    """Fields every kind's status carries.

    Conditions follow kstatus: `Ready` (usable), `Reconciling` (work in flight) and `Stalled`
    (terminal, needs a human), so Flux, Helm `--wait`, `kubectl wait` and Argo CD judge health.
    """

    # Fields an older operator wrote are ignored when reading (and left as they are by merge patches).
    model_config = ConfigDict(extra="ignore")
    PHASES: ClassVar[tuple[str, ...]] = ()

    phase: str | None = None
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    message: str | None = None
