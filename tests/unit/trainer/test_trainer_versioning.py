"""Versions are content hashes: same content -> same version, any change -> a new one."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

from modelops.trainer.versioning import dataset_version, model_version

frames = data_frames(
    columns=[
        column("n", elements=st.floats(allow_nan=True, allow_infinity=False, width=64)),
        column("i", elements=st.integers(-(2**40), 2**40)),
        column("s", elements=st.text(max_size=5)),
    ],
    index=range_indexes(min_size=1, max_size=30),
)


@settings(max_examples=60, deadline=None)
@given(frames)
def test_equal_content_gives_equal_versions(frame: pd.DataFrame) -> None:
    copy = frame.copy(deep=True).reset_index(drop=True)
    shifted = frame.set_axis(range(100, 100 + len(frame)))  # the index is not content

    assert (
        dataset_version(frame, target="s") == dataset_version(copy, target="s") == dataset_version(shifted, target="s")
    )


@settings(max_examples=60, deadline=None)
@given(frames, st.data())
def test_changing_any_integer_value_changes_the_version(frame: pd.DataFrame, data: st.DataObject) -> None:
    row = data.draw(st.integers(0, len(frame) - 1))
    changed = frame.copy()
    changed.loc[row, "i"] = int(frame["i"].iloc[row]) + data.draw(st.integers(1, 1000))

    assert dataset_version(changed, target=None) != dataset_version(frame, target=None)


@settings(max_examples=40, deadline=None)
@given(frames)
def test_dropping_a_row_or_renaming_a_column_or_the_target_changes_the_version(frame: pd.DataFrame) -> None:
    base = dataset_version(frame, target="s")

    assert dataset_version(frame.iloc[:-1], target="s") != base
    assert dataset_version(frame.rename(columns={"n": "m"}), target="s") != base
    assert dataset_version(frame, target="n") != base


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.floats(allow_nan=False), st.text(), st.none())),
)
def test_model_version_ignores_key_order_but_not_values(inputs: dict[str, object]) -> None:
    reordered = dict(reversed(list(inputs.items())))

    assert model_version(inputs) == model_version(reordered)
    assert model_version({**inputs, "seed": 1}) != model_version({**inputs, "seed": 2})


def test_versions_are_short_hex() -> None:
    version = dataset_version(pd.DataFrame({"a": [1]}), target=None)

    assert len(version) == 16 and int(version, 16) >= 0
