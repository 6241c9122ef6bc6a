"""Per-feature profiles and input schemas.

The profile is the drift baseline shipped with each dataset and model version:
serving counts live values into the same histogram bins and categories.

Its numbers are exact whatever the data's size: counts and histogram bins are counted, quantiles
are exact order statistics interpolated as numpy does (`modelops.trainer.exact`), the mean and
standard deviation are rounded once from exact sums. `prepare` feeds them the cleaned data from
its spill; `profile_frame` does the same for a frame in memory (the training split).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd

from modelops.artifacts.metadata import (
    OTHER_CATEGORY,
    CategoricalProfile,
    DatasetProfile,
    FeatureProfile,
    FeatureSchema,
    FeatureType,
    NumericProfile,
)
from modelops.trainer import exact
from modelops.trainer.cleaning import as_floats, is_numeric, is_numeric_dtype
from modelops.trainer.columns import Dtype

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HISTOGRAM_BINS = 10
MAX_CATEGORIES = 100


def numeric_profile(scan: exact.Scan, *, count: int, missing: int, gather: int) -> NumericProfile:
    """The profile of a numeric column from a scan of its `count` present values."""
    if count == 0:
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
    mean, _ = exact.exact_mean(scan)
    std = math.sqrt(exact.squared_deviations(scan, mean) / (count - 1)) if count > 1 else 0.0
    low, high = math.inf, -math.inf
    for values in scan():
        if values.size:
            low, high = min(low, float(values.min())), max(high, float(values.max()))
    bins = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
    edges = np.histogram_bin_edges(np.empty(0), bins=HISTOGRAM_BINS, range=(low, high))
    for values in scan():
        # np.histogram counts each value on its own: the sum over parts is the whole's histogram.
        bins += np.histogram(values, bins=HISTOGRAM_BINS, range=(low, high))[0]
    quantiles = exact.quantiles(scan, QUANTILES, count=count, gather=gather)
    return NumericProfile(
        count=count,
        missing=missing,
        mean=mean,
        std=std,
        min=low,
        max=high,
        quantiles={str(q): float(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
        bin_edges=[float(e) for e in edges],
        bin_counts=[int(c) for c in bins],
    )


def categorical_profile(frequencies: Mapping[str, int], *, missing: int) -> CategoricalProfile:
    """The profile of a text column from its value counts (in order of first appearance)."""
    ranked = sorted(frequencies.items(), key=lambda item: -item[1])  # stable: ties in order of appearance
    shown = dict(ranked[:MAX_CATEGORIES])
    if len(ranked) > MAX_CATEGORIES:
        # The long tail is lumped so a high-cardinality column cannot bloat the profile.
        shown[OTHER_CATEGORY] = sum(count for _, count in ranked[MAX_CATEGORIES:])
    return CategoricalProfile(count=sum(frequencies.values()), missing=missing, frequencies=shown)


def frequencies_of(column: pd.Series) -> dict[str, int]:
    counts = column.dropna().astype(str).value_counts(sort=False)
    return {str(value): int(count) for value, count in counts.items()}


def profile_frame(frame: pd.DataFrame, features: Sequence[str]) -> DatasetProfile:
    """The profile of a frame held in memory."""
    profiles: dict[str, FeatureProfile] = {}
    for name in features:
        column = frame[name]
        missing = int(column.isna().sum())
        if is_numeric(column):
            values = as_floats(column.dropna())
            count = values.size
            profiles[name] = numeric_profile(exact.held(values), count=count, missing=missing, gather=count)
        else:
            profiles[name] = categorical_profile(frequencies_of(column), missing=missing)
    return DatasetProfile(rows=len(frame), features=profiles)


def type_of(dtype: Dtype) -> FeatureType:
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if is_numeric_dtype(dtype):
        return "number"
    return "category"


def schema_of(
    name: str,
    dtype: Dtype,
    *,
    nullable: bool,
    minimum: float | None = None,
    maximum: float | None = None,
    categories: Collection[str] = (),
) -> FeatureSchema:
    """One input of the model: a number with its observed range, or a category with every value seen."""
    kind = type_of(dtype)
    if kind in ("integer", "number"):
        return FeatureSchema(name=name, type=kind, minimum=minimum, maximum=maximum, nullable=nullable)
    return FeatureSchema(name=name, type=kind, categories=sorted(categories), nullable=nullable)


def feature_schema(frame: pd.DataFrame, features: Sequence[str], *, nullable: Collection[str]) -> list[FeatureSchema]:
    """The model's inputs in order; `nullable` names those a request may leave out (the pipeline imputes)."""
    schema = []
    for name in features:
        column = frame[name]
        observed = column.dropna()
        if type_of(column.dtype) in ("integer", "number"):
            values = as_floats(observed)
            low, high = (float(values.min()), float(values.max())) if values.size else (None, None)
            schema.append(schema_of(name, column.dtype, nullable=name in nullable, minimum=low, maximum=high))
        else:
            categories = observed.astype(str).unique().tolist()
            schema.append(schema_of(name, column.dtype, nullable=name in nullable, categories=categories))
    return schema
