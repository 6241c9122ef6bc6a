"""ONNX export of a fitted pipeline, kept only when it reproduces scikit-learn.

Input convention (serving relies on it; use `onnx_feed`): one ONNX input per
feature, in the order of `ModelMetadata.features`, shape [N, 1]. skl2onnx
sanitises the names ("sepal length (cm)" -> "sepal_length__cm_"), so match by
position, not name. `category` features are strings, every other type is float32
(tensor(float)) or float64 (tensor(double)): read it from the session's inputs.
Outputs: classifiers give the label, then their scores as a tensor (the probabilities where the
model has them; no ZipMap), regressors `variable`, KMeans `label` and `scores`.

The export is verified on held-out rows, and on copies of them made raw again (values beyond
the training range, missing values where a feature may be missing), since the pipeline's first
steps (the Dataset's cleaning, `modelops.artifacts.transformers`) exist for exactly those:
labels must match exactly and probabilities / regression outputs within 1e-5 (absolute or
relative); a model that does not is saved without ONNX and the reason says why.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelops.artifacts.metadata import FeatureSchema, OnnxExport, Task
from modelops.artifacts.transformers import CategoryFiller, RowCleaner

TOLERANCE = 1e-5
_REASON_LIMIT = 300
_BLANK_ROWS = 20


@dataclass(frozen=True)
class OnnxOutcome:
    """The exported bytes (None when not exported) and the metadata that explains them."""

    data: bytes | None
    export: OnnxExport


def onnx_feed(frame: pd.DataFrame, features: Sequence[FeatureSchema], session: Any) -> dict[str, Any]:
    """The ONNX Runtime feed for `frame`: session inputs matched to `features` by position."""
    inputs = session.get_inputs()
    if len(inputs) != len(features):
        raise ValueError(f"the ONNX model has {len(inputs)} inputs for {len(features)} features")
    feed: dict[str, Any] = {}
    for spec, feature in zip(inputs, features, strict=True):
        column = frame[feature.name]
        if feature.type == "category":
            values = column.astype(object).where(column.notna(), "").astype(str)
            feed[spec.name] = values.to_numpy(dtype=object).reshape(-1, 1)
        else:
            dtype = np.float64 if spec.type == "tensor(double)" else np.float32
            feed[spec.name] = column.to_numpy(dtype=dtype, na_value=np.nan).reshape(-1, 1)
    return feed


def _initial_types(features: Sequence[FeatureSchema], double: bool) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    numeric = DoubleTensorType if double else FloatTensorType
    return [(f.name, StringTensorType([None, 1]) if f.type == "category" else numeric([None, 1])) for f in features]


def _same_shape(operator: Any) -> None:
    """skl2onnx shape calculator of the cleaning steps: output like input."""
    source = operator.inputs[0].type
    operator.outputs[0].type = source.__class__(list(source.shape))


def _convert_row_cleaner(scope: Any, operator: Any, container: Any) -> None:
    """Clip(X) where X is present, the fill value where it is missing: what `RowCleaner.transform` does."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import guess_numpy_type

    cleaner: RowCleaner = operator.raw_operator
    dtype = guess_numpy_type(operator.inputs[0].type)
    proto = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    x, out = operator.inputs[0].full_name, operator.outputs[0].full_name

    def constant(name: str, values: Any) -> str:
        unique = str(scope.get_unique_variable_name(name))
        array = np.asarray(values, dtype=dtype)
        container.add_initializer(unique, proto, list(array.shape), array.tolist())
        return unique

    def node(op: str, inputs: list[str]) -> str:
        output = str(scope.get_unique_variable_name(op.lower()))
        container.add_node(op, inputs, [output], name=scope.get_unique_operator_name(op))
        return output

    lower = constant("lower", cleaner._column_values(cleaner.lower, -np.inf))
    upper = constant("upper", cleaner._column_values(cleaner.upper, np.inf))
    fill = constant("fill", cleaner._column_values(cleaner.fill, np.nan))
    clipped = node("Min", [node("Max", [x, lower]), upper])
    container.add_node(
        "Where", [node("IsNaN", [x]), fill, clipped], [out], name=scope.get_unique_operator_name("Where")
    )


