"""Operator configuration from the environment (`MODELOPS_*`), validated once at startup."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from modelops.api.common import ResourceRequirements
from modelops.artifacts.store import namespace_root
from modelops.contract.jobs import SourceLimits


class OperatorSettings(BaseSettings):
    """Everything the operator can be told; each field reads `MODELOPS_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="MODELOPS_", extra="ignore", frozen=True)

    image: str = Field(default="ghcr.io/modelops/modelops:0.1.0", description="image of Jobs and serving pods")
    image_pull_policy: str = "IfNotPresent"
    namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated; empty means cluster-wide"
    )
    allowed_model_prefixes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated URI prefixes a ModelDeployment's spec.model.uri may name besides its own "
        "namespace's <store>/<namespace>/models/ (e.g. a shared read-only model store)",
    )

    store: str = Field(default="pvc:///var/lib/modelops", description="artifact store root as pods see it")
    store_pvc_claim: str | None = Field(default="modelops-store", description="claim mounted for pvc:// stores")
    store_s3_endpoint: str | None = None
    store_s3_secret: str | None = Field(default=None, description="Secret with AWS_ACCESS_KEY_ID/SECRET_ACCESS_KEY")

    job_pod_labels: dict[str, str] = Field(default_factory=dict, description="extra Job pod-template labels (JSON)")
    serving_pod_labels: dict[str, str] = Field(
        default_factory=dict, description="extra serving pod-template labels (JSON)"
    )
    job_resources: ResourceRequirements = Field(
        default_factory=lambda: ResourceRequirements(
            requests={"cpu": "250m", "memory": "512Mi"}, limits={"memory": "2Gi"}
        ),
        description="JSON requests/limits of Jobs whose spec sets none",
    )
    serving_resources: ResourceRequirements = Field(
        default_factory=lambda: ResourceRequirements(
            requests={"cpu": "100m", "memory": "256Mi"}, limits={"memory": "1Gi"}
        ),
        description="JSON requests/limits of serving pods whose spec sets none",
    )
    job_backoff_limit: int = Field(default=2, ge=0, le=20)
    job_active_deadline_seconds: int = Field(default=3600, ge=10)
    job_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60, description="finished Jobs are kept this long")

    resync_interval: float = Field(
        default=300.0,
        gt=0,
        description="seconds in which every object is checked once against the watch cache (a safety net: "
        "changes of objects and children are acted on as their watch events arrive)",
    )
    worker_limit: int = Field(default=8, ge=1, description="objects reconciled at once (worker threads)")
    executor_threads: int = Field(default=4, ge=1, description="threads of kopf's watch handlers")
    watch_server_timeout: int = Field(default=300, ge=10)
    watch_client_timeout: int = Field(default=330, ge=10)
    request_timeout: float = Field(default=60.0, gt=0)
    posting_level: str = Field(default="WARNING", description="kopf log records at this level become Events")
    log_level: str = "INFO"

    monitoring_url: str = Field(
        default="http://{service}.{namespace}.svc.cluster.local/metrics",
        description="where the serving metrics are read; {service} and {namespace} are filled in",
    )
    monitoring_timeout: float = Field(default=5.0, gt=0)
    prometheus_url: str | None = Field(
        default=None,
        description="Prometheus that scrapes the serving pods (with namespace and modeldeployment labels): "
        "the monitoring reads it with a few queries for all ModelDeployments instead of scraping each Service",
    )
    prometheus_refresh: float = Field(default=15.0, gt=0, description="seconds a Prometheus answer is reused")
    signing_key_secret: str | None = Field(
        default=None,
        description="Secret (in each namespace that trains) holding private.pem: mounted into train Jobs only, "
        "every model version they write is signed with it",
    )
    signing_public_keys: str | None = Field(
        default=None,
        description="ConfigMap (in each namespace that serves) of *.pem public keys mounted into serving pods: "
        "a model's signature is checked against them",
    )
    signature_required: bool | None = Field(
        default=None, description="serving pods refuse unsigned models; default: when signing_public_keys is set"
    )
    source_limits: SourceLimits = Field(
        default_factory=SourceLimits.from_env,
        description="what prepare Jobs may read (MODELOPS_SOURCE_*, passed on to the Jobs as they are)",
    )
    keda: bool = Field(
        default=False,
        description="KEDA is installed: ModelDeployments may ask for autoscaling.engine KEDA (the operator "
        "then owns and watches ScaledObjects, whose Prometheus trigger queries MODELOPS_PROMETHEUS_URL)",
    )

    liveness_endpoint: str | None = Field(default="http://0.0.0.0:8081/healthz")
    metrics_port: int = Field(default=9090, ge=0, le=65535, description="0 disables the metrics server")

    @field_validator("namespaces", "allowed_model_prefixes", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("store")
    @classmethod
    def _canonical_store(cls, store: str) -> str:
        """One spelling per store, as the trainer writes URIs: `pvc://data/x` is `pvc:///data/x`."""
        parsed = urlparse(store)
        if parsed.scheme in ("file", "pvc"):
            return f"{parsed.scheme}:///" + (parsed.netloc + parsed.path).strip("/")
        return store.rstrip("/")

    @model_validator(mode="after")
    def _store_reachable(self) -> OperatorSettings:
        scheme = urlparse(self.store).scheme
        if scheme not in ("file", "pvc", "s3"):
            raise ValueError(f"MODELOPS_STORE must be file://, pvc:// or s3://, got {self.store!r}")
        if scheme == "pvc" and not self.store_pvc_claim:
            raise ValueError("MODELOPS_STORE_PVC_CLAIM is required for a pvc:// store")
        return self

    @property
    def store_scheme(self) -> str:
        return urlparse(self.store).scheme

    @property
    def store_mount_path(self) -> str:
        """Where a pvc:// store's claim is mounted: the URI's path (pvc://data/x and pvc:///data/x: /data/x)."""
        parsed = urlparse(self.store)
        return "/" + (parsed.netloc + parsed.path).strip("/")

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces

    @property
    def signatures_required(self) -> bool:
        """Serving pods refuse unsigned models: as set, or whenever public keys are given."""
        if self.signature_required is not None:
            return self.signature_required
        return self.signing_public_keys is not None

    def models_prefix(self, namespace: str) -> str:
        """Where a namespace's model versions live in the store: `<store>/<namespace>/models/`."""
        return f"{namespace_root(self.store, namespace)}/models/"
