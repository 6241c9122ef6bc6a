"""Per-feature profiles and input schemas of a frame.

The profile is the drift baseline shipped with each dataset and model version:
serving counts live values into the same histogram bins and categories.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from modelops.artifacts.metadata import (
    OTHER_CATEGORY,
    CategoricalProfile,
    DatasetProfile,
    FeatureSchema,
    FeatureType,
    NumericProfile,
)
from modelops.trainer.cleaning import is_numeric

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HISTOGRAM_BINS = 10
MAX_CATEGORIES = 100


def numeric_profile(column: pd.Series) -> NumericProfile:
    values = column.dropna().to_numpy(dtype=np.float64)
    missing = int(column.isna().sum())
    if values.size == 0:
        return NumericProfile(
            count=0,
            missing=missing,
            mean=0.0,
            std=0.0,
            min=0.0,
            max=0.0,
            quantiles={str(q): 0.0 for q in QUANTILES},
            bin_edges=[0.0, 1.0],
            bin_counts=[0],
        )
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
    quantiles = np.quantile(values, QUANTILES)
    return NumericProfile(
        count=int(values.size),
        missing=missing,
        mean=float(values.mean()),
        std=float(values.std(ddof=1)) if values.size > 1 else 0.0,
        min=float(values.min()),
        max=float(values.max()),
        quantiles={str(q): float(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
        bin_edges=[float(e) for e in edges],
        bin_counts=[int(c) for c in counts],
    )


def categorical_profile(column: pd.Series) -> CategoricalProfile:
    counts = column.dropna().astype(str).value_counts()
    frequencies = {str(k): int(v) for k, v in counts.iloc[:MAX_CATEGORIES].items()}
    if len(counts) > MAX_CATEGORIES:
        # The long tail is lumped so a high-cardinality column cannot bloat the profile.
        frequencies[OTHER_CATEGORY] = int(counts.iloc[MAX_CATEGORIES:].sum())
    return CategoricalProfile(count=int(counts.sum()), missing=int(column.isna().sum()), frequencies=frequencies)


def profile_frame(frame: pd.DataFrame, features: Sequence[str]) -> DatasetProfile:
    return DatasetProfile(
        rows=len(frame),
        features={
            name: numeric_profile(frame[name]) if is_numeric(frame[name]) else categorical_profile(frame[name])
            for name in features
        },
    )


def feature_type(column: pd.Series) -> FeatureType:
    if pd.api.types.is_bool_dtype(column):
        return "boolean"
    if pd.api.types.is_integer_dtype(column):
        return "integer"
    if is_numeric(column):
        return "number"
    return "category"


def feature_schema(frame: pd.DataFrame, features: Sequence[str], *, nullable: Collection[str]) -> list[FeatureSchema]:
    """The model's inputs in order; `nullable` names those a request may leave out (the pipeline imputes)."""
    schema = []
    for name in features:
        column = frame[name]
        kind = feature_type(column)
        if kind in ("integer", "number"):
            observed = column.dropna()
            schema.append(
                FeatureSchema(
                    name=name,
                    type=kind,
                    minimum=float(observed.min()) if observed.size else None,
                    maximum=float(observed.max()) if observed.size else None,
                    nullable=name in nullable,
                )
            )
        else:
            categories = sorted(column.dropna().astype(str).unique().tolist())
            schema.append(FeatureSchema(name=name, type=kind, categories=categories, nullable=name in nullable))
    return schema