STRING_EQUAL_OPSET = 19  # ONNX's Equal compares strings from this opset on


def _convert_category_filler(scope: Any, operator: Any, container: Any) -> None:
    """Where(X == "", fill, X): ONNX sees a missing category as "" (see `onnx_feed`)."""
    from onnx import TensorProto

    if container.target_opset < STRING_EQUAL_OPSET:
        raise NotImplementedError(f"filling categories needs opset {STRING_EQUAL_OPSET}")
    filler: CategoryFiller = operator.raw_operator
    x, out = operator.inputs[0].full_name, operator.outputs[0].full_name
    fills = [value if value is not None else "" for value in filler.fill or ()]
    empty, values = scope.get_unique_variable_name("empty"), scope.get_unique_variable_name("fill")
    container.add_initializer(empty, TensorProto.STRING, [1], [b""])
    container.add_initializer(values, TensorProto.STRING, [len(fills)], [v.encode() for v in fills])
    missing = scope.get_unique_variable_name("missing")
    container.add_node(
        "Equal", [x, empty], [missing], name=scope.get_unique_operator_name("Equal"), op_version=STRING_EQUAL_OPSET
    )
    container.add_node("Where", [missing, values, x], [out], name=scope.get_unique_operator_name("Where"))


def _register_cleaning_converters() -> None:
    from skl2onnx import update_registered_converter

    update_registered_converter(RowCleaner, "ModelopsRowCleaner", _same_shape, _convert_row_cleaner)
    update_registered_converter(CategoryFiller, "ModelopsCategoryFiller", _same_shape, _convert_category_filler)


def _without_zipmap(model: Any) -> None:
    """Make a classifier's graph output its scores as a tensor, not through a ZipMap (a dict per row).

    This is what skl2onnx's `zipmap: False` option does, but that option (any option at all)
    makes skl2onnx walk every fitted attribute of every sub-estimator to place it, which for a
    forest computes each tree's importances and bootstrap samples: several times the whole
    conversion. So the graph is converted without options and its ZipMap is taken off here.
    """
    from onnx import TensorProto, helper

    for zipmap in [node for node in model.graph.node if node.op_type == "ZipMap"]:
        (scores,), (mapped,) = zipmap.input, zipmap.output
        model.graph.node.remove(zipmap)
        output = next(o for o in model.graph.output if o.name == mapped)
        # ZipMap takes only float scores, one row per sample.
        output.CopyFrom(helper.make_tensor_value_info(scores, TensorProto.FLOAT, [None, None]))


def _convert(pipeline: Any, features: Sequence[FeatureSchema], double: bool) -> bytes:
    from skl2onnx import convert_sklearn

    _register_cleaning_converters()
    with warnings.catch_warnings():
        # skl2onnx warns about opsets newer than it was tested with; not our concern here.
        warnings.simplefilter("ignore")
        model = convert_sklearn(pipeline, initial_types=_initial_types(features, double))
    _without_zipmap(model)
    data: bytes = model.SerializeToString()
    return data


def _close(expected: np.ndarray[Any, Any], actual: np.ndarray[Any, Any]) -> bool:
    if expected.shape != actual.shape:
        return False
    return bool(np.allclose(actual, expected, rtol=TOLERANCE, atol=TOLERANCE))


@dataclass(frozen=True)
class _Reference:
    """What scikit-learn answers on the check rows: computed once, compared with each conversion."""

    task: Task
    values: np.ndarray[Any, Any]  # labels (classes, clusters), or regression outputs
    proba: np.ndarray[Any, Any] | None


def _reference(pipeline: Any, task: Task, frame: pd.DataFrame) -> _Reference:
    if task == "regression":
        return _Reference(task, np.asarray(pipeline.predict(frame), dtype=np.float64).ravel(), None)
    proba = None
    if task == "classification" and hasattr(pipeline, "predict_proba"):
        proba = np.asarray(pipeline.predict_proba(frame), dtype=np.float64)
    return _Reference(task, np.asarray(pipeline.predict(frame)), proba)


