"""The three custom resource kinds: names, printer columns and their pydantic shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelops.api.common import GROUP, VERSION, ApiModel, ObjectStatus
from modelops.api.dataset import DatasetSpec, DatasetStatus
from modelops.api.modeldeployment import ModelDeploymentSpec, ModelDeploymentStatus
from modelops.api.trainingrun import TrainingRunSpec, TrainingRunStatus

CATEGORY = "modelops"


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    priority: int = 0

    def wire(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.priority:
            column["priority"] = self.priority
        return column


AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    short_name: str
    spec: type[ApiModel]
    status: type[ObjectStatus]
    columns: tuple[PrinterColumn, ...]
    rules: tuple[dict[str, str], ...] = field(default=())

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def api_version(self) -> str:
        return f"{GROUP}/{VERSION}"


DATASET = Kind(
    kind="Dataset",
    plural="datasets",
    short_name="ds",
    spec=DatasetSpec,
    status=DatasetStatus,
    columns=(
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Version", ".status.version"),
        PrinterColumn("Rows", ".status.rows", "integer"),
        AGE,
    ),
)

TRAINING_RUN = Kind(
    kind="TrainingRun",
    plural="trainingruns",
    short_name="tr",
    spec=TrainingRunSpec,
    status=TrainingRunStatus,
    columns=(
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Dataset", ".spec.datasetRef.name"),
        PrinterColumn("Algorithm", ".spec.model.algorithm"),
        PrinterColumn("Score", ".status.score"),
        AGE,
    ),
    # Like a Job's template: what was trained must stay what the spec says.
    rules=(
        {
            "rule": "!has(oldSelf.status) || !has(oldSelf.status.phase)"
            " || oldSelf.status.phase in ['Pending', 'WaitingForData'] || self.spec == oldSelf.spec",
            "message": "spec is immutable once training has started; create a new TrainingRun instead",
        },
    ),
)

MODEL_DEPLOYMENT = Kind(
    kind="ModelDeployment",
    plural="modeldeployments",
    short_name="md",
    spec=ModelDeploymentSpec,
    status=ModelDeploymentStatus,
    columns=(
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Model", ".status.model.version"),
        PrinterColumn("Ready", ".status.ready"),
        PrinterColumn("Endpoint", ".status.endpoint"),
        AGE,
    ),
)

KINDS: tuple[Kind, ...] = (DATASET, TRAINING_RUN, MODEL_DEPLOYMENT)
