"""Prediction ids carry what was predicted, signed; feedback on them moves the live metrics."""

from __future__ import annotations

import numpy as np
import pytest

from modelops.serving.errors import InvalidInputError
from modelops.serving.feedback import LiveQuality, PredictionIds

CLASSES = ["cat", "dog", "emu"]
KEY = b"the deployment's feedback key"


def quality(version: str = "v1", task: str = "classification", window: int = 100, key: bytes = KEY) -> LiveQuality:
    classes = CLASSES if task == "classification" else None
    return LiveQuality(PredictionIds(version, task, classes, key=key), classes, window=window)  # type: ignore[arg-type]


def test_each_row_gets_a_distinct_id_that_decodes_to_its_prediction() -> None:
    ids = PredictionIds("v1", "classification", CLASSES, key=KEY)

    issued = ids.issue(np.array(["dog", "emu", "dog"], dtype=object))

    assert len(set(issued)) == 3
    assert [ids.decode(i).prediction for i in issued] == [1.0, 2.0, 1.0]
    assert all(ids.decode(i).version_tag == ids.version_tag for i in issued)


def test_another_replica_of_the_same_deployment_can_score_an_id() -> None:
    here, there = quality(), quality()
    issued = here.ids.issue(np.array(["cat"], dtype=object))

    outcome = there.record([(issued[0], "cat")])

    assert outcome.accepted == 1
    assert there.metrics()["accuracy"] == 1.0


def test_correct_labels_keep_accuracy_at_one_and_wrong_ones_lower_it() -> None:
    live = quality()
    issued = live.ids.issue(np.array(["cat", "dog", "emu", "cat"], dtype=object))

    live.record([(issued[0], "cat"), (issued[1], "dog")])
    assert live.metrics() == {"accuracy": 1.0, "f1": 1.0}

    live.record([(issued[2], "cat"), (issued[3], "dog")])
    metrics = live.metrics()
    assert metrics["accuracy"] == 0.5
    assert 0 < metrics["f1"] < 1


def test_only_the_last_window_of_labels_counts() -> None:
    live = quality(window=2)
    wrong = live.ids.issue(np.array(["cat", "cat"], dtype=object))
    right = live.ids.issue(np.array(["dog", "dog"], dtype=object))

    live.record([(wrong[0], "emu"), (wrong[1], "emu"), (right[0], "dog"), (right[1], "dog")])

    assert live.samples == 2
    assert live.metrics()["accuracy"] == 1.0


def test_feedback_for_another_model_version_is_ignored_not_mixed_in() -> None:
    old, new = quality("v1"), quality("v2")
    issued = old.ids.issue(np.array(["cat"], dtype=object))

    outcome = new.record([(issued[0], "cat")])

    assert outcome.accepted == 0
    assert outcome.ignored == [(issued[0], "made by another model version")]
    assert new.metrics() == {}


def test_the_same_feedback_twice_counts_once() -> None:
    live = quality()
    issued = live.ids.issue(np.array(["cat"], dtype=object))

    live.record([(issued[0], "cat")])
    outcome = live.record([(issued[0], "dog")])

    assert outcome.accepted == 0 and outcome.ignored[0][1].startswith("feedback for this prediction")
    assert live.samples == 1


def _respelled(prediction_id: str, payload: str) -> str:
    """The same id with its prediction written another way, signature kept."""
    head, sequence, _, mac = prediction_id.split("-")
    return f"{head}-{sequence}-{payload}-{mac}"


@pytest.mark.parametrize(
    "bad_id",
    [
        "nonsense",
        "abc-1-2",
        "{tag}89abcdef-1-0",  # the old, unsigned format
        "{tag}89abcdef-1-0-" + "0" * 32,  # the right shape, a made-up signature
        "{good}0",  # a signature one character longer
        "respelled:1.0",
        "respelled:1e0",
        "respelled:0x1",
    ],
)
def test_an_id_this_deployment_did_not_sign_rejects_the_whole_call(bad_id: str) -> None:
    live = quality()
    good = live.ids.issue(np.array(["cat"], dtype=object))[0]
    dog = live.ids.issue(np.array(["dog"], dtype=object))[0]
    if bad_id.startswith("respelled:"):
        bad_id = _respelled(dog, bad_id.split(":")[1])
    bad_id = bad_id.format(tag=live.ids.version_tag, good=good)

    with pytest.raises(InvalidInputError, match="is not a prediction id issued by this server"):
        live.record([(good, "cat"), (bad_id, "cat")])
    assert live.samples == 0


def test_an_id_signed_with_another_deployments_key_is_refused() -> None:
    ours, theirs = quality(), quality(key=b"another deployment's key")
    issued = theirs.ids.issue(np.array(["cat"], dtype=object))

    with pytest.raises(InvalidInputError, match="is not a prediction id issued by this server"):
        ours.record([(issued[0], "cat")])


@pytest.mark.parametrize("length", [64, 65, 200])
def test_a_key_longer_than_blake2b_takes_still_signs_and_only_it_verifies(length: int) -> None:
    key = b"k" * length
    here, there, other = quality(key=key), quality(key=key), quality(key=key[:-1] + b"x")
    issued = here.ids.issue(np.array(["cat"], dtype=object))[0]

    assert there.record([(issued, "cat")]).accepted == 1
    with pytest.raises(InvalidInputError, match="is not a prediction id issued by this server"):
        other.record([(issued, "cat")])


def test_a_label_that_is_not_a_class_is_refused() -> None:
    live = quality()
    issued = live.ids.issue(np.array(["cat"], dtype=object))

    with pytest.raises(InvalidInputError, match="label 'wolf', which is not one of the model's classes"):
        live.record([(issued[0], "wolf")])


def test_integer_classes_accept_labels_sent_as_strings() -> None:
    ids = PredictionIds("v1", "classification", [0, 1], key=KEY)
    live = LiveQuality(ids, [0, 1], window=10)
    issued = ids.issue(np.array([1, 0]))

    live.record([(issued[0], "1"), (issued[1], 0)])

    assert live.metrics()["accuracy"] == 1.0


def test_regression_feedback_gives_rmse_and_mae() -> None:
    live = quality(task="regression")
    issued = live.ids.issue(np.array([2.0, 5.0]))

    live.record([(issued[0], 3.0), (issued[1], 5)])

    assert live.metrics() == pytest.approx({"rmse": np.sqrt(0.5), "mae": 0.5})


@pytest.mark.parametrize("label", ["three", float("inf"), float("nan"), 1e200, 10**400])
def test_regression_feedback_needs_a_finite_number_its_error_can_square(label: object) -> None:
    live = quality(task="regression")
    issued = live.ids.issue(np.array([2.0]))

    with pytest.raises(InvalidInputError, match=r"needs a finite number|beyond 64-bit integers"):
        live.record([(issued[0], label)])  # type: ignore[list-item]
    assert live.samples == 0
