"""The Dataset's row-wise cleaning as steps of the saved pipeline, so serving applies what training saw.

`prepare` clips outliers to bounds and fills missing values with values it fitted on the data;
the model was trained on the result. These steps replay exactly that on each raw row at serving
time. They live in the artifact format (not in the trainer) because loading a model must find
them, and the server never imports the trainer; their ONNX converters are in `onnx_export`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin


def _remember_inputs(step: Any, X: Any) -> None:
    step.n_features_in_ = np.shape(X)[1]
    if hasattr(X, "columns"):
        step.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)


class RowCleaner(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Clip each numeric column to [lower, upper], then fill what is missing (NaN: no bound / no fill)."""

    def __init__(
        self,
        lower: Sequence[float] | None = None,
        upper: Sequence[float] | None = None,
        fill: Sequence[float] | None = None,
    ) -> None:
        self.lower = lower
        self.upper = upper
        self.fill = fill

    def fit(self, X: Any, y: Any = None) -> RowCleaner:
        _remember_inputs(self, X)
        return self

    def _column_values(self, values: Sequence[float] | None, default: float) -> npt.NDArray[np.float64]:
        if values is None:
            return np.full(self.n_features_in_, default)
        array = np.asarray(values, dtype=np.float64)
        return np.where(np.isnan(array), default, array)

    def transform(self, X: Any) -> npt.NDArray[np.float64]:
        data = np.array(X, dtype=np.float64)
        missing = np.isnan(data)
        np.clip(data, self._column_values(self.lower, -np.inf), self._column_values(self.upper, np.inf), out=data)
        fill = np.broadcast_to(self._column_values(self.fill, np.nan), data.shape)
        return np.where(missing, fill, data)


def _absent(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


class CategoryFiller(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Fill missing categories (None, NaN, or "" as ONNX sees them) with each column's fitted value."""

    def __init__(self, fill: Sequence[str | None] | None = None) -> None:
        self.fill = fill

    def fit(self, X: Any, y: Any = None) -> CategoryFiller:
        _remember_inputs(self, X)
        return self

    def transform(self, X: Any) -> npt.NDArray[Any]:
        data = np.array(X, dtype=object)
        for j, value in enumerate(self.fill or ()):
            if value is not None:
                column = data[:, j]
                data[:, j] = [value if _absent(cell) else cell for cell in column]
        return data
