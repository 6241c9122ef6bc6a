"""Request payloads become a checked [N, F] matrix, or a 4xx error naming the problem."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from modelops.artifacts.metadata import FeatureSchema
from modelops.serving.errors import InvalidInputError, PayloadTooLargeError
from modelops.serving.inference import Tensor
from modelops.serving.validation import InputValidator

NUMERIC = [
    FeatureSchema(name="a", type="number", nullable=False),
    FeatureSchema(name="b", type="number", nullable=True),
    FeatureSchema(name="n", type="integer"),
    FeatureSchema(name="flag", type="boolean"),
]
MIXED = [
    FeatureSchema(name="size", type="number"),
    FeatureSchema(name="city", type="category", categories=["lyon", "paris"], nullable=True),
]


def tensor(data: list[Any], shape: list[int], datatype: str = "FP64", name: str = "input-0") -> Tensor:
    return Tensor(name, shape, datatype, data)


@pytest.fixture
def numeric() -> InputValidator:
    return InputValidator(NUMERIC, max_rows=100)


def test_one_matrix_tensor_flat_or_nested_gives_the_rows_in_feature_order(numeric: InputValidator) -> None:
    flat = numeric.from_v2([tensor([1.5, 2, 3, 1, 4.5, 5, 6, 0], [2, 4])])
    nested = numeric.from_v2([tensor([[1.5, 2, 3, 1], [4.5, 5, 6, 0]], [2, 4])])

    assert flat.dtype == np.float64 and flat.shape == (2, 4)
    np.testing.assert_array_equal(flat, nested)
    np.testing.assert_array_equal(flat[1], [4.5, 5, 6, 0])


def test_one_tensor_per_feature_is_reassembled_in_feature_order(numeric: InputValidator) -> None:
    inputs = [
        tensor([True, False], [2], "BOOL", "flag"),
        tensor([3, 4], [2], "INT64", "n"),
        tensor([0.5, 0.25], [2, 1], "FP32", "b"),
        tensor([1.0, 2.0], [2], "FP64", "a"),
    ]

    matrix = numeric.from_v2(inputs)

    np.testing.assert_array_equal(matrix, [[1.0, 0.5, 3, 1], [2.0, 0.25, 4, 0]])


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([tensor([1.0, 2.0, 3.0], [1, 3])], "has 3 features per row but the model takes 4"),
        ([tensor([1.0] * 4, [4])], "send one tensor of shape [N, 4]"),
        ([tensor([1.0] * 3, [1, 4])], "holds 3 values but its shape [1, 4] needs 4"),
        ([tensor(["x", 1.0, 2.0, 1], [1, 4])], "is FP64 but value 0 is str 'x'"),
        ([tensor([1.5, 1, 2, 1], [1, 4], "INT64")], "is INT64 but holds non-integer numbers"),
        ([tensor([{"a": 1}, 1, 2, 1], [1, 4])], "is FP64 but value 0 is dict"),
        ([tensor([[1.0, 2.0], [3.0]], [1, 4])], "its data is nested but not to its shape [1, 4]"),
        ([tensor([[1.0, 2.0], [3.0, 1]], [1, 4])], "its data is nested but not to its shape [1, 4]"),
        ([tensor([-5, 1, 2, 1], [1, 4], "UINT8")], "is UINT8 but value 0 (-5) is outside [0, 255]"),
        ([tensor([300, 1, 2, 1], [1, 4], "INT8")], "is INT8 but value 0 (300) is outside [-128, 127]"),
        ([tensor([1e39, 1, 2, 1], [1, 4], "FP32")], "is FP32 but value 0 (1e+39) is beyond its range"),
        ([tensor([10**400, 1, 2, 1], [1, 4])], "is beyond the range of FP64"),
        ([tensor([True, False, True, True], [1, 4], "BOOL")], "is BOOL but the model's features are not all booleans"),
        ([tensor([1.0], [1], "BOOL", "a"), tensor([1.0], [1], name="b"), tensor([1], [1], "INT64", "n"),
          tensor([1], [1], "INT64", "flag")], "input 'a' is BOOL but feature 'a' is a number"),
        ([tensor(["a", "b", "c", "d"], [1, 4], "BYTES")], "is BYTES but the features it carries are numeric"),
        ([tensor([None, 1.0, 2.0, 1], [1, 4])], "feature 'a' is missing (null/NaN) in row 0"),
        ([tensor([1.0, 1.0, 2.5, 1], [1, 4])], "feature 'n' is an integer but row 0 has 2.5"),
        ([tensor([1.0, 1.0, 2.0, 3], [1, 4])], "feature 'flag' is a boolean (true/false or 0/1) but row 0 has 3.0"),
        (
            [tensor([1.0], [1], name="a"), tensor([1.0], [1], name="zzz")],
            "unknown inputs 'zzz'",
        ),
        ([tensor([1.0], [1], name="a"), tensor([1.0], [1], name="b")], "missing inputs for features 'n', 'flag'"),
        (
            [tensor([1.0, 2.0], [2], name="a"), tensor([1.0], [1], name="b"), tensor([1], [1], name="n"),
             tensor([1], [1], name="flag")],
            "input 'b' has 1 rows but 'a' has 2",
        ),
        ([tensor([], [0, 4])], "empty batch"),
    ],
)  # fmt: skip
def test_bad_tensors_are_refused_with_a_message_naming_the_problem(
    numeric: InputValidator, inputs: list[Tensor], message: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        numeric.from_v2(inputs)

    assert message in str(raised.value)
    assert raised.value.status_code == 422


def test_infinity_is_refused_even_where_missing_values_are_allowed(numeric: InputValidator) -> None:
    with pytest.raises(InvalidInputError, match="feature 'b' is infinite in row 0"):
        numeric.from_rows([[1.0, math.inf, 1, 0]])


def test_infinity_in_a_v2_tensor_is_refused_even_where_missing_values_are_allowed(numeric: InputValidator) -> None:
    with pytest.raises(InvalidInputError, match="feature 'b' is infinite in row 0"):
        numeric.from_v2([tensor([1.0, -math.inf, 1, 0], [1, 4])])


def test_nan_in_a_v2_tensor_is_taken_as_missing_where_the_model_imputes(numeric: InputValidator) -> None:
    matrix = numeric.from_v2([tensor([1.0, math.nan, 2.0, 1.0], [1, 4])])

    assert math.isnan(matrix[0, 1])
    assert matrix[0, 2] == 2.0


def test_finite_values_whose_sum_overflows_are_accepted(numeric: InputValidator) -> None:
    # The common tensor is proved finite by its sum; one that overflows takes the exact path, not a 422.
    matrix = numeric.from_v2([tensor([1e308, 1e308, 1.0, 0.0], [1, 4])])

    assert matrix.tolist() == [[1e308, 1e308, 1.0, 0.0]]


def test_null_is_taken_as_missing_where_the_model_imputes(numeric: InputValidator) -> None:
    matrix = numeric.from_v2([tensor([1.0, None, 2, 1], [1, 4])])

    assert math.isnan(matrix[0, 1])


def test_a_batch_over_the_row_limit_is_413() -> None:
    validator = InputValidator(NUMERIC, max_rows=2)

    with pytest.raises(PayloadTooLargeError, match="batch of 3 rows is over the limit of 2 rows"):
        validator.from_v2([tensor([0.0] * 12, [3, 4])])


def test_instances_as_lists_and_as_objects_give_the_same_matrix(numeric: InputValidator) -> None:
    as_lists = numeric.from_instances([[1.0, 2.0, 3, True]])
    as_objects = numeric.from_instances([{"flag": True, "n": 3, "b": 2.0, "a": 1.0}])

    np.testing.assert_array_equal(as_lists, as_objects)
    np.testing.assert_array_equal(as_lists, [[1.0, 2.0, 3.0, 1.0]])


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        ([[1.0, 2.0, 3]], "row 0 has 3 values but the model takes 4 features"),
        ([[1.0, 2.0, 3, 1], [1.0, "2", 3, 1]], "feature 'b' expects a number but row 1 has str '2'"),
        ([[True, 2.0, 3, 1]], "feature 'a' expects a number but row 0 has bool True"),
        ([{"a": 1.0, "n": 1, "flag": 1, "color": 2}], "row 0 has unknown features 'color'"),
        ([{"b": 1.0, "n": 1, "flag": 1}], "row 0 lacks features 'a'"),
        ([[1.0, 2.0, 3, 1], {"a": 1.0}], "row 1 is not a list of feature values"),
    ],
)
def test_bad_instances_are_refused_with_a_message_naming_the_problem(
    numeric: InputValidator, instances: list[Any], message: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        numeric.from_instances(instances)

    assert message in str(raised.value)


def test_a_nullable_feature_may_be_left_out_of_an_object_row(numeric: InputValidator) -> None:
    matrix = numeric.from_instances([{"a": 1.0, "n": 1, "flag": 0}])

    assert math.isnan(matrix[0, 1])


def test_category_features_keep_strings_and_accept_categories_never_seen() -> None:
    validator = InputValidator(MIXED, max_rows=10)

    rows: list[list[Any]] = [[1.5, "paris"], [2.0, "marseille"], [3.0, None]]
    matrix = validator.from_instances(rows)

    assert matrix.dtype == object
    assert matrix[:, 1].tolist() == ["paris", "marseille", None]
    assert matrix[:, 0].tolist() == [1.5, 2.0, 3.0]


def test_a_number_where_a_category_is_expected_is_refused() -> None:
    validator = InputValidator(MIXED, max_rows=10)

    with pytest.raises(InvalidInputError, match="feature 'city' expects a category \\(string\\) but row 0 has int 3"):
        validator.from_instances([[1.5, 3]])


def test_category_features_arrive_as_bytes_tensors_per_feature() -> None:
    validator = InputValidator(MIXED, max_rows=10)

    matrix = validator.from_v2([tensor([1.0, 2.0], [2], name="size"), tensor(["lyon", "x"], [2], "BYTES", "city")])

    assert matrix.tolist() == [[1.0, "lyon"], [2.0, "x"]]
