"""ONNX Runtime or scikit-learn, and micro-batching: predictions always equal scikit-learn's."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelops.artifacts.metadata import OnnxExport
from modelops.artifacts.model_format import LoadedModel
from modelops.serving.batching import MicroBatcher
from modelops.serving.errors import InvalidInputError, ModelLoadError
from modelops.serving.runtime import (
    OnnxRuntime,
    Prediction,
    SklearnRuntime,
    _near_ties,
    profile_rows,
    select_runtime,
)

Model = tuple[LoadedModel, pd.DataFrame]


def test_auto_serves_a_verified_onnx_export_with_onnx_runtime(iris: Model) -> None:
    runtime = select_runtime(iris[0], choice="auto", threads=1)

    assert isinstance(runtime, OnnxRuntime)


def test_onnx_predictions_equal_scikit_learn_on_held_out_rows(iris: Model, mixed: Model) -> None:
    for loaded, held_out in (iris, mixed):
        onnx = select_runtime(loaded, choice="onnx", threads=1)
        sklearn = select_runtime(loaded, choice="sklearn", threads=1)
        matrix = held_out.to_numpy(dtype=object if loaded.metadata.task == "regression" else np.float64)
        if loaded.metadata.task == "regression":
            matrix[:, :3] = matrix[:, :3].astype(np.float64)

        expected = loaded.pipeline.predict(held_out)
        for runtime in (onnx, sklearn):
            got = runtime.predict(matrix, probabilities=False).values
            if loaded.metadata.task == "classification":
                assert got.tolist() == expected.tolist()
            else:
                np.testing.assert_allclose(got.astype(float), expected, rtol=1e-5)


def test_probabilities_follow_the_order_of_the_classes(iris: Model) -> None:
    loaded, held_out = iris
    runtime = select_runtime(loaded, choice="auto", threads=1)

    prediction = runtime.predict(held_out.to_numpy(dtype=np.float64), probabilities=True)

    assert prediction.probabilities is not None
    np.testing.assert_allclose(prediction.probabilities, loaded.pipeline.predict_proba(held_out), atol=1e-5)


def test_without_an_onnx_export_auto_falls_back_to_scikit_learn(iris: Model) -> None:
    loaded = dataclasses.replace(
        iris[0],
        onnx_bytes=None,
        metadata=iris[0].metadata.model_copy(update={"onnx": OnnxExport(exported=False, reason="not convertible")}),
    )

    assert isinstance(select_runtime(loaded, choice="auto", threads=1), SklearnRuntime)
    with pytest.raises(ModelLoadError, match="runtime 'onnx' was asked for but the version has no verified ONNX"):
        select_runtime(loaded, choice="onnx", threads=1)


def test_an_onnx_export_that_disagrees_with_scikit_learn_is_not_used(iris: Model) -> None:
    class Liar:
        classes_ = iris[0].pipeline.classes_

        def predict(self, frame: Any) -> Any:
            return np.full(len(frame), "setosa", dtype=object)

        def predict_proba(self, frame: Any) -> Any:
            return iris[0].pipeline.predict_proba(frame)

    loaded = dataclasses.replace(iris[0], pipeline=Liar())

    assert isinstance(select_runtime(loaded, choice="auto", threads=1), SklearnRuntime)


def test_profile_rows_vary_every_feature_within_the_training_range(iris: Model) -> None:
    metadata = iris[0].metadata
    rows = profile_rows(metadata)

    assert rows.shape == (16, 4)
    for j, feature in enumerate(metadata.features):
        assert len(set(rows[:, j])) > 3
        assert feature.minimum is not None and feature.maximum is not None
        assert feature.minimum <= rows[:, j].min() and rows[:, j].max() <= feature.maximum


def test_scikit_learn_refusing_an_input_is_a_422_not_a_500(iris: Model) -> None:
    runtime = SklearnRuntime(iris[0].pipeline, list(iris[0].metadata.features))

    with pytest.raises(InvalidInputError, match="the model rejected the input"):
        runtime.predict(np.full((1, 4), np.inf), probabilities=False)


class CountingRuntime:
    """Doubles each row's first value; refuses rows holding a negative number."""

    platform = "test"
    has_proba = True

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, matrix: Any, *, probabilities: bool) -> Prediction:
        self.calls.append(matrix.shape[0])
        if (matrix < 0).any():
            raise InvalidInputError("negative")
        proba = np.repeat(matrix[:, :1], 2, axis=1) if probabilities else None
        return Prediction(values=matrix[:, 0] * 2, probabilities=proba)


def test_concurrent_requests_share_one_model_call_and_each_gets_its_own_rows() -> None:
    runtime = CountingRuntime()
    batcher = MicroBatcher(runtime)

    async def main() -> list[Prediction]:
        requests = [np.full((n, 1), float(n)) for n in (1, 3, 2)]
        return await asyncio.gather(*(batcher.predict(m, probabilities=i == 1) for i, m in enumerate(requests)))

    results = asyncio.run(main())

    assert runtime.calls == [6]
    assert [r.values.tolist() for r in results] == [[2.0], [6.0, 6.0, 6.0], [4.0, 4.0]]
    assert results[0].probabilities is None and results[1].probabilities is not None


def test_one_request_failing_in_a_batch_does_not_fail_the_others() -> None:
    runtime = CountingRuntime()
    batcher = MicroBatcher(runtime)

    async def main() -> tuple[Prediction | BaseException, Prediction | BaseException]:
        good, bad = np.ones((1, 1)), -np.ones((1, 1))
        return await asyncio.gather(
            batcher.predict(good, probabilities=False),
            batcher.predict(bad, probabilities=False),
            return_exceptions=True,
        )

    good, bad = asyncio.run(main())

    assert isinstance(good, Prediction) and good.values.tolist() == [2.0]
    assert isinstance(bad, InvalidInputError)


def test_large_requests_run_alone_in_a_worker_thread() -> None:
    runtime = CountingRuntime()
    batcher = MicroBatcher(runtime, thread_rows=4)

    result = asyncio.run(batcher.predict(np.ones((10, 1)), probabilities=False))

    assert runtime.calls == [10] and result.values.shape == (10,)


@pytest.mark.parametrize("repeat", [1, 40], ids=["few rows", "many rows"])
@pytest.mark.parametrize(
    ("rows", "near"),
    [
        ([[0.5, 0.5], [0.9, 0.1], [0.50001, 0.49999], [0.2, 0.8]], [0, 2]),
        ([[0.4, 0.4, 0.2], [0.1, 0.3, 0.6], [0.3, 0.35, 0.35], [0.33, 0.32, 0.35]], [0, 2]),
    ],
    ids=["two classes", "three classes"],
)
def test_rows_whose_two_leading_classes_are_within_the_tie_gap_go_to_scikit_learn(
    rows: list[list[float]], near: list[int], repeat: int
) -> None:
    proba = np.array(rows * repeat)

    found = _near_ties(proba)

    expected = [i + k * len(rows) for k in range(repeat) for i in near]
    assert found is not None and found.tolist() == expected


def test_no_row_near_a_tie_gives_none() -> None:
    assert _near_ties(np.array([[0.9, 0.1], [0.2, 0.8]])) is None
