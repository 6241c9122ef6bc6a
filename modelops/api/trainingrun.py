"""TrainingRun: one training of one algorithm on one dataset version, with its gates."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic.config import JsonDict

from modelops.api.common import ApiModel, ModelVersion, ObjectStatus, ResourceRequirements, cel

Task = Literal["classification", "regression", "clustering"]
Algorithm = Literal[
    "logistic_regression",
    "random_forest",
    "decision_tree",
    "gradient_boosting",
    "hist_gradient_boosting",
    "svm",
    "knn",
    "linear_regression",
    "ridge",
    "kmeans",
    "mlp",
]
Metric = Literal[
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "f1_weighted",
    "roc_auc",
    "r2",
    "rmse",
    "mae",
    "silhouette",
]
METRICS: tuple[str, ...] = Metric.__args__  # type: ignore[attr-defined]
# Pods of one tune Job at most: an Indexed Job's pod hostname is `<job name>-<index>`, so the job
# name leaves room for the largest index.
MAX_TUNING_PARALLELISM = 100
_ANY: JsonDict = {"x-kubernetes-preserve-unknown-fields": True}


class DatasetRef(ApiModel):
    name: str = Field(min_length=1, max_length=253)
    version: str | None = Field(default=None, description="pin; default: the Dataset's current version")


class ModelSpec(ApiModel):
    algorithm: Algorithm
    hyperparameters: dict[str, Any] = Field(default_factory=dict, json_schema_extra=_ANY)


class Split(ApiModel):
    model_config = cel(
        (
            "self.train + self.validation + self.test > 0.999 && self.train + self.validation + self.test < 1.001",
            "train + validation + test must sum to 1",
        ),
    )

    train: float = Field(default=0.7, gt=0, lt=1)
    validation: float = Field(default=0.15, ge=0, lt=1)
    test: float = Field(default=0.15, gt=0, lt=1)
    stratify: bool | None = Field(default=None, description="default: true for classification")
    seed: int = Field(default=42, ge=0)
    max_rows: int | None = Field(
        default=None,
        ge=10,
        description=(
            "train on a seeded sample of this many rows when the dataset has more (stratified on the label "
            "when the split is); the split is cut from the sample, status.metrics.sample says so"
        ),
    )

    @model_validator(mode="after")
    def _sums_to_one(self) -> Split:
        if abs(self.train + self.validation + self.test - 1) > 1e-3:
            raise ValueError("train + validation + test must sum to 1")
        return self


class Objective(ApiModel):
    metric: Metric
    goal: Literal["maximize", "minimize"] | None = Field(
        default=None, description="inferred: minimize for rmse and mae, else maximize"
    )


class Tuning(ApiModel):
    strategy: Literal["grid", "random"] = "random"
    parameters: dict[str, list[Any]] = Field(
        min_length=1, json_schema_extra=_ANY, description="hyperparameter name -> candidate values"
    )
    max_trials: int = Field(default=10, ge=1, le=1000)
    cv_folds: int = Field(default=3, ge=2, le=20)
    objective: Objective | None = None
    parallelism: int = Field(
        default=1,
        ge=1,
        le=MAX_TUNING_PARALLELISM,
        description="pods that run the trials at once (an Indexed Job), each a fixed share of the candidates; "
        "the best is then refit and saved by one more pod. The result is the same for any value",
    )

    def trial_count(self) -> int:
        """How many candidates the search tries: `maxTrials`, or the whole space when it is smaller."""
        return min(self.max_trials, math.prod(len(values) for values in self.parameters.values()))

    def shard_count(self) -> int:
        """How many pods score the trials: `parallelism`, but never more than there are trials."""
        return min(self.parallelism, self.trial_count())

    # Not a CEL rule: `parameters` is free-form (preserve-unknown-fields), so the
    # API server accepts an empty list; the trainer refuses it before any fit.
    @model_validator(mode="after")
    def _every_parameter_has_values(self) -> Tuning:
        empty = sorted(name for name, values in self.parameters.items() if not values)
        if empty:
            raise ValueError(f"parameters {empty} have no values")
        return self


class BeatServing(ApiModel):
    """Promote only if the new model is not worse than the one now serving."""

    metric: Metric
    tolerance: float = Field(default=0.0, ge=0)


def _unknown_metrics(field: str) -> str:
    return f"{field} keys must be known metrics: " + ", ".join(METRICS)


def _metric_bounds(field: str, description: str) -> Any:
    """A `metric -> bound` map whose keys both the API server and pydantic check against METRICS."""
    return Field(
        max_length=len(METRICS),  # bounds the CEL rule's estimated cost
        default_factory=dict,
        description=description,
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "self.all(k, k in " + repr(list(METRICS)) + ")", "message": _unknown_metrics(field)}
            ]
        },
    )


class PromotionGates(ApiModel):
    """Bounds on the test-split metrics; a model outside any of them is rejected."""

    min_metrics: dict[str, float] = _metric_bounds(
        "minMetrics", "metric -> lowest acceptable test-split value, for higher-is-better metrics"
    )
    max_metrics: dict[str, float] = _metric_bounds(
        "maxMetrics", "metric -> highest acceptable test-split value, for lower-is-better metrics (rmse, mae)"
    )
    beat_serving: BeatServing | None = None

    @model_validator(mode="after")
    def _known_metrics(self) -> PromotionGates:
        for field, gates in (("minMetrics", self.min_metrics), ("maxMetrics", self.max_metrics)):
            unknown = sorted(set(gates) - set(METRICS))
            if unknown:
                raise ValueError(f"{_unknown_metrics(field)}; got {unknown}")
        return self


class TrainingRunSpec(ApiModel):
    dataset_ref: DatasetRef
    task: Task | None = Field(default=None, description="inferred from the target when absent")
    model: ModelSpec
    split: Split = Field(default_factory=Split)
    tuning: Tuning | None = None
    validation: PromotionGates | None = None
    resources: ResourceRequirements | None = None


class TrainedModel(ModelVersion):
    """The model version a TrainingRun wrote."""

    sha256: str | None = Field(default=None, description="sha256 of model.skops")
    formats: list[str] = Field(default_factory=list)


class Lineage(ApiModel):
    dataset: str = Field(description="<name>@<version> trained on")
    image: str | None = None
    code_version: str | None = Field(default=None, description="version of modelops that trained it")


class Trials(ApiModel):
    """Progress of a hyperparameter search: trials whose scores are in, of all it runs."""

    done: int = Field(ge=0)
    total: int = Field(ge=0)


class TrainingRunStatus(ObjectStatus):
    PHASES = ("Pending", "WaitingForData", "Running", "Succeeded", "Failed", "Rejected")

    job_name: str | None = None
    dataset_version: str | None = None
    start_time: str | None = None
    completion_time: str | None = None
    metrics: dict[str, dict[str, Any]] | None = Field(
        default=None, description="split -> metric -> value", json_schema_extra=_ANY
    )
    score: str | None = Field(default=None, description="the objective metric, for printing")
    best_hyperparameters: dict[str, Any] | None = Field(default=None, json_schema_extra=_ANY)
    trials: Trials | None = None
    model: TrainedModel | None = None
    lineage: Lineage | None = None
    reasons: list[str] | None = None
    failures: int | None = None
