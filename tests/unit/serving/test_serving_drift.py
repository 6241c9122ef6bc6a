"""Drift of the sliding window against the training profile: PSI per feature, KS for numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelops.artifacts.metadata import FeatureSchema
from modelops.contract.monitoring import DriftMethod
from modelops.serving.drift import DriftMonitor, psi
from modelops.trainer.profiling import profile_frame

RNG = np.random.default_rng(7)
TRAINING = pd.DataFrame(
    {
        "x": RNG.normal(0, 1, 2000),
        "k": RNG.integers(0, 5, 2000),
        "flag": RNG.random(2000) > 0.7,
        "city": RNG.choice(["lyon", "paris", "nice"], 2000, p=[0.5, 0.3, 0.2]),
    }
)
FEATURES = [
    FeatureSchema(name="x", type="number"),
    FeatureSchema(name="k", type="integer"),
    FeatureSchema(name="flag", type="boolean"),
    FeatureSchema(name="city", type="category"),
]


def monitor(window: int = 500, *, method: DriftMethod = "psi", threshold: float = 0.2) -> DriftMonitor:
    profile = profile_frame(TRAINING, list(TRAINING.columns))
    return DriftMonitor(FEATURES, profile, window=window, method=method, threshold=threshold)


def rows(frame: pd.DataFrame) -> np.ndarray:
    matrix = np.empty((len(frame), 4), dtype=object)
    matrix[:, 0] = frame["x"].to_numpy(dtype=float)
    matrix[:, 1] = frame["k"].to_numpy(dtype=float)
    matrix[:, 2] = frame["flag"].to_numpy(dtype=float)
    matrix[:, 3] = frame["city"].to_numpy()
    return matrix


def sample(n: int, *, shift: float = 0.0, city_p: tuple[float, float, float] = (0.5, 0.3, 0.2)) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1, n),
            "k": rng.integers(0, 5, n),
            "flag": rng.random(n) > 0.7,
            "city": rng.choice(["lyon", "paris", "nice"], n, p=list(city_p)),
        }
    )


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift() -> None:
    reference = [100, 200, 300, 400]

    assert psi(reference, [10, 20, 30, 40]) == pytest.approx(0.0, abs=1e-3)
    assert psi(reference, [40, 30, 20, 10]) > psi(reference, [20, 20, 30, 30]) > 0.01


def test_psi_stays_finite_when_a_bin_is_empty_on_one_side() -> None:
    assert np.isfinite(psi([0, 10, 10], [10, 0, 10]))


def test_inputs_like_the_training_data_stay_under_the_thresholds() -> None:
    drift = monitor()
    drift.observe(rows(sample(500)))

    report = drift.report()

    assert report.rows == 500
    assert report.psi_score < 0.1 and report.drifted == ()
    assert report.ks_score is not None and report.ks_score < 0.1
    assert {f.feature for f in report.features} == {"x", "k", "flag", "city"}


@pytest.mark.parametrize("method", ["psi", "ks"])
def test_a_shifted_numeric_feature_is_the_one_drifted_feature_under_either_method(method: DriftMethod) -> None:
    drift = monitor(method=method)
    drift.observe(rows(sample(500, shift=1.5)))

    report = drift.report()
    x = next(f for f in report.features if f.feature == "x")

    assert x.psi > 0.5 and x.ks_statistic is not None and x.ks_statistic > 0.3
    assert x.ks_pvalue is not None and x.ks_pvalue < 0.01
    assert report.psi_score == x.psi and report.ks_score == x.ks_statistic
    assert report.drifted == ("x",) and report.score == x.statistic(method)


def test_the_threshold_decides_which_features_count_as_drifted() -> None:
    shifted = rows(sample(500, shift=0.3))
    strict, lenient = monitor(threshold=0.01), monitor(threshold=5.0)
    strict.observe(shifted)
    lenient.observe(shifted)

    assert "x" in strict.report().drifted
    assert lenient.report().drifted == ()


def test_integer_and_boolean_features_get_psi_but_no_ks() -> None:
    drift = monitor()
    drift.observe(rows(sample(300)))

    by_name = {f.feature: f for f in drift.report().features}

    assert by_name["k"].ks_statistic is None and by_name["flag"].ks_statistic is None
    assert by_name["flag"].psi < 0.05  # 0.0/1.0 counted into the profile's "False"/"True"


def test_a_new_category_mix_and_unseen_categories_raise_the_categorical_psi() -> None:
    drift = monitor()
    shifted = sample(400, city_p=(0.1, 0.1, 0.8))
    shifted.loc[:100, "city"] = "marseille"
    drift.observe(rows(shifted))

    city = next(f for f in drift.report().features if f.feature == "city")

    assert city.psi > 0.5


def test_the_window_slides_so_old_rows_stop_counting() -> None:
    drift = monitor(window=200)
    drift.observe(rows(sample(200, shift=3.0)))
    assert drift.report().psi_score > 1

    for row in rows(sample(200)):
        drift.observe(row.reshape(1, -1))

    assert drift.rows == 200
    assert drift.report().psi_score < 0.2


def test_a_batch_larger_than_the_window_keeps_its_last_rows() -> None:
    drift = monitor(window=100)
    batch = rows(pd.concat([sample(150, shift=3.0), sample(100)], ignore_index=True))

    drift.observe(batch)

    assert drift.rows == 100
    assert drift.report().psi_score < 0.3


def test_missing_values_are_left_out_of_the_statistics() -> None:
    drift = monitor()
    batch = rows(sample(200))
    batch[:50, 0] = np.nan
    batch[:50, 3] = None
    drift.observe(batch)

    x = next(f for f in drift.report().features if f.feature == "x")

    assert x.psi < 0.2
