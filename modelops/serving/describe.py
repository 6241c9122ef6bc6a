"""What the server says about its model: V2 metadata, and Triton's configuration, repository and statistics.

Pure functions of the served model (and the metrics counters), shared by the REST routes and
gRPC. Model metadata advertises the inputs a standard client should send: one `[N, F]` FP64
tensor for an all-numeric model (the fast path), one tensor per feature with its own datatype
otherwise (a BYTES `[N, F]` tensor would make clients like tritonclient send numbers as text).
"""

from __future__ import annotations

import json

import modelops
from modelops.artifacts.metadata import FeatureSchema
from modelops.serving.inference import PREDICT, PREDICT_PROBA
from modelops.serving.metrics import ServingMetrics
from modelops.serving.protocol import (
    ConfigParameter,
    ConfigTensor,
    Duration,
    InferStatistics,
    MetadataTensor,
    ModelConfigResponse,
    ModelMetadataResponse,
    ModelStatistics,
    ModelStatisticsResponse,
    RepositoryModel,
)
from modelops.serving.service import ModelService, ServedModel

MATRIX_INPUT = "input-0"
# Extensions of the protocol this server implements (`GET /v2` lists them, as Triton and KServe do).
EXTENSIONS = ["binary_tensor_data", "model_configuration", "model_repository", "statistics"]
# Triton's configuration names the V2 datatypes differently.
CONFIG_TYPES = {
    "BOOL": "TYPE_BOOL", "UINT8": "TYPE_UINT8", "UINT16": "TYPE_UINT16", "UINT32": "TYPE_UINT32",
    "UINT64": "TYPE_UINT64", "INT8": "TYPE_INT8", "INT16": "TYPE_INT16", "INT32": "TYPE_INT32",
    "INT64": "TYPE_INT64", "FP16": "TYPE_FP16", "FP32": "TYPE_FP32", "FP64": "TYPE_FP64", "BYTES": "TYPE_STRING",
}  # fmt: skip


def server_version() -> str:
    return getattr(modelops, "__version__", "0.1.0")


def feature_datatype(feature: FeatureSchema) -> str:
    """The datatype advertised for a feature's own tensor (FP64 where missing values must be sendable as NaN)."""
    if feature.type == "category":
        return "BYTES"
    if feature.nullable or feature.type == "number":
        return "FP64"
    return "BOOL" if feature.type == "boolean" else "INT64"


def inputs_of(model: ServedModel) -> list[MetadataTensor]:
    features = model.metadata.features
    if model.validator.all_numeric:
        return [
            MetadataTensor(
                name=MATRIX_INPUT,
                datatype="FP64",
                shape=[-1, len(features)],
                parameters={"feature_names": [f.name for f in features]},
            )
        ]
    return [
        MetadataTensor(
            name=f.name,
            datatype=feature_datatype(f),
            shape=[-1],
            parameters={"feature_type": f.type, "nullable": f.nullable},
        )
        for f in features
    ]


def outputs_of(model: ServedModel) -> list[MetadataTensor]:
    outputs = [MetadataTensor(name=PREDICT, datatype=model.label_datatype, shape=[-1])]
    if model.has_proba and model.classes is not None:
        outputs.append(MetadataTensor(name=PREDICT_PROBA, datatype="FP64", shape=[-1, len(model.classes)]))
    return outputs


def model_metadata(model: ServedModel) -> ModelMetadataResponse:
    metadata = model.metadata
    return ModelMetadataResponse(
        name=model.name,
        versions=[model.version],
        platform=model.runtime.platform,
        inputs=inputs_of(model),
        outputs=outputs_of(model),
        parameters={
            "task": metadata.task,
            "algorithm": metadata.algorithm,
            "classes": model.classes,
            "features": [f.model_dump() for f in metadata.features],
            "input_formats": "the inputs listed; also one [N, F] tensor (BYTES when some features are categories) "
            "or one [N] tensor per feature named after it",
        },
    )


def model_config(model: ServedModel, *, max_batch_rows: int) -> ModelConfigResponse:
    """Triton's model configuration: tensors without the batch dimension, as `max_batch_size` > 0 implies."""
    metadata = model.metadata

    def tensors(described: list[MetadataTensor]) -> list[ConfigTensor]:
        return [
            ConfigTensor(name=t.name, data_type=CONFIG_TYPES[t.datatype], dims=t.shape[1:] or [1]) for t in described
        ]

    parameters = {
        "version": model.version,
        "task": metadata.task,
        "algorithm": metadata.algorithm,
        "features": json.dumps([f.model_dump() for f in metadata.features]),
    }
    if model.classes is not None:
        parameters["classes"] = json.dumps(model.classes)
    return ModelConfigResponse(
        name=model.name,
        platform=model.runtime.platform,
        backend="modelops",
        max_batch_size=max_batch_rows,
        input=tensors(inputs_of(model)),
        output=tensors(outputs_of(model)),
        parameters={k: ConfigParameter(string_value=v) for k, v in parameters.items()},
    )


def repository_index(service: ModelService, *, ready_only: bool) -> list[RepositoryModel]:
    """The one model of this server, in the state it is in (the repository extension's index)."""
    model = service.model
    if model is not None:
        return [RepositoryModel(name=model.name, version=model.version, state="READY", reason="")]
    if ready_only:
        return []
    name = service.settings.model_name or service.settings.model_uri.rstrip("/").split("/")[-2]
    if service.failure is not None:
        return [RepositoryModel(name=name, version="", state="UNAVAILABLE", reason=service.failure)]
    return [RepositoryModel(name=name, version="", state="LOADING", reason="")]


def model_statistics(model: ServedModel, metrics: ServingMetrics) -> ModelStatisticsResponse:
    """The statistics extension, from the counters `/metrics` exports (queueing and compute are not split)."""
    (ok, ok_seconds), (failed, failed_seconds) = metrics.inference_outcomes()
    zero = Duration(count=0, ns=0)
    return ModelStatisticsResponse(
        model_stats=[
            ModelStatistics(
                name=model.name,
                version=model.version,
                last_inference=int(metrics.last_prediction * 1000),
                inference_count=metrics.predicted_rows(),
                execution_count=metrics.model_calls,
                inference_stats=InferStatistics(
                    success=Duration(count=ok, ns=int(ok_seconds * 1e9)),
                    fail=Duration(count=failed, ns=int(failed_seconds * 1e9)),
                    queue=zero,
                    compute_input=zero,
                    compute_infer=zero,
                    compute_output=zero,
                ),
            )
        ]
    )
