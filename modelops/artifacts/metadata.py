"""The shapes written next to every dataset and model version.

The trainer writes them, the serving runtime and the operator read them, so they
are the contract between the three: change them only in a backward-compatible way.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Task = Literal["classification", "regression", "clustering"]
FeatureType = Literal["number", "integer", "boolean", "category"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NumericProfile(_Frozen):
    """Distribution of a numeric feature; its bins are the drift baseline."""

    kind: Literal["numeric"] = "numeric"
    count: int
    missing: int
    mean: float
    std: float
    min: float
    max: float
    quantiles: dict[str, float] = Field(description='keys "0.05", "0.25", "0.5", "0.75", "0.95"')
    bin_edges: list[float] = Field(description="n+1 increasing edges; serving counts into the same bins")
    bin_counts: list[int]


# The bucket a categorical profile lumps its long tail into (and where serving counts unseen values).
OTHER_CATEGORY = "__other__"


class CategoricalProfile(_Frozen):
    """Distribution of a categorical feature: value -> count (the long tail under OTHER_CATEGORY)."""

    kind: Literal["categorical"] = "categorical"
    count: int
    missing: int
    frequencies: dict[str, int]


FeatureProfile = Annotated[NumericProfile | CategoricalProfile, Field(discriminator="kind")]


class DatasetProfile(_Frozen):
    """Per-feature profile of one dataset version (training data the model saw)."""

    rows: int
    features: dict[str, FeatureProfile]


class FeatureSchema(_Frozen):
    """One input feature the model expects, in the order the model expects it."""

    name: str
    type: FeatureType
    minimum: float | None = None
    maximum: float | None = None
    categories: list[str] | None = None
    nullable: bool = Field(default=False, description="the pipeline imputes missing values")


class OnnxExport(_Frozen):
    exported: bool
    reason: str | None = Field(default=None, description="why no ONNX file was written")


class ModelMetadata(_Frozen):
    """`metadata.json` of a model version."""

    name: str
    version: str
    task: Task
    algorithm: str
    hyperparameters: dict[str, Any]
    target: str | None
    features: list[FeatureSchema]
    classes: list[str | int | float] | None = None
    metrics: dict[str, dict[str, Any]] = Field(description="split -> metric -> value")
    dataset: str = Field(description="<name>@<version>")
    profile: DatasetProfile
    onnx: OnnxExport
    libraries: dict[str, str]
    files: dict[str, str] = Field(description="file name -> sha256 hex of every other file in the version")
