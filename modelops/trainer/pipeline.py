"""The saved model is one Pipeline: the Dataset's row-wise cleaning, preprocessing, then the estimator.

Keeping cleaning and preprocessing (imputation, scaling, one-hot) inside it means serving applies
exactly what training did: a raw row is clipped and filled with the values `prepare` fitted
before anything else looks at it. Categorical inputs are one-hot encoded with unknown categories
ignored, so an unseen value at serving time is not an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelops.artifacts.dataset_format import ColumnCleaning
from modelops.artifacts.metadata import FeatureSchema
from modelops.artifacts.transformers import CategoryFiller, RowCleaner

MODEL_STEP = "model"


def _row_cleaner(numeric: Sequence[str], cleaning: Mapping[str, ColumnCleaning]) -> RowCleaner | None:
    columns = [cleaning.get(name, ColumnCleaning()) for name in numeric]
    if not any(c.lower is not None or c.upper is not None or c.fill is not None for c in columns):
        return None
    nan = float("nan")

    def values(get: Any) -> list[float]:
        return [float(v) if (v := get(c)) is not None else nan for c in columns]

    return RowCleaner(lower=values(lambda c: c.lower), upper=values(lambda c: c.upper), fill=values(lambda c: c.fill))


def build_pipeline(
    features: Sequence[FeatureSchema],
    estimator: Any,
    *,
    scale: bool,
    cleaning: Mapping[str, ColumnCleaning] | None = None,
) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cleaning = cleaning or {}
    numeric = [f.name for f in features if f.type != "category"]
    categorical = [f.name for f in features if f.type == "category"]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        steps: list[tuple[str, Any]] = []
        if (cleaner := _row_cleaner(numeric, cleaning)) is not None:
            steps.append(("clean", cleaner))
        steps.append(("impute", SimpleImputer(strategy="median")))
        if scale:
            steps.append(("scale", StandardScaler()))
        transformers.append(("numeric", Pipeline(steps), numeric))
    if categorical:
        # No imputer beyond the Dataset's own fill: a missing category is encoded like an unknown
        # one (all zeros), and skl2onnx converts SimpleImputer only for string sentinels, not NaN.
        encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        fills = [
            str(fill) if (fill := cleaning.get(name, ColumnCleaning()).fill) is not None else None
            for name in categorical
        ]
        step: Any = Pipeline([("clean", CategoryFiller(fill=fills)), ("encode", encode)]) if any(fills) else encode
        transformers.append(("categorical", step, categorical))
    preprocess = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("preprocess", preprocess), (MODEL_STEP, estimator)])
