"""Turning request bodies into a model input matrix, checked against the feature schema.

The result is an [N, F] array in the model's feature order: float64 when every
feature is numeric (number / integer / boolean), else object with str cells in
`category` columns. Every problem raises an `InvalidInputError` (422) or
`PayloadTooLargeError` (413) whose message names the feature, row or input.

Values outside the training range, and categories the model never saw, are
*not* refused: that is drift, and drift is measured, not hidden (the trainer's
one-hot encoders ignore unknown categories).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.artifacts.metadata import FeatureSchema
from modelops.serving.errors import InvalidInputError, PayloadTooLargeError
from modelops.serving.protocol import TensorLike

Matrix = npt.NDArray[Any]

_FLOAT_TYPES = frozenset({"FP16", "FP32", "FP64"})
_INT_TYPES = frozenset({"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"})
_NUMERIC_KINDS = frozenset("fiu")
_MAX_LISTED = 8


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_MAX_LISTED])
    return shown + (f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


def _is_number(value: object) -> bool:
    # bool is an int subclass in Python; a JSON true is not a number.
    return (type(value) is float or type(value) is int) and not isinstance(value, bool)


class InputValidator:
    """Checks and converts request payloads for one model's feature schema."""

    def __init__(self, features: Sequence[FeatureSchema], *, max_rows: int) -> None:
        if not features:
            raise ValueError("a model needs at least one feature")
        self.features = tuple(features)
        self.names = tuple(f.name for f in features)
        self.n_features = len(features)
        self.max_rows = max_rows
        self._index = {name: i for i, name in enumerate(self.names)}
        self.all_numeric = all(f.type != "category" for f in features)
        self._nullable = np.array([f.nullable for f in features], dtype=bool)
        self._all_nullable = bool(self._nullable.all())
        self._integer_cols = np.array([i for i, f in enumerate(features) if f.type == "integer"], dtype=np.intp)
        self._boolean_cols = np.array([i for i, f in enumerate(features) if f.type == "boolean"], dtype=np.intp)

    # -- V2 tensors -----------------------------------------------------------------

    def from_v2(self, inputs: Sequence[TensorLike]) -> Matrix:
        """One [N, F] tensor, or one [N] (or [N, 1]) tensor per feature named after it."""
        if len(inputs) == 1 and (self.n_features > 1 or inputs[0].name not in self._index):
            return self._from_matrix_tensor(inputs[0])
        return self._from_feature_tensors(inputs)

    def _from_matrix_tensor(self, tensor: TensorLike) -> Matrix:
        shape = tensor.shape
        if len(shape) != 2:
            raise InvalidInputError(
                f"input {tensor.name!r} has shape {shape}; send one tensor of shape [N, {self.n_features}] "
                f"(rows x features) or one tensor per feature named after it"
            )
        rows, columns = shape
        if columns < 0:
            raise InvalidInputError(f"input {tensor.name!r} has a negative dimension in shape {shape}")
        self._check_rows(rows)
        if columns != self.n_features:
            raise InvalidInputError(
                f"input {tensor.name!r} has {columns} features per row but the model takes "
                f"{self.n_features}: {_listed(self.names)}"
            )
        if not self.all_numeric:
            return self.from_rows(_rows_of(tensor, rows, columns))
        array = _tensor_array(tensor, rows * columns)
        matrix = array.reshape(rows, columns)
        return self.check_numeric(matrix)

    def _from_feature_tensors(self, inputs: Sequence[TensorLike]) -> Matrix:
        given = [t.name for t in inputs]
        unknown = [n for n in given if n not in self._index]
        if unknown:
            raise InvalidInputError(
                f"unknown inputs {_listed(unknown)}: send one tensor of shape [N, {self.n_features}] or one "
                f"tensor per feature named after it ({_listed(self.names)})"
            )
        duplicated = sorted({n for n in given if given.count(n) > 1})
        if duplicated:
            raise InvalidInputError(f"inputs given more than once: {_listed(duplicated)}")
        by_name = {t.name: t for t in inputs}
        missing = [n for n in self.names if n not in by_name]
        if missing:
            raise InvalidInputError(f"missing inputs for features {_listed(missing)}")
        rows = -1
        columns: list[Matrix] = []
        for feature in self.features:
            tensor = by_name[feature.name]
            shape = tensor.shape
            if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
                raise InvalidInputError(
                    f"input {feature.name!r} has shape {shape}; a per-feature tensor has shape [N] or [N, 1]"
                )
            if rows == -1:
                rows = shape[0]
                self._check_rows(rows)
            elif shape[0] != rows:
                raise InvalidInputError(f"input {feature.name!r} has {shape[0]} rows but {self.names[0]!r} has {rows}")
            if feature.type == "category":
                columns.append(np.asarray(_flat_cells(tensor, rows), dtype=object))
            else:
                columns.append(_tensor_array(tensor, rows))
        if self.all_numeric:
            return self.check_numeric(np.column_stack(columns))
        matrix = np.empty((rows, self.n_features), dtype=object)
        for i, column in enumerate(columns):
            matrix[:, i] = column
        return self._check_object(matrix)

    # -- simple JSON rows -------------------------------------------------------------

    def from_instances(self, instances: Sequence[Sequence[Any]] | Sequence[Mapping[str, Any]]) -> Matrix:
        """Rows as lists in feature order, or as {feature: value} objects."""
        self._check_rows(len(instances))
        if isinstance(instances[0], Mapping):
            return self.from_rows([self._row_from_mapping(i, row) for i, row in enumerate(instances)])
        return self.from_rows(instances)

    def _row_from_mapping(self, index: int, row: Any) -> list[Any]:
        if not isinstance(row, Mapping):
            raise InvalidInputError(f"row {index} is not an object like the rows before it")
        unknown = [k for k in row if k not in self._index]
        if unknown:
            raise InvalidInputError(
                f"row {index} has unknown features {_listed(unknown)}; the model's features are {_listed(self.names)}"
            )
        missing = [f.name for f in self.features if f.name not in row and not f.nullable]
        if missing:
            raise InvalidInputError(f"row {index} lacks features {_listed(missing)}")
        return [row.get(name) for name in self.names]

    def from_rows(self, rows: Sequence[Any]) -> Matrix:
        """Rows of cells in feature order (lists); every cell is type-checked."""
        self._check_rows(len(rows))
        for i, row in enumerate(rows):
            if not isinstance(row, list | tuple):
                raise InvalidInputError(f"row {i} is not a list of feature values")
            if len(row) != self.n_features:
                raise InvalidInputError(
                    f"row {i} has {len(row)} values but the model takes {self.n_features} features: "
                    f"{_listed(self.names)}"
                )
        if self.all_numeric:
            for i, row in enumerate(rows):
                for j, value in enumerate(row):
                    if value is None or _is_number(value):
                        continue
                    if isinstance(value, bool) and self.features[j].type == "boolean":
                        continue
                    raise InvalidInputError(self._type_message(j, i, value))
            matrix = np.array(rows, dtype=np.float64)
            return self.check_numeric(matrix)
        matrix = np.empty((len(rows), self.n_features), dtype=object)
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                matrix[i, j] = self._object_cell(j, i, value)
        return self._check_object(matrix)

    # -- checks ---------------------------------------------------------------------------

    def _check_rows(self, rows: int) -> None:
        if rows <= 0:
            raise InvalidInputError("empty batch: the request holds no rows")
        if rows > self.max_rows:
            raise PayloadTooLargeError(f"batch of {rows} rows is over the limit of {self.max_rows} rows")

    def check_numeric(self, matrix: Matrix) -> Matrix:
        """Check a float [N, F] matrix: finite where required, integral / 0-1 where typed so."""
        finite = np.isfinite(matrix)
        if not finite.all():
            # Slow path only for the rare bad request: find the first offending cell.
            for i, j in zip(*np.nonzero(~finite), strict=True):
                value = float(matrix[i, j])
                if math.isinf(value):
                    raise InvalidInputError(f"feature {self.names[j]!r} is infinite in row {i}")
                if not self._nullable[j]:
                    raise InvalidInputError(
                        f"feature {self.names[j]!r} is missing (null/NaN) in row {i} and the model cannot impute it"
                    )
        if self._integer_cols.size:
            block = matrix[:, self._integer_cols]
            bad = np.nonzero(np.isfinite(block) & (block != np.round(block)))
            if bad[0].size:
                i, j = int(bad[0][0]), int(self._integer_cols[bad[1][0]])
                raise InvalidInputError(
                    f"feature {self.names[j]!r} is an integer but row {i} has {float(matrix[i, j])!r}"
                )
        if self._boolean_cols.size:
            block = matrix[:, self._boolean_cols]
            bad = np.nonzero(np.isfinite(block) & (block != 0) & (block != 1))
            if bad[0].size:
                i, j = int(bad[0][0]), int(self._boolean_cols[bad[1][0]])
                raise InvalidInputError(
                    f"feature {self.names[j]!r} is a boolean (true/false or 0/1) but row {i} has "
                    f"{float(matrix[i, j])!r}"
                )
        return matrix

    def _object_cell(self, column: int, row: int, value: Any) -> Any:
        feature = self.features[column]
        if value is None:
            return None if feature.type == "category" else math.nan
        if feature.type == "category":
            if not isinstance(value, str):
                raise InvalidInputError(self._type_message(column, row, value))
            return value
        if isinstance(value, bool) and feature.type == "boolean":
            return float(value)
        if not _is_number(value):
            raise InvalidInputError(self._type_message(column, row, value))
        return float(value)

    def _check_object(self, matrix: Matrix) -> Matrix:
        """Check a mixed [N, F] matrix: numeric columns as `check_numeric`, categories known."""
        numeric = [j for j, f in enumerate(self.features) if f.type != "category"]
        for j in numeric:
            column = matrix[:, j]
            for i, value in enumerate(column):
                if value is not None and not isinstance(value, float) and not _is_number(value):
                    if isinstance(value, bool) and self.features[j].type == "boolean":
                        continue
                    raise InvalidInputError(self._type_message(j, i, value))
        if numeric:
            block = np.array(matrix[:, numeric], dtype=np.float64)
            InputValidator([self.features[j] for j in numeric], max_rows=self.max_rows).check_numeric(block)
            matrix[:, numeric] = block
        for j, feature in enumerate(self.features):
            if feature.type != "category":
                continue
            for i, value in enumerate(matrix[:, j]):
                if value is None:
                    if not feature.nullable:
                        raise InvalidInputError(
                            f"feature {feature.name!r} is missing (null) in row {i} and the model cannot impute it"
                        )
                    continue
                if not isinstance(value, str):
                    raise InvalidInputError(self._type_message(j, i, value))
        return matrix

    def _type_message(self, column: int, row: int, value: Any) -> str:
        feature = self.features[column]
        expected = {
            "number": "a number",
            "integer": "an integer",
            "boolean": "a boolean (true/false or 0/1)",
            "category": "a category (string)",
        }[feature.type]
        shown = repr(value)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        return f"feature {feature.name!r} expects {expected} but row {row} has {type(value).__name__} {shown}"


