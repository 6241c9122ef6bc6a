"""Dataset: where data comes from, how it is cleaned and checked, and its versions."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from modelops.api.common import ApiModel, ObjectStatus, ResourceRequirements, SecretKeyRef, cel, exactly_one

BuiltinName = Literal["iris", "wine", "breast_cancer", "digits", "diabetes"]
FileFormat = Literal["csv", "parquet"]
DURATION_PATTERN = r"^([0-9]+(s|m|h))+$"
_SOURCES = ("builtin", "url", "s3", "configMap", "pvc")


class BuiltinSource(ApiModel):
    """A dataset bundled with scikit-learn."""

    name: BuiltinName


class UrlSource(ApiModel):
    url: str = Field(pattern=r"^https?://", max_length=2048)
    format: FileFormat | None = Field(default=None, description="inferred from the URL when absent")


class S3Source(ApiModel):
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
    key: str = Field(min_length=1, max_length=1024)
    endpoint: str | None = Field(default=None, pattern=r"^https?://")
    region: str | None = None
    secret_ref: SecretKeyRef | None = Field(
        default=None, description="Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )
    format: FileFormat | None = None


def _relative_path_rule(field: str, what: str) -> dict[str, Any]:
    """A CEL rule on a string field: a path relative to its mount, which no `..` segment can leave."""
    return {
        "x-kubernetes-validations": [
            {"rule": f"!self.startsWith('/') && !self.matches('{_CLIMBS}')", "message": f"{field} {what}"}
        ]
    }


# A `..` path segment: at the start, between slashes, or at the end.
_CLIMBS = r"(^|/)[.][.](/|$)"
_RELATIVE = "must be a relative path inside the claim: no leading '/', no '..' segment"
_KEY = "must name a file in the ConfigMap, not '..'"


def _check_relative(value: str, what: str) -> str:
    if value.startswith("/") or re.search(_CLIMBS, value):
        raise ValueError(what)
    return value


class ConfigMapSource(ApiModel):
    """A small file held in a ConfigMap key (binaryData for Parquet)."""

    name: str = Field(min_length=1, max_length=253)
    key: str = Field(
        min_length=1,
        max_length=253,
        # A ConfigMap key's own syntax (no '/'), minus the two names that mean directories.
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="a ConfigMap key (letters, digits, '-', '_', '.'; not '.' or '..')",
        json_schema_extra=_relative_path_rule("key", _KEY),
    )
    format: FileFormat | None = Field(default=None, description="inferred from the key when absent")

    @field_validator("key")
    @classmethod
    def _a_file_name(cls, value: str) -> str:
        return _check_relative(value, _KEY)


class PvcSource(ApiModel):
    claim_name: str = Field(min_length=1, max_length=253)
    path: str = Field(
        min_length=1,
        max_length=4096,
        description="file path relative to the claim's root",
        json_schema_extra=_relative_path_rule("path", _RELATIVE),
    )
    format: FileFormat | None = None

    @field_validator("path")
    @classmethod
    def _inside_the_claim(cls, value: str) -> str:
        return _check_relative(value, _RELATIVE)


class DataSource(ApiModel):
    """Exactly one of the fields is set."""

    model_config = cel(exactly_one(*_SOURCES))

    builtin: BuiltinSource | None = None
    url: UrlSource | None = None
    s3: S3Source | None = None
    config_map: ConfigMapSource | None = None
    pvc: PvcSource | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DataSource:
        if len(self.model_fields_set & {"builtin", "url", "s3", "config_map", "pvc"}) != 1:
            raise ValueError(f"exactly one of {', '.join(_SOURCES)} must be set")
        return self


class MissingValues(ApiModel):
    model_config = cel(
        (
            "self.strategy != 'constant' || has(self.fillValue)",
            "fillValue is required when strategy is constant",
        ),
    )

    strategy: Literal["drop", "mean", "median", "most_frequent", "constant"] = "drop"
    fill_value: int | str | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-int-or-string": True},
        description="parsed as a number for numeric columns",
    )

    @model_validator(mode="after")
    def _fill_value_for_constant(self) -> MissingValues:
        if self.strategy == "constant" and self.fill_value is None:
            raise ValueError("fillValue is required when strategy is constant")
        return self


class Outliers(ApiModel):
    method: Literal["iqr", "zscore"]
    action: Literal["clip", "drop"] = "clip"
    threshold: float | None = Field(
        default=None, gt=0, description="IQR multiplier (default 1.5) or z-score (default 3.0)"
    )
    columns: list[str] | None = Field(default=None, description="default: every numeric feature")

    @property
    def effective_threshold(self) -> float:
        if self.threshold is not None:
            return self.threshold
        return 1.5 if self.method == "iqr" else 3.0


class Cleaning(ApiModel):
    drop_duplicates: bool = True
    missing_values: MissingValues | None = None
    outliers: Outliers | None = None


ColumnType = Literal["number", "integer", "string", "boolean", "category"]


class ColumnRule(ApiModel):
    model_config = cel(
        (
            "!has(self.min) || !has(self.max) || self.min <= self.max",
            "min must be less than or equal to max",
        ),
    )

    name: str = Field(min_length=1)
    type: ColumnType | None = None
    min: float | None = None
    max: float | None = None
    # Strings only: a structural schema cannot say "string, number or boolean" for
    # list items, and comparing as text lets "1" match 1 and 1.0 in the data.
    allowed_values: list[str] | None = Field(
        default=None, description='compared as text: "1" matches 1 and 1.0; booleans are stored as 0/1'
    )
    nullable: bool | None = Field(
        default=None,
        description="whether a prediction request may leave this feature out (it is then imputed as in "
        "training); default: when the data had missing values in it",
    )

    @model_validator(mode="after")
    def _range(self) -> ColumnRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must be less than or equal to max")
        return self


class DataValidation(ApiModel):
    min_rows: int | None = Field(default=None, ge=1)
    max_missing_fraction: float | None = Field(default=None, ge=0, le=1)
    columns: list[ColumnRule] = Field(default_factory=list)


class Retention(ApiModel):
    keep_versions: int = Field(default=10, ge=1, le=1000)


class Governance(ApiModel):
    owner: str | None = None
    classification: Literal["public", "internal", "confidential", "restricted"] | None = None
    pii_columns: list[str] = Field(default_factory=list)
    pii_action: Literal["drop", "hash"] = "drop"
    retention: Retention | None = None


class DatasetSpec(ApiModel):
    source: DataSource
    target: str | None = Field(default=None, min_length=1, description="label column; absent for clustering")
    features: list[str] | None = Field(default=None, description="default: every column but the target")
    cleaning: Cleaning = Field(default_factory=Cleaning)
    validation: DataValidation | None = None
    governance: Governance | None = None
    refresh_interval: str | None = Field(default=None, pattern=DURATION_PATTERN, description="e.g. 1h, 30m")
    resources: ResourceRequirements | None = None


class DatasetVersion(ApiModel):
    version: str
    rows: int
    created: str


class DatasetStatus(ObjectStatus):
    PHASES = ("Pending", "Running", "Ready", "Failed")

    version: str | None = None
    versions: list[DatasetVersion] = Field(default_factory=list)
    rows: int | None = None
    columns: int | None = None
    artifact: str | None = None
    report: str | None = None
    profile: str | None = Field(default=None, description="URI of the per-feature profile")
    quality: dict[str, int] | None = None
    job_name: str | None = None
    last_refresh_time: str | None = None
    failures: int | None = None
