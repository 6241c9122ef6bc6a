"""Whole custom resources as the API server returns them: metadata, typed spec, typed status.

The operator parses every object once, at the handler's edge, into one of these and decides on
typed values from then on; a status is serialised once, for the write.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from modelops.api.common import API_VERSION, ApiModel, ObjectStatus
from modelops.api.dataset import DatasetSpec, DatasetStatus
from modelops.api.modeldeployment import ModelDeploymentSpec, ModelDeploymentStatus
from modelops.api.trainingrun import TrainingRunSpec, TrainingRunStatus

SpecT = TypeVar("SpecT", bound=ApiModel)
StatusT = TypeVar("StatusT", bound=ObjectStatus)


class ObjectMeta(BaseModel):
    """The part of metav1.ObjectMeta the operator reads (the rest is ignored, not refused)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    name: str
    namespace: str
    uid: str
    generation: int = 1
    resource_version: str | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class ApiObject(BaseModel, Generic[SpecT, StatusT]):
    """One stored object of a modelops kind."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    api_version: str = API_VERSION
    kind: str
    metadata: ObjectMeta
    spec: SpecT
    status: StatusT

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def generation(self) -> int:
        return self.metadata.generation

    def owner_reference(self) -> dict[str, Any]:
        """The controller reference that makes the garbage collector delete a child with this object."""
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.metadata.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


class Dataset(ApiObject[DatasetSpec, DatasetStatus]):
    kind: str = "Dataset"
    status: DatasetStatus = Field(default_factory=DatasetStatus)


class TrainingRun(ApiObject[TrainingRunSpec, TrainingRunStatus]):
    kind: str = "TrainingRun"
    status: TrainingRunStatus = Field(default_factory=TrainingRunStatus)


class ModelDeployment(ApiObject[ModelDeploymentSpec, ModelDeploymentStatus]):
    kind: str = "ModelDeployment"
    status: ModelDeploymentStatus = Field(default_factory=ModelDeploymentStatus)