def _flat_cells(tensor: TensorLike, expected: int) -> list[Any]:
    """The tensor's data as a flat list (data may be flat or nested to the shape)."""
    data: list[Any] = tensor.data
    if any(isinstance(value, list) for value in data):
        data = _walk(data)
    if len(data) != expected:
        raise InvalidInputError(
            f"input {tensor.name!r} holds {len(data)} values but its shape {tensor.shape} needs {expected}"
        )
    return data


def _walk(data: list[Any]) -> list[Any]:
    """Flatten nested lists depth-first without recursion (the nesting depth is the client's)."""
    out: list[Any] = []
    stack: list[tuple[list[Any], int]] = [(data, 0)]
    while stack:
        items, position = stack.pop()
        while position < len(items):
            value = items[position]
            position += 1
            if isinstance(value, list):
                stack.append((items, position))
                items, position = value, 0
            else:
                out.append(value)
    return out


def _rows_of(tensor: TensorLike, rows: int, columns: int) -> list[list[Any]]:
    flat = _flat_cells(tensor, rows * columns)
    return [flat[r * columns : (r + 1) * columns] for r in range(rows)]


def _tensor_array(tensor: TensorLike, expected: int) -> Matrix:
    """A numeric tensor's data as a flat float64 array, type-checked against its datatype."""
    datatype = tensor.datatype
    if datatype == "BYTES":
        raise InvalidInputError(f"input {tensor.name!r} is BYTES but the features it carries are numeric")
    try:
        array = np.asarray(tensor.data)
    except (ValueError, TypeError):
        # Ragged nesting: numpy cannot build it, so walk it (and count the values) instead.
        array = np.asarray(_flat_cells(tensor, expected), dtype=object)
    if array.size != expected or (array.ndim > 1 and array.shape[-1] == 0):
        raise InvalidInputError(
            f"input {tensor.name!r} holds {array.size} values but its shape {tensor.shape} needs {expected}"
        )
    kind = array.dtype.kind
    if kind in _NUMERIC_KINDS and not _holds_bools(tensor.data):
        if datatype in _INT_TYPES and kind == "f" and not _integral(array):
            raise InvalidInputError(f"input {tensor.name!r} is {datatype} but holds non-integer numbers")
        if datatype == "BOOL":
            raise InvalidInputError(f"input {tensor.name!r} is BOOL but holds numbers")
        return array.reshape(expected).astype(np.float64, copy=False)
    if kind == "b":
        if datatype != "BOOL":
            raise InvalidInputError(f"input {tensor.name!r} is {datatype} but holds booleans")
        return array.reshape(expected).astype(np.float64)
    # Mixed or non-numeric cells: check each one so the message can name it.
    cells = (
        array.reshape(-1)
        if array.dtype == object and array.ndim
        else np.asarray(_flat_cells(tensor, expected), dtype=object)
    )
    out = np.empty(expected, dtype=np.float64)
    for position, value in enumerate(cells):
        if value is None:
            out[position] = math.nan
        elif _is_number(value) and (datatype not in _INT_TYPES or float(value).is_integer()):
            out[position] = float(value)
        elif isinstance(value, bool) and datatype == "BOOL":
            out[position] = float(value)
        else:
            shown = repr(value)
            if len(shown) > 40:
                shown = shown[:37] + "..."
            raise InvalidInputError(
                f"input {tensor.name!r} is {datatype} but value {position} is {type(value).__name__} {shown}"
            )
    return out


def _holds_bools(data: list[Any]) -> bool:
    """Whether JSON true/false hide among numbers (numpy would silently read them as 1.0/0.0)."""
    types = set(map(type, data))
    if bool in types:
        return True
    return list in types and any(type(item) is list and _holds_bools(item) for item in data)


def _integral(array: Matrix) -> bool:
    finite = array[np.isfinite(array)]
    return bool(np.all(finite == np.round(finite)))
