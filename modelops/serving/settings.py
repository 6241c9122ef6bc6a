"""Configuration of the model server: the operator's `ServingContract`, plus the process's own settings.

Every field reads `MODELOPS_SERVING_<FIELD>` (nested monitoring settings as JSON, exactly as
`ServingContract.env()` renders them). Command-line flags (`__main__`) override the environment.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from modelops.api.modeldeployment import PerformanceMonitoring
from modelops.contract.serving import ENV_PREFIX, ServingContract

RuntimeChoice = Literal["auto", "onnx", "sklearn"]


class ServingSettings(BaseSettings, ServingContract):
    """Settings of one server process (one model version, one process per pod)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", protected_namespaces=(), frozen=True)

    host: str = "0.0.0.0"
    runtime: RuntimeChoice = Field(
        default="auto", description="auto: ONNX Runtime when a verified ONNX export exists, else scikit-learn"
    )
    onnx_threads: int = Field(
        default=1,
        ge=1,
        description="ONNX Runtime intra-op threads; 1 suits single-row requests (no thread hand-off)",
    )
    inline_max_rows: int = Field(
        default=64,
        ge=0,
        description="requests up to this many rows share micro-batches on the event loop; "
        "larger ones are predicted alone in a worker thread",
    )
    drift_min_rows: int = Field(
        default=100, ge=1, description="drift gauges are exported once the window holds this many rows"
    )
    stats_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description="drift and live-performance statistics are recomputed at most this often",
    )
    feedback_min_samples: int = Field(
        default=10, ge=1, description="live metrics are exported once the window holds this many labels"
    )
    graceful_shutdown_seconds: float = Field(
        default=25.0, gt=0, description="on SIGTERM, in-flight requests get this long to finish"
    )
    feedback_key: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="signs prediction ids (the deployment's Secret); unset: a random key per process",
    )
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="a connection gets this long to send a request's headers"
    )
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="a request gets this long to send its whole body (408 after)"
    )
    max_pending_body_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="bytes of request bodies being received at once, over all connections (503 beyond)",
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    access_log: bool = Field(default=False, description="one log line per request; off because it costs")

    @property
    def feedback_window(self) -> int:
        """Labelled predictions the live metrics cover: the performance window, or its API default."""
        if self.performance is not None:
            return self.performance.window
        return int(PerformanceMonitoring.model_fields["window"].default)
