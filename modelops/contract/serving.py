"""What the operator tells a serving pod, rendered into its environment and parsed back by the server.

`ServingContract` is the whole message; the operator builds one from a ModelDeployment and
renders it with `env()`, and the server's settings (`modelops.serving.settings.ServingSettings`)
extend it, so they read exactly these fields from exactly these variables. A field with a
default has it here and nowhere else; monitoring defaults are the API models' own.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from modelops.api.modeldeployment import DriftMonitoring, PerformanceMonitoring

ENV_PREFIX: Final = "MODELOPS_SERVING_"
# The key that signs prediction ids (HMAC), shared by a deployment's replicas so any of them can
# accept feedback for another's predictions. A secret: the operator passes it from a
# per-ModelDeployment Secret by secretKeyRef, never as a plain value, so it is not a contract field.
FEEDBACK_KEY_ENV: Final = f"{ENV_PREFIX}FEEDBACK_KEY"
# Where a serving pod finds the public keys models must be signed with (a mounted ConfigMap of *.pem).
VERIFY_KEYS_DIR: Final = "/etc/modelops/verify"
# Response header naming the model version that answered (also `model_version` in the bodies).
MODEL_VERSION: Final = "modelops-model-version"


class ServingContract(BaseModel):
    """Settings of one serving pod that come from its ModelDeployment."""

    # `model_uri`/`model_name` are our fields, not pydantic's namespace.
    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model_uri: str = Field(description="artifact URI of the version: <store>/<namespace>/models/<name>/<version>")
    model_name: str | None = Field(
        default=None,
        description="name served under /v2/models/{name} (the ModelDeployment's); default: the model's own name",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="HTTP port (probes, Service target, metrics)")
    grpc_port: int = Field(
        default=8081,
        ge=1,
        le=65535,
        description="gRPC port (Open Inference Protocol V2 `inference.GRPCInferenceService`, grpc.health.v1); "
        "the Service's and container's port named `grpc`",
    )
    drift: DriftMonitoring = Field(default_factory=DriftMonitoring, description="how drift is measured and judged")
    performance: PerformanceMonitoring | None = Field(
        default=None, description="which live metric is judged against which bound, over how many labels"
    )
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="larger bodies get 413")
    max_batch_rows: int = Field(default=10_000, ge=1, description="larger batches get 413")
    signing_public_key: str | None = Field(
        default=None,
        description="path of the PEM public key (or a directory of *.pem keys, for rotation) that a model "
        "version's signature must verify against; a present signature is always checked when set",
    )
    signature_required: bool = Field(
        default=False,
        description="refuse a model version without a valid signature (the server exits, the pod fails to start)",
    )

    def env(self) -> dict[str, str]:
        """The container environment that carries this contract (unset fields are left out)."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            key = f"{ENV_PREFIX}{name.upper()}"
            out[key] = value.model_dump_json(by_alias=True) if isinstance(value, BaseModel) else str(value)
        return out

    def contract(self) -> ServingContract:
        """Just the contract's fields (of a subclass that adds the server's own settings)."""
        return ServingContract.model_validate({name: getattr(self, name) for name in ServingContract.model_fields})