def _verify(data: bytes, reference: _Reference, features: Sequence[FeatureSchema], frame: pd.DataFrame) -> str | None:
    """None when ONNX Runtime gives scikit-learn's answers on `frame`, else why not."""
    import onnxruntime as ort

    # A few hundred rows: one thread, and no pool of spinning ones taking the cores the Job shares.
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    outputs = session.run(None, onnx_feed(frame, features, session))
    labels = reference.values
    if reference.task == "regression":
        actual = np.asarray(outputs[0], dtype=np.float64).ravel()
        return None if _close(labels, actual) else "regression outputs differ from scikit-learn by more than 1e-5"
    onnx_labels = np.asarray(outputs[0]).ravel()
    if labels.dtype.kind in "OUS":
        same = np.array_equal(labels.astype(str), onnx_labels.astype(str))
    else:
        same = np.array_equal(labels, onnx_labels.astype(labels.dtype))
    if not same:
        mismatched = int(np.sum(labels.astype(str) != onnx_labels.astype(str)))
        return f"{mismatched} of {len(labels)} predicted labels differ from scikit-learn"
    if reference.proba is not None and len(outputs) > 1:
        if not _close(reference.proba, np.asarray(outputs[1], dtype=np.float64)):
            return "probabilities differ from scikit-learn by more than 1e-5"
    return None


def with_raw_rows(frame: pd.DataFrame, features: Sequence[FeatureSchema]) -> pd.DataFrame:
    """`frame` plus copies of its first rows as serving may send them: beyond the range, and missing.

    Numeric values are pushed a range's width below and above what the frame holds (where the
    cleaning clips); a missing category is what ONNX sees as "" while scikit-learn may have learned
    NaN as a category; nullable numeric features go missing too.
    """
    head = frame.head(_BLANK_ROWS)
    extra: list[pd.DataFrame] = []
    numeric = [f.name for f in features if f.type in ("number", "integer")]
    if numeric:
        low, high = head[numeric].min(), head[numeric].max()
        width = (high - low).where(high > low, 1.0)
        extra += [head.assign(**{c: low[c] - width[c] for c in numeric})]
        extra += [head.assign(**{c: high[c] + width[c] for c in numeric})]
    missing = [f.name for f in features if f.type == "category" or (f.nullable and f.name in numeric)]
    if missing:
        extra.append(head.assign(**dict.fromkeys(missing, None)))
    return pd.concat([frame, *extra], ignore_index=True) if extra else frame


def export_onnx(
    pipeline: Any, features: Sequence[FeatureSchema], task: Task, check_frame: pd.DataFrame | None
) -> OnnxOutcome:
    """Convert `pipeline` and keep the first conversion that verifies.

    float32 first: ONNX Runtime implements every operator for it, and
    scikit-learn's trees compare in float32 too, so their labels match exactly.
    float64 second, for models whose float32 outputs drift past the tolerance. scikit-learn's own
    answers on the check rows are computed once, for both.
    """
    if check_frame is None or len(check_frame) == 0:
        return OnnxOutcome(None, OnnxExport(exported=False, reason="no held-out rows to verify an export on"))
    check_frame = with_raw_rows(check_frame, features)
    reference = _reference(pipeline, task, check_frame)
    reasons: list[str] = []
    for double in (False, True):
        precision = "float64" if double else "float32"
        try:
            data = _convert(pipeline, features, double)
        except Exception as e:  # skl2onnx raises many types for "cannot convert this"
            reasons.append(f"{precision}: conversion failed ({_first_line(e)})")
            continue
        try:
            problem = _verify(data, reference, features, check_frame)
        except Exception as e:  # ONNX Runtime rejects some converted graphs at load or run time
            problem = f"ONNX Runtime failed ({_first_line(e)})"
        if problem is None:
            return OnnxOutcome(data, OnnxExport(exported=True))
        reasons.append(f"{precision}: {problem}")
    reason = "; ".join(reasons)
    if len(reason) > _REASON_LIMIT:
        reason = reason[: _REASON_LIMIT - 3] + "..."
    return OnnxOutcome(None, OnnxExport(exported=False, reason=reason))


def _first_line(e: BaseException) -> str:
    """The root cause's type and first line: skl2onnx wraps the useful error in a long one."""
    while e.__cause__ is not None:
        e = e.__cause__
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:150] if text else ''}"
