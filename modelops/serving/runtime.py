"""The two ways a model version predicts: ONNX Runtime, or the scikit-learn pipeline itself.

ONNX Runtime is used when the version carries an ONNX export that the trainer
verified and that also reproduces the pipeline on rows drawn from the training
profile here at startup; scikit-learn otherwise. Both return a `Prediction`.

The trainer's ONNX graphs take one [N, 1] input per feature (see
`modelops.artifacts.onnx_export`). For an all-numeric model the server rewrites
that at load time into one [N, F] input split inside the graph: feeding 30
separate tiny tensors costs more than the trees themselves on single rows.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from modelops.artifacts.metadata import FeatureSchema, ModelMetadata, NumericProfile
from modelops.artifacts.model_format import LoadedModel
from modelops.serving.errors import InferenceFailedError, InvalidInputError, ModelLoadError
from modelops.serving.settings import RuntimeChoice

log = logging.getLogger(__name__)

Matrix = npt.NDArray[Any]
MATRIX_INPUT = "modelops_matrix"


@dataclass(slots=True)  # not frozen: built per request, and a frozen one is built 2.5x slower
class Prediction:
    """Model output for N rows."""

    values: Matrix  # [N]: class labels, cluster ids or regression values
    probabilities: Matrix | None  # [N, C] in the order of the model's classes, when asked for


class Runtime(Protocol):
    """What the server needs from a model: predict on a validated [N, F] matrix."""

    platform: str
    has_proba: bool

    def predict(self, matrix: Matrix, *, probabilities: bool) -> Prediction: ...


def _has_proba(pipeline: Any) -> bool:
    # sklearn hides predict_proba behind available_if (e.g. SVC(probability=False)).
    try:
        return hasattr(pipeline, "predict_proba")
    except Exception:
        return False


class SklearnRuntime:
    """Predicts with the fitted scikit-learn pipeline loaded from model.skops."""

    platform = "sklearn"

    def __init__(self, pipeline: Any, features: list[FeatureSchema]) -> None:
        self.pipeline = pipeline
        self.columns = [f.name for f in features]
        self.has_proba = _has_proba(pipeline)
        # A pipeline fitted on a DataFrame warns when given a bare array; give it what it saw.
        self._wants_frame = getattr(pipeline, "feature_names_in_", None) is not None
        self._numeric = [f.name for f in features if f.type != "category"]

    def _frame(self, matrix: Matrix) -> Any:
        if not self._wants_frame:
            return matrix
        frame = pd.DataFrame(matrix, columns=self.columns)
        if matrix.dtype == object and self._numeric:
            frame[self._numeric] = frame[self._numeric].astype(np.float64)
        return frame

    def predict(self, matrix: Matrix, *, probabilities: bool) -> Prediction:
        data = self._frame(matrix)
        try:
            values = np.asarray(self.pipeline.predict(data))
            proba = (
                np.asarray(self.pipeline.predict_proba(data), dtype=np.float64)
                if probabilities and self.has_proba
                else None
            )
        except ValueError as e:
            # Validation should have caught it; if the pipeline still refuses the input it is the
            # input's fault (e.g. a value no encoder has seen), so answer 422, not 500.
            raise InvalidInputError(f"the model rejected the input: {e}") from e
        return Prediction(values=values.ravel(), probabilities=proba)


class OnnxRuntime:
    """Predicts with ONNX Runtime on the verified export (model.onnx).

    An export reproduces scikit-learn's probabilities to about 1e-5 (float32
    arithmetic), which decides every label except where two classes are that
    close: a forest with as many votes for each, say. Those rows alone are
    handed to scikit-learn, so served labels are scikit-learn's, ties included.
    """

    platform = "onnxruntime"

    def __init__(self, onnx_bytes: bytes, metadata: ModelMetadata, *, threads: int, sklearn: SklearnRuntime) -> None:
        import onnxruntime as ort

        has_proba = sklearn.has_proba
        self._sklearn = sklearn

        self.features = list(metadata.features)
        self.task = metadata.task
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning worker threads burn a core between requests; a serving pod shares its cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._matrix_input = all(f.type != "category" for f in self.features)
        self._numeric_columns = [j for j, f in enumerate(self.features) if f.type != "category"]
        model_bytes = onnx_bytes
        if self._matrix_input:
            model_bytes = with_matrix_input(onnx_bytes, [f.name for f in self.features])
        self.session = ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])
        inputs = self.session.get_inputs()
        # skl2onnx sanitises input names ("mean radius" -> "mean_radius"); the order is the features'.
        self._input_names = [i.name for i in inputs]
        self._dtype: type[np.floating[Any]] = (
            np.float64 if any(i.type == "tensor(double)" for i in inputs) else np.float32
        )
        names = [o.name for o in self.session.get_outputs()]
        self._label_output = names[0]
        self._proba_output = names[1] if has_proba and self.task == "classification" and len(names) > 1 else None
        self.has_proba = self._proba_output is not None
        # With probabilities, every call fetches them: they are what reveals a near tie.
        self._outputs = [self._label_output, self._proba_output] if self._proba_output else [self._label_output]

    def _feed(self, matrix: Matrix) -> dict[str, Any]:
        """One [N, 1] input per feature (the trainer's graph, for models with category features)."""
        feed: dict[str, Any] = {}
        for j, (feature, name) in enumerate(zip(self.features, self._input_names, strict=True)):
            column = matrix[:, j]
            if feature.type == "category":
                # The export's convention: missing categories are "", encoded like unknown ones.
                feed[name] = np.array(["" if v is None else str(v) for v in column], dtype=object).reshape(-1, 1)
            else:
                feed[name] = column.astype(self._dtype).reshape(-1, 1)
        return feed

    def predict(self, matrix: Matrix, *, probabilities: bool) -> Prediction:
        if self._matrix_input:
            converted = matrix.astype(self._dtype, copy=False)
            # Validation refused infinity, so an infinity here is a number float32 cannot hold: look row by
            # row only then. (Not a sum's finiteness: a sum of large float32 values overflows with a warning.)
            if self._dtype is np.float32 and not np.isfinite(converted).all():
                beyond = np.flatnonzero(np.isinf(converted).any(axis=1))
                if beyond.size:
                    return self._with_sklearn_rows(matrix, beyond, probabilities)
            return self._predict(matrix, probabilities, {MATRIX_INPUT: converted})
        if self._dtype is np.float32 and self._numeric_columns:
            numbers = np.abs(matrix[:, self._numeric_columns].astype(np.float64))
            if np.fmax.reduce(numbers, axis=None) > _FLOAT32_MAX:  # fmax skips NaN (missing)
                beyond = np.flatnonzero((numbers > _FLOAT32_MAX).any(axis=1))
                return self._with_sklearn_rows(matrix, beyond, probabilities)
        return self._predict(matrix, probabilities, self._feed(matrix))

    def _with_sklearn_rows(self, matrix: Matrix, rows: Matrix, probabilities: bool) -> Prediction:
        """Predict `rows` with scikit-learn (as the fitted pipeline does), the others with ONNX Runtime."""
        others = np.setdiff1d(np.arange(matrix.shape[0]), rows)
        exact = self._sklearn.predict(matrix[rows], probabilities=probabilities)
        values = np.empty(matrix.shape[0], dtype=object)
        values[rows] = exact.values
        proba: Matrix | None = None
        if probabilities and exact.probabilities is not None:
            proba = np.empty((matrix.shape[0], exact.probabilities.shape[1]), dtype=np.float64)
            proba[rows] = exact.probabilities
        if others.size:
            fast = self.predict(matrix[others], probabilities=probabilities)
            values[others] = fast.values
            if proba is not None and fast.probabilities is not None:
                proba[others] = fast.probabilities
        return Prediction(values=np.asarray(values.tolist()), probabilities=proba)

    def _predict(self, matrix: Matrix, probabilities: bool, feed: dict[str, Any]) -> Prediction:
        try:
            result = self.session.run(self._outputs, feed)
        except Exception as e:  # onnxruntime raises its own untyped errors
            raise InferenceFailedError(f"ONNX Runtime failed: {e}") from e
        values = np.asarray(result[0]).ravel()
        if len(result) == 1:
            return Prediction(values=values, probabilities=None)
        proba = np.asarray(result[1], dtype=np.float64)
        near = _near_ties(proba)
        if near is not None:
            values = values.copy()
            values[near] = self._sklearn.predict(matrix[near], probabilities=False).values
        return Prediction(values=values, probabilities=proba if probabilities else None)


_FLOAT32_MAX = float(np.finfo(np.float32).max)

# Export and scikit-learn probabilities agree within 1e-5 (abs) + 1e-5 (rel), checked by the
# trainer: a lead over 4e-5 cannot flip between the two, anything closer is decided by sklearn.
TIE_GAP = 4e-5


_FEW_ROWS = 16  # up to here a Python loop over the rows is faster than numpy's calls (measured)


def _lead(row: list[float]) -> float:
    """How far the most probable class is ahead of the second."""
    if len(row) == 2:
        return abs(row[0] - row[1])
    second, first = sorted(row)[-2:]
    return first - second


def _near_ties(proba: Matrix) -> Matrix | None:
    """Indices of rows whose two most probable classes are within TIE_GAP, or None."""
    if proba.shape[0] <= _FEW_ROWS:
        # A micro-batch of a few requests (the common case): plain floats beat four numpy calls on tiny arrays.
        if proba.shape[1] < 2:
            return None
        few = [i for i, row in enumerate(proba.tolist()) if _lead(row) <= TIE_GAP]
        return np.array(few, dtype=np.intp) if few else None
    if proba.shape[1] == 2:
        gap = np.abs(proba[:, 0] - proba[:, 1])
    elif proba.shape[1] > 2:
        top = np.partition(proba, -2, axis=1)
        gap = top[:, -1] - top[:, -2]
    else:
        return None
    near = np.flatnonzero(gap <= TIE_GAP)
    return near if near.size else None


def with_matrix_input(onnx_bytes: bytes, feature_names: list[str]) -> bytes:
    """Replace the per-feature inputs by one [N, F] input split back into them inside the graph."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    input_names = [i.name for i in graph.input]
    # skl2onnx keeps the features' order but sanitises their names ("mean radius" -> "mean_radius").
    if [_sanitised(n) for n in input_names] != [_sanitised(n) for n in feature_names]:
        raise ValueError(f"ONNX inputs {input_names} are not the features {feature_names}")
    elem_type = graph.input[0].type.tensor_type.elem_type
    if any(i.type.tensor_type.elem_type != elem_type for i in graph.input):
        raise ValueError("ONNX inputs are of mixed element types")
    feature_names = input_names
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    if len(feature_names) == 1:
        node = helper.make_node("Identity", [MATRIX_INPUT], feature_names, name="modelops_split")
    elif opset >= 13:
        sizes = numpy_helper.from_array(np.ones(len(feature_names), dtype=np.int64), name="modelops_split_sizes")
        graph.initializer.append(sizes)
        node = helper.make_node("Split", [MATRIX_INPUT, sizes.name], feature_names, axis=1, name="modelops_split")
    else:
        node = helper.make_node(
            "Split",
            [MATRIX_INPUT],
            feature_names,
            axis=1,
            split=[1] * len(feature_names),
            name="modelops_split",
        )
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info(MATRIX_INPUT, elem_type, ["N", len(feature_names)]))
    graph.node.insert(0, node)
    return bytes(model.SerializeToString())


def _sanitised(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def profile_rows(metadata: ModelMetadata, rows: int = 16) -> Matrix:
    """Rows built from the training profile: bin midpoints, rotated so features vary independently.

    Used to warm the runtime up and to check ONNX against scikit-learn at startup without
    shipping any training data with the model.
    """
    columns: list[list[Any]] = []
    for j, feature in enumerate(metadata.features):
        profile = metadata.profile.features.get(feature.name)
        if feature.type == "category":
            if profile is not None and profile.kind == "categorical" and profile.frequencies:
                values = sorted(profile.frequencies, key=lambda v: -profile.frequencies[v])
            else:
                values = list(feature.categories or ["missing"])
            columns.append([values[(r + j) % len(values)] for r in range(rows)])
            continue
        candidates = _numeric_candidates(feature, profile if isinstance(profile, NumericProfile) else None)
        columns.append([candidates[(r + j) % len(candidates)] for r in range(rows)])
    if all(f.type != "category" for f in metadata.features):
        return np.array(columns, dtype=np.float64).T.copy()
    matrix = np.empty((rows, len(columns)), dtype=object)
    for j, column in enumerate(columns):
        matrix[:, j] = column
    return matrix


def _numeric_candidates(feature: FeatureSchema, profile: NumericProfile | None) -> list[float]:
    if feature.type == "boolean":
        return [0.0, 1.0]
    if profile is not None and len(profile.bin_edges) >= 2:
        edges = profile.bin_edges
        mids = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    elif feature.minimum is not None and feature.maximum is not None:
        mids = list(np.linspace(feature.minimum, feature.maximum, 5))
    else:
        mids = [0.0]
    if feature.type == "integer":
        mids = [float(round(m)) for m in mids]
    return mids


def same_predictions(expected: Prediction, actual: Prediction) -> bool:
    """Labels equal; probabilities (when both have them) within 1e-5, as the trainer checked."""
    a, b = expected.values, actual.values
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "OUS" or b.dtype.kind in "OUS":
        labels_equal = bool(np.array_equal(a.astype(str), b.astype(str)))
    elif a.dtype.kind == "f" or b.dtype.kind == "f":
        labels_equal = bool(np.allclose(a, b, rtol=1e-5, atol=1e-5))
    else:
        labels_equal = bool(np.array_equal(a, b))
    if not labels_equal:
        return False
    if expected.probabilities is not None and actual.probabilities is not None:
        return bool(np.allclose(expected.probabilities, actual.probabilities, rtol=1e-5, atol=1e-5))
    return True


def select_runtime(loaded: LoadedModel, *, choice: RuntimeChoice, threads: int) -> Runtime:
    """ONNX Runtime when allowed, exported and reproducing scikit-learn here; else scikit-learn."""
    metadata = loaded.metadata
    sklearn = SklearnRuntime(loaded.pipeline, list(metadata.features))
    if choice == "sklearn":
        return sklearn
    reason: str
    if loaded.onnx_bytes is None or not metadata.onnx.exported:
        reason = "the version has no verified ONNX export" + (
            f" ({metadata.onnx.reason})" if metadata.onnx.reason else ""
        )
    else:
        try:
            onnx = OnnxRuntime(loaded.onnx_bytes, metadata, threads=threads, sklearn=sklearn)
            rows = profile_rows(metadata)
            same = same_predictions(
                sklearn.predict(rows, probabilities=sklearn.has_proba),
                onnx.predict(rows, probabilities=sklearn.has_proba),
            )
        except Exception as e:  # a graph ONNX Runtime cannot load or run is a reason, not a crash
            reason = f"ONNX Runtime cannot run its export ({type(e).__name__}: {e})"
        else:
            if same:
                return onnx
            reason = "its ONNX export differs from scikit-learn on rows drawn from the training profile"
    if choice == "onnx":
        raise ModelLoadError(f"runtime 'onnx' was asked for but {reason}")
    log.warning("serving %s with scikit-learn: %s", loaded.uri, reason)
    return sklearn
