"""One model version being served: loading it, and what every request does with it.

The HTTP layers (`app` for FastAPI routes, `asgi` for the raw hot path) only
parse and answer; validation, prediction, drift recording, metrics and
prediction ids all happen here, so both layers behave the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from modelops.artifacts.errors import ArtifactError
from modelops.artifacts.metadata import ModelMetadata
from modelops.artifacts.model_format import LoadedModel, load_model
from modelops.serving.batching import MicroBatcher
from modelops.serving.drift import DriftMonitor
from modelops.serving.errors import (
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
    ModelNotReadyError,
)
from modelops.serving.feedback import LiveQuality, PredictionIds
from modelops.serving.metrics import ServingMetrics
from modelops.serving.protocol import (
    FeedbackRequest,
    FeedbackResponse,
    IgnoredFeedback,
    MetadataTensor,
    ModelMetadataResponse,
    PredictRequest,
    PredictResponse,
    parse_infer_request,
)
from modelops.serving.runtime import Matrix, Prediction, Runtime, profile_rows, select_runtime
from modelops.serving.settings import ServingSettings
from modelops.serving.validation import InputValidator

log = logging.getLogger(__name__)

PREDICT = "predict"
PREDICT_PROBA = "predict_proba"
_WARMUP_ROUNDS = 20


@dataclass(frozen=True)
class ServedModel:
    """Everything derived from a loaded model version, built once at load."""

    name: str
    version: str
    metadata: ModelMetadata
    runtime: Runtime
    has_proba: bool
    classes: list[Any] | None
    label_datatype: str
    validator: InputValidator
    drift: DriftMonitor
    ids: PredictionIds
    quality: LiveQuality
    batcher: MicroBatcher

    def outputs(self, names: Sequence[str] | None) -> tuple[bool, bool]:
        """(predict, predict_proba) as the client asked; `predict` alone by default, like MLServer."""
        if not names:
            return True, False
        offered = [PREDICT, PREDICT_PROBA] if self.has_proba else [PREDICT]
        unknown = [n for n in names if n not in offered]
        if unknown:
            raise InvalidInputError(f"unknown outputs {unknown}; this model offers {offered}")
        return PREDICT in names, PREDICT_PROBA in names


class ModelService:
    """Loads one model version and answers predictions and feedback for it."""

    def __init__(self, settings: ServingSettings, metrics: ServingMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or ServingMetrics()
        self.model: ServedModel | None = None
        self.failure: str | None = None

    @property
    def ready(self) -> bool:
        return self.model is not None

    # -- loading ----------------------------------------------------------------------------

    def load(self) -> None:
        """Load, verify and warm up the version at `settings.model_uri` (blocking)."""
        uri = self.settings.model_uri
        started = time.perf_counter()
        try:
            try:
                loaded = load_model(
                    uri,
                    public_key=self.settings.signing_public_key,
                    require_signature=self.settings.signature_required,
                )
            except ArtifactError as e:
                raise ModelLoadError(f"cannot serve {uri}: {e}") from e
            try:
                self.install(loaded, started=started)
            except ModelLoadError:
                raise
            except Exception as e:  # a pipeline that cannot even predict its warm-up rows
                raise ModelLoadError(f"cannot serve {uri}: {type(e).__name__}: {e}") from e
        except ModelLoadError as e:
            self.failure = str(e)
            raise

    def install(self, loaded: LoadedModel, *, started: float | None = None) -> ServedModel:
        """Serve an already loaded (and verified) model version."""
        started = time.perf_counter() if started is None else started
        settings = self.settings
        metadata = loaded.metadata
        runtime = select_runtime(loaded, choice=settings.runtime, threads=settings.onnx_threads)
        has_proba = runtime.has_proba and metadata.task == "classification"
        classes = _classes(loaded)
        ids = PredictionIds(metadata.version, metadata.task, classes)
        drift = DriftMonitor(
            metadata.features,
            metadata.profile,
            window=settings.drift.window,
            method=settings.drift.method,
            threshold=settings.drift.threshold,
        )
        model = ServedModel(
            name=settings.model_name or metadata.name,
            version=metadata.version,
            metadata=metadata,
            runtime=runtime,
            has_proba=has_proba,
            classes=classes,
            label_datatype=_label_datatype(metadata, classes),
            validator=InputValidator(metadata.features, max_rows=settings.max_batch_rows),
            drift=drift,
            ids=ids,
            quality=LiveQuality(ids, classes, window=settings.feedback_window),
            batcher=MicroBatcher(runtime, on_batch=self._on_batch(drift), thread_rows=settings.inline_max_rows),
        )
        _warm_up(runtime, metadata, has_proba)
        self.metrics.set_model(
            name=model.name,
            version=model.version,
            runtime=runtime.platform,
            task=metadata.task,
            algorithm=metadata.algorithm,
            classes=classes,
            load_seconds=time.perf_counter() - started,
        )
        self.metrics.attach_statistics(
            model.drift,
            model.quality,
            ttl=settings.stats_cache_seconds,
            drift_min_rows=settings.drift_min_rows,
            feedback_min_samples=settings.feedback_min_samples,
            performance=settings.performance,
        )
        self.model = model
        log.info(
            "serving %s version %s with %s (%d features)",
            model.name, model.version, runtime.platform, len(metadata.features),
        )  # fmt: skip
        return model

    # -- requests ---------------------------------------------------------------------------

    def served(self, name: str | None = None, version: str | None = None) -> ServedModel:
        """The model, if it is ready and is the one the path names."""
        model = self.model
        if model is None:
            raise ModelNotReadyError(self.failure or "the model is still loading")
        if name is not None and name != model.name:
            raise ModelNotFoundError(f"model {name!r} is not served here (this server serves {model.name!r})")
        if version is not None and version != model.version:
            raise ModelNotFoundError(
                f"version {version!r} of model {model.name!r} is not served here (serving {model.version!r})"
            )
        return model

    async def _predict(self, model: ServedModel, matrix: Matrix, probabilities: bool) -> Prediction:
        return await model.batcher.predict(matrix, probabilities=probabilities)

    def _record(self, model: ServedModel, matrix: Matrix, prediction: Prediction) -> list[str]:
        # The drift window and class counters are fed per batch (ModelService._on_batch).
        self.metrics.record_rows(matrix.shape[0])
        return model.ids.issue(prediction.values)

    def _on_batch(self, drift: DriftMonitor) -> Callable[[Matrix, Prediction], None]:
        count = self.metrics.count_predictions

        def on_batch(matrix: Matrix, prediction: Prediction) -> None:
            drift.observe(matrix)
            count(prediction.values)

        return on_batch

    async def infer_v2(self, body: bytes, name: str, version: str | None = None) -> bytes:
        """The Open Inference Protocol V2 infer call: raw body in, JSON body out."""
        model = self.served(name, version)
        request = parse_infer_request(body)
        want_predict, want_proba = model.outputs(request.outputs)
        matrix = model.validator.from_v2(request.inputs)
        prediction = await self._predict(model, matrix, want_proba)
        ids = self._record(model, matrix, prediction)
        rows = matrix.shape[0]
        outputs: list[dict[str, Any]] = []
        if want_predict:
            outputs.append(
                {
                    "name": PREDICT,
                    "shape": [rows],
                    "datatype": model.label_datatype,
                    "data": prediction.values.tolist(),
                }
            )
        if want_proba and prediction.probabilities is not None:
            proba = prediction.probabilities
            outputs.append(
                {
                    "name": PREDICT_PROBA,
                    "shape": list(proba.shape),
                    "datatype": "FP64",
                    "data": proba.ravel().tolist(),
                }
            )
        answer: dict[str, Any] = {
            "model_name": model.name,
            "model_version": model.version,
            "parameters": {"prediction_ids": ids},
            "outputs": outputs,
        }
        if request.id is not None:
            answer["id"] = request.id
        return orjson.dumps(answer)

    async def predict(self, request: PredictRequest) -> PredictResponse:
        """The simple JSON API: labels, probabilities for classifiers, one id per row."""
        model = self.served()
        matrix = model.validator.from_instances(request.instances)
        prediction = await self._predict(model, matrix, model.has_proba)
        ids = self._record(model, matrix, prediction)
        proba = prediction.probabilities
        return PredictResponse(
            model_name=model.name,
            model_version=model.version,
            predictions=prediction.values.tolist(),
            classes=model.classes if proba is not None else None,
            probabilities=proba.tolist() if proba is not None else None,
            prediction_ids=ids,
        )

    def feedback(self, request: FeedbackRequest) -> FeedbackResponse:
        model = self.served()
        outcome = model.quality.record((item.prediction_id, item.label) for item in request.feedback)
        if outcome.accepted:
            self.metrics.feedback.labels("accepted").inc(outcome.accepted)
        if outcome.ignored:
            self.metrics.feedback.labels("ignored").inc(len(outcome.ignored))
        return FeedbackResponse(
            accepted=outcome.accepted,
            ignored=[IgnoredFeedback(prediction_id=i, reason=r) for i, r in outcome.ignored],
        )

    def v2_metadata(self, name: str, version: str | None = None) -> ModelMetadataResponse:
        model = self.served(name, version)
        metadata = model.metadata
        features = len(metadata.features)
        numeric = model.validator.all_numeric
        outputs = [MetadataTensor(name=PREDICT, datatype=model.label_datatype, shape=[-1])]
        if model.has_proba and model.classes is not None:
            outputs.append(MetadataTensor(name=PREDICT_PROBA, datatype="FP64", shape=[-1, len(model.classes)]))
        return ModelMetadataResponse(
            name=model.name,
            versions=[model.version],
            platform=model.runtime.platform,
            inputs=[
                MetadataTensor(
                    name="input-0",
                    datatype="FP64" if numeric else "BYTES",
                    shape=[-1, features],
                    parameters={"feature_names": [f.name for f in metadata.features]},
                )
            ],
            outputs=outputs,
            parameters={
                "task": metadata.task,
                "algorithm": metadata.algorithm,
                "classes": model.classes,
                "features": [f.model_dump() for f in metadata.features],
                "input_formats": "one [N, F] tensor, or one [N] tensor per feature named after it",
            },
        )


def _classes(loaded: LoadedModel) -> list[Any] | None:
    if loaded.metadata.task != "classification":
        return None
    # The pipeline's own classes_ fix the column order of predict_proba; metadata mirrors them.
    fitted = getattr(loaded.pipeline, "classes_", None)
    if fitted is not None:
        return list(np.asarray(fitted).tolist())
    return list(loaded.metadata.classes or [])


def _label_datatype(metadata: ModelMetadata, classes: list[Any] | None) -> str:
    if metadata.task == "regression":
        return "FP64"
    if metadata.task == "clustering":
        return "INT64"
    if classes and all(isinstance(c, str) for c in classes):
        return "BYTES"
    if classes and any(isinstance(c, float) for c in classes):
        return "FP64"
    return "INT64"


def _warm_up(runtime: Runtime, metadata: ModelMetadata, has_proba: bool) -> None:
    """Run the first predictions before declaring ready: they allocate and JIT-initialise."""
    rows = profile_rows(metadata)
    for i in range(_WARMUP_ROUNDS):
        runtime.predict(rows[i % len(rows) : i % len(rows) + 1], probabilities=False)
        if has_proba:
            runtime.predict(rows[i % len(rows) : i % len(rows) + 1], probabilities=True)
    runtime.predict(rows, probabilities=has_proba)
