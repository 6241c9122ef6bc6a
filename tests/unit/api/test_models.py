"""The pydantic models accept every example and refuse what the API server refuses."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from modelops.api.dataset import DatasetSpec
from modelops.api.kinds import KINDS
from modelops.api.modeldeployment import ModelDeploymentSpec
from modelops.api.trainingrun import TrainingRunSpec

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SPEC_BY_KIND = {kind.kind: kind.spec for kind in KINDS}


def _custom_resources() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["apiVersion"].startswith("modelops.io/"):
                found.append((f"{path.relative_to(EXAMPLES)}:{doc['metadata']['name']}", doc))
    return found


@pytest.mark.parametrize(("name", "doc"), _custom_resources(), ids=[n for n, _ in _custom_resources()])
def test_every_example_is_a_valid_spec(name: str, doc: dict[str, Any]) -> None:
    SPEC_BY_KIND[doc["kind"]].model_validate(doc["spec"])


def test_examples_cover_every_data_source_and_model_source() -> None:
    specs = [doc["spec"] for _, doc in _custom_resources()]
    sources = {key for spec in specs if "source" in spec for key in spec["source"]}
    models = {key for spec in specs if "model" in spec and "algorithm" not in spec["model"] for key in spec["model"]}
    assert sources == {"builtin", "url", "s3", "configMap", "pvc"}
    assert models == {"trainingRunRef", "fromLatest", "uri"}


def test_dataset_refuses_two_sources() -> None:
    with pytest.raises(ValidationError, match="exactly one of builtin, url, s3, configMap, pvc"):
        DatasetSpec.model_validate({"source": {"builtin": {"name": "iris"}, "url": {"url": "https://x/y.csv"}}})


def test_constant_fill_needs_a_fill_value() -> None:
    with pytest.raises(ValidationError, match="fillValue is required"):
        DatasetSpec.model_validate(
            {"source": {"builtin": {"name": "iris"}}, "cleaning": {"missingValues": {"strategy": "constant"}}}
        )


def test_split_fractions_must_sum_to_one() -> None:
    with pytest.raises(ValidationError, match="must sum to 1"):
        TrainingRunSpec.model_validate(
            {"datasetRef": {"name": "d"}, "model": {"algorithm": "svm"}, "split": {"train": 0.8, "test": 0.3}}
        )


@pytest.mark.parametrize("bounds", ["minMetrics", "maxMetrics"])
def test_unknown_promotion_metric_is_refused(bounds: str) -> None:
    with pytest.raises(ValidationError, match=f"{bounds} keys must be known metrics"):
        TrainingRunSpec.model_validate(
            {
                "datasetRef": {"name": "d"},
                "model": {"algorithm": "svm"},
                "validation": {bounds: {"acc": 1}},
            }
        )


def test_promotion_metric_rules_are_in_the_crd_too() -> None:
    gates = TrainingRunSpec.model_json_schema(by_alias=True)["$defs"]["PromotionGates"]["properties"]
    for bounds in ("minMetrics", "maxMetrics"):
        (rule,) = gates[bounds]["x-kubernetes-validations"]
        assert rule["message"].startswith(f"{bounds} keys must be known metrics")


def test_tuning_parameter_without_candidates_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"parameters \['depth'\] have no values"):
        TrainingRunSpec.model_validate(
            {
                "datasetRef": {"name": "d"},
                "model": {"algorithm": "svm"},
                "tuning": {"parameters": {"C": [1, 10], "depth": []}},
            }
        )


def test_defaults_the_trainer_decides_stay_unset() -> None:
    spec = TrainingRunSpec.model_validate(
        {
            "datasetRef": {"name": "d"},
            "model": {"algorithm": "ridge"},
            "tuning": {"parameters": {"alpha": [1, 10]}, "objective": {"metric": "rmse"}},
        }
    )
    assert spec.split.stratify is None  # true for classification
    assert spec.tuning is not None and spec.tuning.objective is not None and spec.tuning.objective.goal is None


def test_cleaning_and_sources_carry_their_options() -> None:
    spec = DatasetSpec.model_validate(
        {
            "source": {"configMap": {"name": "cm", "key": "rows", "format": "parquet"}},
            "cleaning": {"outliers": {"method": "iqr", "columns": ["age"]}},
        }
    )
    assert spec.source.config_map is not None and spec.source.config_map.format == "parquet"
    assert spec.cleaning.outliers is not None and spec.cleaning.outliers.columns == ["age"]
    assert spec.cleaning.drop_duplicates


def test_min_replicas_above_max_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"replicas\.min must be less than or equal to replicas\.max"):
        ModelDeploymentSpec.model_validate({"model": {"uri": "s3://b/m"}, "replicas": {"min": 3, "max": 2}})


def test_retraining_needs_a_template() -> None:
    with pytest.raises(ValidationError, match="template is required"):
        ModelDeploymentSpec.model_validate({"model": {"uri": "s3://b/m"}, "retraining": {"policy": "OnDrift"}})


@pytest.mark.parametrize("schedule", ["0 25 * * *", "every hour", "@sometimes"])
def test_an_invalid_cron_schedule_is_refused(schedule: str) -> None:
    retraining = {"policy": "Schedule", "schedule": schedule, "template": {"datasetRef": {"name": "d"},
                                                                         "model": {"algorithm": "ridge"}}}  # fmt: skip
    with pytest.raises(ValidationError, match="schedule"):
        ModelDeploymentSpec.model_validate({"model": {"uri": "s3://b/m"}, "retraining": retraining})


def test_specs_round_trip_through_the_wire_shape() -> None:
    spec = TrainingRunSpec.model_validate({"datasetRef": {"name": "d"}, "model": {"algorithm": "ridge"}})
    assert spec.wire()["datasetRef"] == {"name": "d"}
    assert TrainingRunSpec.model_validate(spec.wire()) == spec
