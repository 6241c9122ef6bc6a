"""ModelDeployment: serve a model, watch it, and retrain, promote or roll back on its own."""

from __future__ import annotations

import re
from typing import Literal

from croniter import croniter
from pydantic import Field, field_validator, model_validator

from modelops.api.common import (
    MODEL_URI_MESSAGE,
    MODEL_URI_PATTERN,
    ApiModel,
    ModelVersion,
    ObjectStatus,
    ResourceRequirements,
    cel,
    exactly_one,
)
from modelops.api.dataset import DURATION_PATTERN
from modelops.api.trainingrun import TrainingRunSpec

_MODEL_SOURCES = ("trainingRunRef", "fromLatest", "uri")
# What the API server can check of a cron expression: five fields, or a predefined macro.
CRON_PATTERN = r"^(@(yearly|annually|monthly|weekly|daily|hourly)|\S+( +\S+){4})$"


class TrainingRunRef(ApiModel):
    name: str = Field(min_length=1, max_length=253)


class LatestSelector(ApiModel):
    """The newest Succeeded TrainingRun whose labels match: a registry without a server."""

    match_labels: dict[str, str] = Field(min_length=1)


class ModelSource(ApiModel):
    model_config = cel(exactly_one(*_MODEL_SOURCES))

    training_run_ref: TrainingRunRef | None = None
    from_latest: LatestSelector | None = None
    uri: str | None = Field(
        default=None,
        max_length=2048,
        description="a model version in the store: <store>/<namespace>/models/<name>/<version>",
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": f"self.matches('{MODEL_URI_PATTERN}')", "message": f"uri {MODEL_URI_MESSAGE}"}
            ]
        },
    )

    @field_validator("uri")
    @classmethod
    def _names_a_version(cls, uri: str | None) -> str | None:
        if uri is not None and not re.match(MODEL_URI_PATTERN, uri):
            raise ValueError(f"uri {MODEL_URI_MESSAGE}")
        return uri

    @model_validator(mode="after")
    def _exactly_one(self) -> ModelSource:
        if len(self.model_fields_set & {"training_run_ref", "from_latest", "uri"}) != 1:
            raise ValueError(f"exactly one of {', '.join(_MODEL_SOURCES)} must be set")
        return self


class Replicas(ApiModel):
    model_config = cel(
        (
            "self.min <= self.max",
            "replicas.min must be less than or equal to replicas.max",
        ),
    )

    min: int = Field(default=1, ge=1, le=1000)
    max: int = Field(default=3, ge=1, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> Replicas:
        if self.min > self.max:
            raise ValueError("replicas.min must be less than or equal to replicas.max")
        return self


_KEDA_CPU = "engine KEDA scales on requestsPerSecond, latencyP95 or inflight; use engine HPA for cpu"


class Autoscaling(ApiModel):
    model_config = cel(("self.engine != 'KEDA' || self.metric != 'cpu'", _KEDA_CPU))

    engine: Literal["HPA", "KEDA"] = Field(
        default="HPA",
        description="HPA: an autoscaling/v2 HPA on the custom metrics API (prometheus-adapter) or CPU; "
        "KEDA: a KEDA ScaledObject with a Prometheus trigger (the operator must be told KEDA and Prometheus)",
    )
    metric: Literal["requestsPerSecond", "latencyP95", "inflight", "cpu"] = "requestsPerSecond"
    target: float = Field(gt=0, description="per pod: requests/s, seconds, requests, or CPU utilization %")

    @model_validator(mode="after")
    def _keda_metric(self) -> Autoscaling:
        if self.engine == "KEDA" and self.metric == "cpu":
            raise ValueError(_KEDA_CPU)
        return self


class DriftMonitoring(ApiModel):
    method: Literal["psi", "ks"] = "psi"
    threshold: float = Field(default=0.2, gt=0)
    window: int = Field(default=1000, ge=10, le=1_000_000, description="most recent requests compared")


class PerformanceMonitoring(ApiModel):
    metric: Literal["accuracy", "f1", "rmse"] = "accuracy"
    min: float = Field(description="for rmse: the highest acceptable value")
    window: int = Field(default=500, ge=10, le=1_000_000, description="most recent labelled predictions")


class Monitoring(ApiModel):
    drift: DriftMonitoring | None = None
    performance: PerformanceMonitoring | None = None
    interval: str = Field(default="60s", pattern=DURATION_PATTERN, description="how often the operator reads metrics")


class Retraining(ApiModel):
    model_config = cel(
        (
            "self.policy != 'Schedule' || has(self.schedule)",
            "schedule is required when policy is Schedule",
        ),
        (
            "self.policy == 'Never' || has(self.template)",
            "template is required unless policy is Never",
        ),
    )

    policy: Literal["Never", "OnDrift", "OnDegradation", "Schedule"] = "Never"
    schedule: str | None = Field(
        default=None,
        pattern=CRON_PATTERN,
        description="cron expression (5 fields or @hourly/@daily/...), UTC, for policy Schedule",
    )
    template: TrainingRunSpec | None = None
    auto_promote: bool = True
    rollback: bool = Field(default=True, description="roll back when the promoted model does worse")
    cooldown: str = Field(default="1h", pattern=DURATION_PATTERN, description="least time between retrainings")

    @model_validator(mode="after")
    def _policy_fields(self) -> Retraining:
        if self.policy == "Schedule" and self.schedule is None:
            raise ValueError("schedule is required when policy is Schedule")
        if self.schedule is not None and not croniter.is_valid(self.schedule):
            raise ValueError(f"schedule {self.schedule!r} is not a valid cron expression")
        if self.policy != "Never" and self.template is None:
            raise ValueError("template is required unless policy is Never")
        return self


class ModelDeploymentSpec(ApiModel):
    model: ModelSource
    replicas: Replicas = Field(default_factory=Replicas)
    autoscaling: Autoscaling | None = None
    monitoring: Monitoring | None = None
    retraining: Retraining | None = None
    resources: ResourceRequirements | None = None


class MonitoringStatus(ApiModel):
    drift_score: float | None = None
    drifted_features: list[str] | None = None
    live_accuracy: float | None = None
    requests: int | None = None


class RetrainingStatus(ApiModel):
    last_trigger: str | None = None
    reason: str | None = None
    run: str | None = None
    baseline: float | None = Field(default=None, description="live metric of the model serving when it started")
    rolled_back: bool | None = Field(default=None, description="the run's model did worse and was taken back")
    restored: ModelVersion | None = Field(default=None, description="the model put back by the rollback")


class PromotedVersion(ModelVersion):
    """A model version this ModelDeployment served, and since when."""

    promoted: str


class ModelDeploymentStatus(ObjectStatus):
    PHASES = ("Pending", "Deploying", "Ready", "Degraded", "Failed")

    replicas: int | None = None
    ready_replicas: int | None = None
    ready: str | None = Field(default=None, description="readyReplicas/replicas, for printing")
    endpoint: str | None = None
    model: ModelVersion | None = None
    monitoring: MonitoringStatus | None = None
    retraining: RetrainingStatus | None = None
    history: list[PromotedVersion] | None = None
