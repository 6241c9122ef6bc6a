"""The Dataset and TrainingRun `.spec` shapes the trainer reads, in the CR's camelCase.

The operator hands the whole `.spec` over as JSON (`--spec-json`). Top-level
fields the trainer does not use are ignored (the CR carries more than a Job
needs); nested blocks the trainer owns reject unknown keys so a typo is an error.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from modelops.trainer.errors import SpecError

BuiltinName = Literal["iris", "wine", "breast_cancer", "digits", "diabetes"]
DataFormat = Literal["csv", "parquet"]
TaskName = Literal["classification", "regression", "clustering"]
ColumnType = Literal["number", "integer", "boolean", "category", "string"]
MissingStrategy = Literal["none", "drop", "mean", "median", "most_frequent", "constant"]


class _Strict(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class _Lenient(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


# ---------------------------------------------------------------- Dataset


class BuiltinSource(_Strict):
    name: BuiltinName


class UrlSource(_Strict):
    url: str
    format: DataFormat | None = None


class S3Source(_Lenient):
    """`secretRef` is the operator's business (it becomes env vars); ignored here."""

    bucket: str
    key: str
    endpoint: str | None = None
    region: str | None = None
    format: DataFormat | None = None


class ConfigMapSource(_Strict):
    """The Job mounts the ConfigMap; the trainer reads `<source dir>/<key>`."""

    name: str
    key: str
    format: DataFormat | None = None


class PvcSource(_Strict):
    """The Job mounts the claim at `<pvc root>/<claimName>`; the trainer reads `path` under it."""

    claim_name: str
    path: str
    format: DataFormat | None = None


class Source(_Strict):
    builtin: BuiltinSource | None = None
    url: UrlSource | str | None = None
    s3: S3Source | None = None
    config_map: ConfigMapSource | None = None
    pvc: PvcSource | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        given = [name for name in ("builtin", "url", "s3", "configMap", "pvc") if self.kind_value(name) is not None]
        if len(given) != 1:
            raise ValueError(f"exactly one of builtin, url, s3, configMap, pvc must be set (got {given or 'none'})")
        return self

    def kind_value(self, name: str) -> Any:
        return getattr(self, "config_map" if name == "configMap" else name)

    @property
    def kind(self) -> str:
        return next(n for n in ("builtin", "url", "s3", "configMap", "pvc") if self.kind_value(n) is not None)


class MissingValues(_Strict):
    strategy: MissingStrategy = "none"
    fill_value: str | int | float | None = None

    @model_validator(mode="after")
    def _fill_value_for_constant(self) -> MissingValues:
        if self.strategy == "constant" and self.fill_value is None:
            raise ValueError("fillValue is required when strategy is constant")
        return self


class Outliers(_Strict):
    method: Literal["iqr", "zscore"]
    action: Literal["clip", "drop"] = "clip"
    threshold: float | None = Field(default=None, gt=0, description="default 1.5 for iqr, 3 for zscore")
    columns: list[str] | None = None

    @property
    def effective_threshold(self) -> float:
        if self.threshold is not None:
            return self.threshold
        return 1.5 if self.method == "iqr" else 3.0


class Cleaning(_Strict):
    drop_duplicates: bool = False
    missing_values: MissingValues | None = None
    outliers: Outliers | None = None


class ColumnCheck(_Strict):
    name: str
    type: ColumnType | None = None
    min: float | None = None
    max: float | None = None
    allowed_values: list[str | int | float | bool] | None = None


class DataValidation(_Strict):
    min_rows: int | None = Field(default=None, ge=0)
    max_missing_fraction: float | None = Field(default=None, ge=0, le=1)
    columns: list[ColumnCheck] = Field(default_factory=list)


class Governance(_Lenient):
    owner: str | None = None
    classification: str | None = None
    pii_columns: list[str] = Field(default_factory=list)
    pii_action: Literal["drop", "hash"] = "drop"


class DatasetSpec(_Lenient):
    source: Source
    target: str | None = None
    features: list[str] | None = None
    cleaning: Cleaning = Field(default_factory=Cleaning)
    validation: DataValidation = Field(default_factory=DataValidation)
    governance: Governance = Field(default_factory=Governance)


# ---------------------------------------------------------------- TrainingRun


class ModelSpec(_Strict):
    algorithm: str
    hyperparameters: dict[str, Any] = Field(default_factory=dict)


class SplitSpec(_Strict):
    train: float = Field(default=0.7, gt=0, lt=1)
    validation: float = Field(default=0.15, ge=0, lt=1)
    test: float = Field(default=0.15, gt=0, lt=1)
    stratify: bool | None = Field(default=None, description="default: true for classification")
    seed: int = 42

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitSpec:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test must be 1 (got {total:g})")
        return self


class Objective(_Strict):
    metric: str
    goal: Literal["maximize", "minimize"] | None = None


class TuningSpec(_Strict):
    strategy: Literal["grid", "random"] = "grid"
    parameters: dict[str, list[Any]]
    max_trials: int = Field(default=10, ge=1)
    cv_folds: int = Field(default=3, ge=2)
    objective: Objective | None = None

    @model_validator(mode="after")
    def _non_empty(self) -> TuningSpec:
        if not self.parameters:
            raise ValueError("parameters must name at least one hyperparameter")
        empty = [name for name, values in self.parameters.items() if not values]
        if empty:
            raise ValueError(f"parameters {empty} have no values")
        return self


class ModelValidation(_Lenient):
    """Promotion gates. `maxMetrics` serves lower-is-better metrics (rmse, mae)."""

    min_metrics: dict[str, float] = Field(default_factory=dict)
    max_metrics: dict[str, float] = Field(default_factory=dict)


class TrainingRunSpec(_Lenient):
    task: TaskName | None = None
    model: ModelSpec
    split: SplitSpec = Field(default_factory=SplitSpec)
    tuning: TuningSpec | None = None
    validation: ModelValidation = Field(default_factory=ModelValidation)


# ---------------------------------------------------------------- parsing

SpecT = TypeVar("SpecT", bound=BaseModel)


def describe_validation_error(error: ValidationError, root: str = "spec") -> str:
    """One line per problem, each naming the field: `spec.cleaning.outliers.method: ...`."""
    lines = []
    for item in error.errors():
        path = ".".join([root, *(str(part) for part in item["loc"] if not _is_union_tag(part))])
        lines.append(f"{path}: {item['msg']}")
    return "; ".join(lines)


def _is_union_tag(part: int | str) -> bool:
    # pydantic inserts the tried member's type name (e.g. "UrlSource", "str") into a union's error path.
    return isinstance(part, str) and (part[:1].isupper() or part in ("str", "int", "float", "bool"))


def parse_spec(model: type[SpecT], data: str | dict[str, Any]) -> SpecT:
    """Parse a spec from JSON text or a dict; raises SpecError naming the bad field."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as e:
            raise SpecError(f"spec is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise SpecError("spec must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise SpecError(describe_validation_error(e)) from e
