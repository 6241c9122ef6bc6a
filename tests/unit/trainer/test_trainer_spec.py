"""Parsing the Dataset / TrainingRun `.spec` JSON the operator passes."""

from __future__ import annotations

import pytest

from modelops.trainer.errors import SpecError
from modelops.trainer.spec import DatasetSpec, TrainingRunSpec, parse_spec


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

    assert spec.source.kind == "pvc" and spec.source.pvc is not None and spec.source.pvc.claim_name == "data"
    assert spec.cleaning.outliers is not None and spec.cleaning.outliers.effective_threshold == 3.0
    assert spec.validation.columns[0].allowed_values == ["x"]
    assert spec.governance.pii_action == "hash"


def test_url_source_may_be_a_plain_string() -> None:
    spec = parse_spec(DatasetSpec, '{"source": {"url": "https://example.org/x.csv"}}')

    assert spec.source.url == "https://example.org/x.csv"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"source": {}}, "spec.source: Value error, exactly one of builtin, url, s3, configMap, pvc"),
        ({"source": {"builtin": {"name": "iris"}, "url": "http://x"}}, "exactly one of"),
        ({"source": {"builtin": {"name": "mnist"}}}, "spec.source.builtin.name: Input should be 'iris'"),
        (
            {"source": {"builtin": {"name": "iris"}}, "cleaning": {"missingValues": {"strategy": "constant"}}},
            "spec.cleaning.missingValues: Value error, fillValue is required",
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


def test_training_run_spec_defaults_and_camel_case() -> None:
    spec = parse_spec(
        TrainingRunSpec,
        {
            "datasetRef": {"name": "iris"},
            "model": {"algorithm": "knn"},
            "tuning": {
                "strategy": "random",
                "parameters": {"n_neighbors": [1, 3]},
                "maxTrials": 2,
                "cvFolds": 4,
                "objective": {"metric": "accuracy", "goal": "maximize"},
            },
            "validation": {"minMetrics": {"accuracy": 0.9}, "mustBeatServing": True},
        },
    )

    assert (spec.split.train, spec.split.validation, spec.split.test, spec.split.seed) == (0.7, 0.15, 0.15, 42)
    assert spec.tuning is not None and (spec.tuning.max_trials, spec.tuning.cv_folds) == (2, 4)
    assert spec.validation.min_metrics == {"accuracy": 0.9}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"model": {"algorithm": "knn"}, "split": {"train": 0.9}}, "train + validation + test must be 1"),
        ({"model": {"algorithm": "knn"}, "tuning": {"parameters": {}}}, "spec.tuning: Value error, parameters"),
        ({"model": {"algorithm": "knn"}, "tuning": {"parameters": {"p": []}}}, "have no values"),
        ({"model": {"algorithm": "knn"}, "tuning": {"parameters": {"p": [1]}, "cvFolds": 1}}, "spec.tuning.cvFolds"),
        ({"model": {"algorithm": "knn"}, "task": "ranking"}, "spec.task"),
    ],
)
def test_invalid_training_run_spec_names_the_field(data: dict[str, object], expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(TrainingRunSpec, data)

    assert expected in str(caught.value)


def test_spec_that_is_not_json_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="not valid JSON"):
        parse_spec(TrainingRunSpec, "{model:")
