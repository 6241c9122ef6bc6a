"""Turning request payloads into a model input matrix, checked against the feature schema.

The result is an [N, F] array in the model's feature order: float64 when every
feature is numeric (number / integer / boolean), else object with str cells in
`category` columns (None where missing). Every problem raises an
`InvalidInputError` (422) or `PayloadTooLargeError` (413) whose message names the
feature, row or input.

Datatypes are enforced against the schema in every form: a category feature
arrives as BYTES (text), a numeric one as a numeric datatype (BOOL only for a
boolean feature). An all-numeric model also takes one [N, F] numeric tensor (the
fast path); a model with category features takes one [N, F] BYTES tensor whose
numeric cells are JSON numbers or their decimal text — or, as its metadata
advertises, one tensor per feature.

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
from modelops.serving.cells import (
    TensorLike,
    finite_numbers,
    flat_cells,
    is_number,
    number_cell,
    numeric_values,
    shown,
    text_cell,
    to_float,
    unusual_numeric_values,
)
from modelops.serving.errors import InvalidInputError, PayloadTooLargeError

Matrix = npt.NDArray[Any]

_MAX_LISTED = 8
_EXPECTED = {
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean (true/false or 0/1)",
    "category": "a category (string)",
}


def _listed(names: Sequence[str]) -> str:
    shown_names = ", ".join(repr(n) for n in names[:_MAX_LISTED])
    return shown_names + (f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


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
        self._all_boolean = all(f.type == "boolean" for f in features)
        self._categories = [f.name for f in features if f.type == "category"]
        self._numeric_columns = [j for j, f in enumerate(features) if f.type != "category"]
        self._nullable = np.array([f.nullable for f in features], dtype=bool)
        self._integer_cols = np.array([i for i, f in enumerate(features) if f.type == "integer"], dtype=np.intp)
        self._boolean_cols = np.array([i for i, f in enumerate(features) if f.type == "boolean"], dtype=np.intp)
        # The numeric features of a mixed model, checked together as one float block.
        self._numeric_part: InputValidator | None = None
        if not self.all_numeric and self._numeric_columns:
            self._numeric_part = InputValidator([features[j] for j in self._numeric_columns], max_rows=max_rows)

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
        self._check_rows(rows)
        if columns != self.n_features:
            raise InvalidInputError(
                f"input {tensor.name!r} has {columns} features per row but the model takes "
                f"{self.n_features}: {_listed(self.names)}"
            )
        if self.all_numeric:
            if tensor.datatype == "BOOL" and not self._all_boolean:
                raise InvalidInputError(f"input {tensor.name!r} is BOOL but the model's features are not all booleans")
            finite = finite_numbers(tensor)
            if finite is not None:
                return self._check_typed(finite.reshape(rows, columns))
            return self.check_numeric(unusual_numeric_values(tensor).reshape(rows, columns))
        if tensor.datatype != "BYTES":
            raise InvalidInputError(
                f"input {tensor.name!r} is {tensor.datatype} but features {_listed(self._categories)} are categories "
                f"(text): send one tensor per feature, as the model metadata lists them, or one BYTES tensor"
            )
        cells = flat_cells(tensor)
        matrix = np.empty((rows, columns), dtype=object)
        for j, feature in enumerate(self.features):
            convert = text_cell if feature.type == "category" else number_cell
            column = cells[j::columns]
            for i, value in enumerate(column):
                try:
                    matrix[i, j] = convert(value)
                except ValueError:
                    raise InvalidInputError(self._type_message(j, i, value)) from None
        return self._check_object(matrix)

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
        for j, feature in enumerate(self.features):
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
            columns.append(self._feature_column(j, tensor))
        if self.all_numeric:
            return self.check_numeric(np.column_stack(columns))
        matrix = np.empty((rows, self.n_features), dtype=object)
        for i, column in enumerate(columns):
            matrix[:, i] = column
        return self._check_object(matrix)

    def _feature_column(self, column: int, tensor: TensorLike) -> Matrix:
        """One feature's tensor as a column, its datatype checked against the feature's type."""
        feature = self.features[column]
        if feature.type == "category":
            if tensor.datatype != "BYTES":
                raise InvalidInputError(
                    f"input {tensor.name!r} is {tensor.datatype} but feature {feature.name!r} is a category: "
                    f"send it as BYTES"
                )
            texts: list[str | None] = []
            for i, value in enumerate(flat_cells(tensor)):
                try:
                    texts.append(text_cell(value))
                except ValueError:
                    raise InvalidInputError(
                        f"input {tensor.name!r} is BYTES but value {i} is not text: "
                        f"{type(value).__name__} {shown(value)}"
                    ) from None
            return np.asarray(texts, dtype=object)
        if tensor.datatype == "BYTES":
            raise InvalidInputError(
                f"input {tensor.name!r} is BYTES but feature {feature.name!r} is {_EXPECTED[feature.type]}: "
                f"send it as FP64 (or another numeric datatype)"
            )
        if tensor.datatype == "BOOL" and feature.type != "boolean":
            raise InvalidInputError(
                f"input {tensor.name!r} is BOOL but feature {feature.name!r} is {_EXPECTED[feature.type]}"
            )
        return numeric_values(tensor)

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
        matrix = np.empty((len(rows), self.n_features), dtype=np.float64 if self.all_numeric else object)
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                matrix[i, j] = self._object_cell(j, i, value)
        if self.all_numeric:
            return self.check_numeric(matrix)
        return self._check_object(matrix)

    # -- checks ---------------------------------------------------------------------------

    def _check_rows(self, rows: int) -> None:
        if rows <= 0:
            raise InvalidInputError("empty batch: the request holds no rows")
        if rows > self.max_rows:
            raise PayloadTooLargeError(f"batch of {rows} rows is over the limit of {self.max_rows} rows")

    def check_numeric(self, matrix: Matrix) -> Matrix:
        """Check a float [N, F] matrix: finite where required, integral / 0-1 where typed so."""
        # Not a sum's finiteness, as `finite_numbers` tests a list: numpy's sum of large values warns of overflow.
        if not np.isfinite(matrix).all():
            # Slow path only for missing values and bad requests: find the first offending cell.
            for i, j in zip(*np.nonzero(~np.isfinite(matrix)), strict=True):
                value = float(matrix[i, j])
                if math.isinf(value):
                    raise InvalidInputError(f"feature {self.names[j]!r} is infinite in row {i}")
                if not self._nullable[j]:
                    raise InvalidInputError(
                        f"feature {self.names[j]!r} is missing (null/NaN) in row {i} and the model cannot impute it"
                    )
        return self._check_typed(matrix)

    def _check_typed(self, matrix: Matrix) -> Matrix:
        """Check a float [N, F] matrix's integer and boolean features hold integral / 0-1 values."""
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
        """A JSON cell of a row for this feature: str or None (category), float (NaN: missing) otherwise."""
        feature = self.features[column]
        if feature.type == "category":
            if value is not None and type(value) is not str:
                raise InvalidInputError(self._type_message(column, row, value))
            return text_cell(value)
        if value is None:
            return math.nan
        if type(value) is bool and feature.type == "boolean":
            return float(value)
        if not is_number(value):
            raise InvalidInputError(self._type_message(column, row, value))
        return to_float(value, f"feature {feature.name!r} in row {row}")

    def _check_object(self, matrix: Matrix) -> Matrix:
        """Check a mixed [N, F] matrix: numeric columns as `check_numeric`, categories present where required."""
        if self._numeric_part is not None:
            block = np.array(matrix[:, self._numeric_columns], dtype=np.float64)
            self._numeric_part.check_numeric(block)
            matrix[:, self._numeric_columns] = block
        for j, feature in enumerate(self.features):
            if feature.type != "category" or feature.nullable:
                continue
            missing = np.flatnonzero(matrix[:, j] == None)  # noqa: E711 (element-wise comparison)
            if missing.size:
                raise InvalidInputError(
                    f"feature {feature.name!r} is missing (null or empty) in row {int(missing[0])} "
                    f"and the model cannot impute it"
                )
        return matrix

    def _type_message(self, column: int, row: int, value: Any) -> str:
        feature = self.features[column]
        return (
            f"feature {feature.name!r} expects {_EXPECTED[feature.type]} but row {row} has "
            f"{type(value).__name__} {shown(value)}"
        )
