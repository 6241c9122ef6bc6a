"""Configuration of the model server, from the environment and the command line.

Every field reads `MODELOPS_SERVING_<FIELD>`; the model URI also reads the plain
`MODEL_URI` that the operator sets on the serving container. Command-line flags
(`__main__`) override the environment.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

RuntimeChoice = Literal["auto", "onnx", "sklearn"]


class ServingSettings(BaseSettings):
    """Settings of one server process (one model version, one process per pod)."""

    model_config = SettingsConfigDict(
        env_prefix="MODELOPS_SERVING_",
        extra="ignore",
        # `model_uri`/`model_name` are our fields, not pydantic's namespace.
        protected_namespaces=(),
    )

    model_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("model_uri", "MODEL_URI", "MODELOPS_SERVING_MODEL_URI"),
        description="artifact URI of the model version: <store>/models/<name>/<version>",
    )
    model_name: str | None = Field(
        default=None, description="name served under /v2/models/{name}; defaults to the model's own name"
    )
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)
    runtime: RuntimeChoice = Field(
        default="auto", description="auto: ONNX Runtime when a verified ONNX export exists, else scikit-learn"
    )
    onnx_threads: int = Field(
        default=1,
        ge=1,
        description="ONNX Runtime intra-op threads; 1 suits single-row requests (no thread hand-off)",
    )
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="larger bodies get 413")
    max_batch_rows: int = Field(default=10_000, ge=1, description="larger batches get 413")
    inline_max_rows: int = Field(
        default=64,
        ge=0,
        description="requests up to this many rows share micro-batches on the event loop; "
        "larger ones are predicted alone in a worker thread",
    )
    drift_window: int = Field(default=1000, ge=10, description="rows in the sliding drift window")
    drift_min_rows: int = Field(
        default=100, ge=1, description="drift gauges are exported once the window holds this many rows"
    )
    drift_psi_threshold: float = Field(
        default=0.2, gt=0, description="a feature whose PSI exceeds this counts as drifted"
    )
    drift_ks_pvalue: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="a numeric feature whose KS p-value is below this counts as drifted",
    )
    stats_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description="drift and live-performance statistics are recomputed at most this often",
    )
    feedback_window: int = Field(default=1000, ge=1, description="labelled predictions kept for live metrics")
    feedback_min_samples: int = Field(
        default=10, ge=1, description="live metrics are exported once the window holds this many labels"
    )
    graceful_shutdown_seconds: float = Field(
        default=25.0, gt=0, description="on SIGTERM, in-flight requests get this long to finish"
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    access_log: bool = Field(default=False, description="one log line per request; off because it costs")
