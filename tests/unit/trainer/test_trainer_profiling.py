"""Profiles (drift baseline) and input schemas."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelops.api.dataset import DatasetSpec
from modelops.artifacts.metadata import OTHER_CATEGORY, CategoricalProfile, DatasetProfile, NumericProfile
from modelops.trainer.prepare import nullable_features
from modelops.trainer.profiling import MAX_CATEGORIES, feature_schema, profile_frame


def test_numeric_profile_counts_every_value_into_its_bins() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, np.nan]})

    profile = profile_frame(frame, ["x"]).features["x"]

    assert isinstance(profile, NumericProfile)
    assert (profile.count, profile.missing, profile.min, profile.max, profile.mean) == (4, 1, 1.0, 4.0, 2.5)
    assert sum(profile.bin_counts) == 4 and profile.bin_edges[0] == 1.0 and profile.bin_edges[-1] == 4.0
    assert set(profile.quantiles) == {"0.05", "0.25", "0.5", "0.75", "0.95"} and profile.quantiles["0.5"] == 2.5


def test_constant_and_empty_columns_still_profile() -> None:
    frame = pd.DataFrame({"c": [2.0, 2.0], "e": [np.nan, np.nan]})

    features = profile_frame(frame, ["c", "e"]).features

    assert isinstance(features["c"], NumericProfile) and features["c"].std == 0.0
    assert isinstance(features["e"], NumericProfile) and features["e"].count == 0


def test_categorical_profile_lumps_the_long_tail() -> None:
    values = [f"v{i}" for i in range(MAX_CATEGORIES + 10)] + ["v0"]
    profile = profile_frame(pd.DataFrame({"k": values}), ["k"]).features["k"]

    assert isinstance(profile, CategoricalProfile)
    assert profile.frequencies["v0"] == 2 and profile.frequencies[OTHER_CATEGORY] == 10
    assert sum(profile.frequencies.values()) == profile.count == len(values)


def test_profile_round_trips_through_json() -> None:
    frame = pd.DataFrame({"x": [1.0, 5.0], "k": ["a", "b"]})
    profile = profile_frame(frame, ["x", "k"])

    assert DatasetProfile.model_validate_json(profile.model_dump_json()) == profile


def test_schema_types_ranges_and_categories_follow_the_data() -> None:
    frame = pd.DataFrame({"i": [1, 5], "f": [0.5, 2.0], "k": ["b", "a"], "b": [True, False]})

    schema = feature_schema(frame, ["i", "f", "k", "b"], nullable={"f"})

    assert [(s.name, s.type) for s in schema] == [
        ("i", "integer"),
        ("f", "number"),
        ("k", "category"),
        ("b", "boolean"),
    ]
    assert (schema[0].minimum, schema[0].maximum) == (1.0, 5.0)
    assert schema[2].categories == ["a", "b"]
    assert [s.name for s in schema if s.nullable] == ["f"]


def test_a_feature_may_be_left_out_of_requests_when_the_data_missed_it_or_the_dataset_says_so() -> None:
    spec = DatasetSpec.model_validate(
        {
            "source": {"builtin": {"name": "iris"}},
            "validation": {"columns": [{"name": "declared", "nullable": True}, {"name": "refused", "nullable": False}]},
        }
    )
    missing = {"complete": 0.0, "gappy": 0.1, "declared": 0.0, "refused": 0.2}

    assert nullable_features(list(missing), missing, spec) == {"gappy", "declared"}
