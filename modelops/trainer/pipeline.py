"""The saved model is one Pipeline: preprocessing (imputation, scaling, one-hot) + estimator.

Keeping preprocessing inside it means serving applies exactly what training
did. Categorical inputs are one-hot encoded with unknown categories ignored, so
an unseen value at serving time is not an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelops.artifacts.metadata import FeatureSchema

MODEL_STEP = "model"


def build_pipeline(features: Sequence[FeatureSchema], estimator: Any, *, scale: bool) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f.name for f in features if f.type != "category"]
    categorical = [f.name for f in features if f.type == "category"]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
        if scale:
            steps.append(("scale", StandardScaler()))
        transformers.append(("numeric", Pipeline(steps), numeric))
    if categorical:
        # No imputer: a missing category is encoded like an unknown one (all zeros),
        # and skl2onnx converts SimpleImputer only for string sentinels, not NaN.
        transformers.append(("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical))
    preprocess = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("preprocess", preprocess), (MODEL_STEP, estimator)])
