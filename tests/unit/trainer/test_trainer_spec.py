"""Parsing the Dataset / TrainingRun `.spec` JSON the operator passes."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.api.dataset import DatasetSpec
from modelops.api.trainingrun import Algorithm, TrainingRunSpec
from modelops.trainer.algorithms import ALGORITHMS
from modelops.trainer.errors import SpecError
from modelops.trainer.spec import parse_spec


def test_dataset_spec_reads_the_crs_camel_case() -> None:
    spec = parse_spec(
        DatasetSpec,
        {
            "source": {"pvc": {"claimName": "data", "path": "x.csv"}},
            "cleaning": {
                "dropDuplicates": True,
                "missingValues": {"strategy": "constant", "fillValue": 0},
                "outliers": {"method": "zscore", "action": "drop"},
            },
            "validation": {
                "minRows": 10,
                "maxMissingFraction": 0.2,
                "columns": [{"name": "a", "allowedValues": ["x"]}],
            },
            "governance": {"piiColumns": ["email"], "piiAction": "hash", "owner": "team"},
            "refreshInterval": "1h",
        },
    )

    assert spec.source.pvc is not None and spec.source.pvc.claim_name == "data"
    assert spec.cleaning.outliers is not None and spec.cleaning.outliers.effective_threshold == 3.0
    assert spec.validation is not None and spec.validation.columns[0].allowed_values == ["x"]
    assert spec.governance is not None and spec.governance.pii_action == "hash"


def test_url_source_is_an_object_with_a_format() -> None:
    spec = parse_spec(DatasetSpec, '{"source": {"url": {"url": "https://example.org/x", "format": "parquet"}}}')

    assert spec.source.url is not None and (spec.source.url.url, spec.source.url.format) == (
        "https://example.org/x",
        "parquet",
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"source": {}}, "spec.source: Value error, exactly one of builtin, url, s3, configMap, pvc"),
        ({"source": {"builtin": {"name": "iris"}, "url": {"url": "http://x"}}}, "exactly one of"),
        ({"source": {"url": "https://example.org/x.csv"}}, "spec.source.url: Input should be a valid dictionary"),
        ({"source": {"builtin": {"name": "mnist"}}}, "spec.source.builtin.name: Input should be 'iris'"),
        (
            {"source": {"builtin": {"name": "iris"}}, "cleaning": {"missingValues": {"strategy": "constant"}}},
            "spec.cleaning.missingValues: Value error, fillValue is required",
        ),
        (
            {"source": {"builtin": {"name": "iris"}}, "cleaning": {"missingValues": {"strategy": "none"}}},
            "spec.cleaning.missingValues.strategy",
        ),
        (
            {"source": {"builtin": {"name": "iris"}}, "cleaning": {"missingValues": {"fillValue": [1]}}},
            "spec.cleaning.missingValues.fillValue: Input should be a valid integer",
        ),
        (
            {"source": {"builtin": {"name": "iris"}}, "cleaning": {"outliers": {"method": "mad"}}},
            "spec.cleaning.outliers.method",
        ),
        ({"source": {"builtin": {"name": "iris"}}, "cleaning": {"dropDupes": True}}, "spec.cleaning.dropDupes"),
        ({"source": {"builtin": {"name": "iris"}}, "validation": {"maxMissingFraction": 2}}, "maxMissingFraction"),
    ],
)
def test_invalid_dataset_spec_names_the_field(data: dict[str, object], expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(DatasetSpec, data)

    assert expected in str(caught.value)


def _run(**fields: Any) -> dict[str, Any]:
    return {"datasetRef": {"name": "iris"}, "model": {"algorithm": "knn"}, **fields}


def test_training_run_spec_defaults_and_camel_case() -> None:
    spec = parse_spec(
        TrainingRunSpec,
        _run(
            tuning={
                "strategy": "random",
                "parameters": {"n_neighbors": [1, 3]},
                "maxTrials": 2,
                "cvFolds": 4,
                "objective": {"metric": "accuracy", "goal": "maximize"},
            },
            validation={"minMetrics": {"accuracy": 0.9}, "beatServing": {"metric": "accuracy"}},
        ),
    )

    assert (spec.split.train, spec.split.validation, spec.split.test, spec.split.seed) == (0.7, 0.15, 0.15, 42)
    assert spec.split.stratify is None  # decided by the task
    assert spec.tuning is not None and (spec.tuning.max_trials, spec.tuning.cv_folds) == (2, 4)
    assert spec.validation is not None and spec.validation.min_metrics == {"accuracy": 0.9}


def test_the_stored_spec_the_operator_passes_is_accepted_whole() -> None:
    stored = _run(
        task="regression",
        split={"train": 0.7, "validation": 0.15, "test": 0.15, "seed": 42},
        validation={"maxMetrics": {"rmse": 60}, "beatServing": {"metric": "rmse", "tolerance": 0.5}},
        resources={"requests": {"cpu": "500m"}, "limits": {"memory": "1Gi"}},
    )

    spec = parse_spec(TrainingRunSpec, stored)

    assert spec.dataset_ref.name == "iris" and spec.resources is not None
    assert spec.validation is not None and spec.validation.max_metrics == {"rmse": 60}
    assert spec.validation.beat_serving is not None and spec.validation.beat_serving.tolerance == 0.5


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_run(split={"train": 0.9}), "train + validation + test must sum to 1"),
        (_run(tuning={"parameters": {}}), "spec.tuning.parameters: Dictionary should have at least 1 item"),
        (_run(tuning={"parameters": {"p": []}}), "spec.tuning: Value error, parameters ['p'] have no values"),
        (_run(tuning={"parameters": {"p": [1]}, "cvFolds": 1}), "spec.tuning.cvFolds"),
        (_run(task="ranking"), "spec.task"),
        (_run(validation={"maxMetrics": {"mse": 1}}), "maxMetrics keys must be known metrics"),
        ({"model": {"algorithm": "knn"}}, "spec.datasetRef: Field required"),
        (_run(mustBeatServing=True), "spec.mustBeatServing: Extra inputs are not permitted"),
    ],
)
def test_invalid_training_run_spec_names_the_field(data: dict[str, object], expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(TrainingRunSpec, data)

    assert expected in str(caught.value)


def test_every_algorithm_the_trainer_has_can_be_asked_for() -> None:
    assert set(Algorithm.__args__) == set(ALGORITHMS)  # type: ignore[attr-defined]


def test_spec_that_is_not_json_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="not valid JSON"):
        parse_spec(TrainingRunSpec, "{model:")
