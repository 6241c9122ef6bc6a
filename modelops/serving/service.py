"""One model version being served: loading it, and what every request does with it.

The transports (`app` for FastAPI routes, `asgi` for the raw V2 REST path,
`grpc_service` for gRPC) only parse and answer; validation, prediction, drift
recording, metrics and prediction ids all happen here, so every client gets the
same behaviour. Bodies over `OFFLOAD_BYTES` are parsed and validated in a worker
thread, so a large request does not stall the event loop for the others.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from modelops.artifacts.errors import ArtifactError
from modelops.artifacts.metadata import ModelMetadata
from modelops.artifacts.model_format import LoadedModel, load_model
from modelops.contract.serving import MODEL_VERSION
from modelops.serving.batching import MicroBatcher
from modelops.serving.bodies import read_json
from modelops.serving.drift import DriftMonitor
from modelops.serving.errors import (
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
    ModelNotReadyError,
)
from modelops.serving.feedback import MAX_FEEDBACK_ITEMS, LiveQuality, PredictionIds, feedback_key
from modelops.serving.inference import PREDICT, PREDICT_PROBA, InferAnswer, InferCall, OutputTensor
from modelops.serving.metrics import ServingMetrics
from modelops.serving.protocol import (
    FEEDBACK_REQUEST_ADAPTER,
    PREDICT_REQUEST_ADAPTER,
    FeedbackRequest,
    FeedbackResponse,
    IgnoredFeedback,
    PredictResponse,
)
from modelops.serving.rest import parse_infer, render_infer
from modelops.serving.runtime import Matrix, Prediction, Runtime, profile_rows, select_runtime
from modelops.serving.settings import ServingSettings
from modelops.serving.validation import InputValidator

log = logging.getLogger(__name__)

_WARMUP_ROUNDS = 20
# Bodies larger than this are parsed and validated in a worker thread (~1 ms of work on the loop).
OFFLOAD_BYTES = 256 * 1024
# JSON containers a body may hold beyond one per row (the body object, its lists, per-input objects).
_SLACK = 64
T = TypeVar("T")


async def _off_loop(work: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, work)


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
    max_containers: int  # JSON objects and arrays a V2 body of at most max_batch_rows rows can need
    version_header: tuple[bytes, bytes]  # the HTTP response header naming the version

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
        # One key for the process's life: ids issued before a reload stay valid.
        self._feedback_key = feedback_key(settings.feedback_key)

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
        ids = PredictionIds(metadata.version, metadata.task, classes, key=self._feedback_key)
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
            # Nested [N, 1] per-feature tensors need N + 1 lists each; a few objects and lists besides.
            max_containers=(settings.max_batch_rows + 4) * (len(metadata.features) + 1) + _SLACK,
            version_header=(MODEL_VERSION.encode(), metadata.version.encode()),
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

    async def infer(self, call: InferCall, name: str, version: str | None = None) -> InferAnswer:
        """An Open Inference Protocol V2 infer call, whichever transport brought it."""
        model = self.served(name, version)
        wanted = model.outputs(call.outputs)
        matrix = model.validator.from_v2(call.inputs)
        prediction = await model.batcher.predict(matrix, probabilities=wanted[1])
        return self._answer(model, call, matrix, prediction, wanted)

    async def infer_rest(
        self, body: bytes, json_length: int | None, name: str, version: str | None = None
    ) -> tuple[bytes, int | None]:
        """V2 REST infer: the raw body (JSON, or JSON + binary tensors) in; the answer's body and JSON length out."""
        model = self.served(name, version)
        if len(body) > OFFLOAD_BYTES:
            call, matrix = await _off_loop(functools.partial(self._checked, model, body, json_length))
        else:
            call, matrix = self._checked(model, body, json_length)
        wanted = model.outputs(call.outputs)
        prediction = await model.batcher.predict(matrix, probabilities=wanted[1])
        return render_infer(self._answer(model, call, matrix, prediction, wanted), call)

    def _checked(self, model: ServedModel, body: bytes, json_length: int | None) -> tuple[InferCall, Matrix]:
        call = parse_infer(body, json_length, max_containers=model.max_containers, rows=self.settings.max_batch_rows)
        return call, model.validator.from_v2(call.inputs)

    def _answer(
        self, model: ServedModel, call: InferCall, matrix: Matrix, prediction: Prediction, wanted: tuple[bool, bool]
    ) -> InferAnswer:
        ids = self._record(model, matrix, prediction)
        outputs: list[OutputTensor] = []
        if wanted[0]:
            values = prediction.values
            outputs.append(OutputTensor(PREDICT, model.label_datatype, [values.shape[0]], values))
        if wanted[1] and prediction.probabilities is not None:
            proba = prediction.probabilities
            outputs.append(OutputTensor(PREDICT_PROBA, "FP64", list(proba.shape), proba.ravel()))
        return InferAnswer(model.name, model.version, call.id, ids, outputs)

    async def predict(self, body: bytes) -> PredictResponse:
        """The simple JSON API: labels, probabilities for classifiers, one id per row."""
        model = self.served()

        def parse() -> Matrix:
            rows = self.settings.max_batch_rows
            # Two containers besides the rows: the body object and its `instances` list; a little slack.
            document = read_json(body, max_containers=rows + _SLACK, rows=rows)
            request = PREDICT_REQUEST_ADAPTER.validate_python(document)
            return model.validator.from_instances(request.instances)

        matrix = await _off_loop(parse) if len(body) > OFFLOAD_BYTES else parse()
        prediction = await model.batcher.predict(matrix, probabilities=model.has_proba)
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

    async def feedback(self, body: bytes) -> FeedbackResponse:
        model = self.served()

        def parse() -> FeedbackRequest:
            document = read_json(body, max_containers=MAX_FEEDBACK_ITEMS + _SLACK, rows=MAX_FEEDBACK_ITEMS)
            return FEEDBACK_REQUEST_ADAPTER.validate_python(document)

        request = await _off_loop(parse) if len(body) > OFFLOAD_BYTES else parse()
        outcome = model.quality.record((item.prediction_id, item.label) for item in request.feedback)
        if outcome.accepted:
            self.metrics.feedback.labels("accepted").inc(outcome.accepted)
        if outcome.ignored:
            self.metrics.feedback.labels("ignored").inc(len(outcome.ignored))
        return FeedbackResponse(
            accepted=outcome.accepted,
            ignored=[IgnoredFeedback(prediction_id=i, reason=r) for i, r in outcome.ignored],
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
