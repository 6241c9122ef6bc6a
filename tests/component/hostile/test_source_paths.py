"""#9.1: a Dataset's source path reads nothing outside its mount, and no file content reaches status."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from modelops.api.dataset import DatasetSpec
from modelops.contract.jobs import EXIT_BAD_INPUT, EXIT_OK

from .conftest import SECRET, Trainer, error_of, prepare

CRDS = Path(__file__).resolve().parents[3] / "crds"
ENVIRON = "../../../../../proc/self/environ"


def _pvc(path: str) -> dict[str, object]:
    return {"source": {"pvc": {"claimName": "data", "path": path}}, "target": "label"}


@pytest.mark.parametrize("path", [ENVIRON, "/etc/passwd", "a/../../b.csv", "..", "rows/.."])
def test_the_api_model_refuses_a_pvc_path_that_is_absolute_or_climbs(path: str) -> None:
    with pytest.raises(ValidationError, match="must be a relative path inside the claim"):
        DatasetSpec.model_validate(_pvc(path))


@pytest.mark.parametrize("key", ["..", "../environ", "a/b"])
def test_the_api_model_refuses_a_config_map_key_that_is_a_path(key: str) -> None:
    with pytest.raises(ValidationError, match=r"spec|key"):
        DatasetSpec.model_validate({"source": {"configMap": {"name": "cm", "key": key}}})


def test_the_crd_carries_the_same_rule_so_the_api_server_refuses_it_naming_the_field() -> None:
    crd = yaml.safe_load((CRDS / "datasets.modelops.io.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    path = spec["properties"]["source"]["properties"]["pvc"]["properties"]["path"]

    [rule] = path["x-kubernetes-validations"]
    assert rule["message"].startswith("path must be a relative path inside the claim")
    assert "startsWith('/')" in rule["rule"] and "[.][.]" in rule["rule"]


def test_a_climbing_path_handed_straight_to_the_trainer_is_refused_before_anything_is_read(
    trainer: Trainer, store_uri: str, tmp_path: Path
) -> None:
    probe = prepare(trainer, store_uri, _pvc(ENVIRON), "--pvc-root", str(tmp_path / "mnt"))

    assert probe.run.returncode == EXIT_BAD_INPUT
    error = error_of(probe)
    assert "spec.source.pvc.path" in error and "relative path inside the claim" in error
    assert SECRET not in error and SECRET not in probe.run.stdout + probe.run.stderr


def test_a_symlink_in_the_claim_that_points_at_the_environment_is_refused_without_leaking_it(
    trainer: Trainer, store_uri: str, tmp_path: Path
) -> None:
    claim = tmp_path / "mnt" / "data"
    claim.mkdir(parents=True)
    (claim / "rows.csv").symlink_to("/proc/self/environ")

    probe = prepare(trainer, store_uri, _pvc("rows.csv"), "--pvc-root", str(tmp_path / "mnt"))

    assert probe.run.returncode == EXIT_BAD_INPUT
    assert error_of(probe) == "spec.source.pvc.path: the path leaves its mount; refusing to read it"
    assert SECRET not in probe.run.stdout + probe.run.stderr


def test_a_csv_outside_the_claim_is_not_stored_as_a_dataset(trainer: Trainer, store_uri: str, tmp_path: Path) -> None:
    outside = tmp_path / "other-tenant" / "rows.csv"
    outside.parent.mkdir()
    pd.DataFrame({"x": range(50), "label": [i % 2 for i in range(50)]}).to_csv(outside, index=False)
    claim = tmp_path / "mnt" / "data"
    claim.mkdir(parents=True)
    (claim / "rows.csv").symlink_to(outside)

    probe = prepare(trainer, store_uri, _pvc("rows.csv"), "--pvc-root", str(tmp_path / "mnt"))

    assert probe.run.returncode == EXIT_BAD_INPUT
    assert not (tmp_path / "store").exists() or not list((tmp_path / "store").rglob("data.parquet"))


def test_a_file_inside_the_claim_is_still_read(trainer: Trainer, store_uri: str, tmp_path: Path) -> None:
    claim = tmp_path / "mnt" / "data" / "2026"
    claim.mkdir(parents=True)
    pd.DataFrame({"x": range(50), "label": [i % 2 for i in range(50)]}).to_csv(claim / "rows.csv", index=False)

    ok = prepare(trainer, store_uri, _pvc("2026/./rows.csv"), "--pvc-root", str(tmp_path / "mnt"))

    assert ok.run.returncode == EXIT_OK, ok.run.stderr
    assert ok.run.result["rows"] == 50


def _secret_csv(tmp_path: Path) -> Path:
    """A file whose header and cells are the secret, mounted as a ConfigMap key."""
    path = tmp_path / "cm" / "rows.csv"
    path.parent.mkdir()
    pd.DataFrame({SECRET: [SECRET, "b"] * 30, "label": ["yes", "no"] * 30}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ({"target": "absent"}, "spec.target: column 'absent' is not in the data (2 columns)"),
        ({"features": ["absent"], "target": "label"}, "spec.features: columns not in the data: ['absent']"),
        (
            {"target": "label", "validation": {"columns": [{"name": SECRET, "allowedValues": ["b"]}]}},
            "has 30 values outside the allowed set",
        ),
        (
            {"target": "label", "validation": {"columns": [{"name": "label", "allowedValues": ["no"]}]}},
            "validation.columns[label].allowedValues: column 'label' has 30 values outside the allowed set",
        ),
    ],
)
def test_errors_name_the_check_the_column_and_a_count_never_a_value(
    trainer: Trainer, store_uri: str, tmp_path: Path, spec: dict[str, object], names: str
) -> None:
    path = _secret_csv(tmp_path)
    full = {"source": {"configMap": {"name": "cm", "key": path.name}}, "cleaning": {"dropDuplicates": False}, **spec}

    probe = prepare(trainer, store_uri, full, "--source-dir", str(path.parent))

    assert probe.run.returncode == EXIT_BAD_INPUT
    error = error_of(probe)
    assert names in error
    assert "'b'" not in error and "'yes'" not in error
    if SECRET not in json.dumps(spec):  # a column the spec itself names may be named back
        assert SECRET not in error


def test_a_parse_error_does_not_quote_the_file(trainer: Trainer, store_uri: str, tmp_path: Path) -> None:
    path = tmp_path / "cm" / "rows.csv"
    path.parent.mkdir()
    path.write_text(f"a,b\n1,2\n{SECRET},{SECRET},{SECRET}\n")
    spec = {"source": {"configMap": {"name": "cm", "key": "rows.csv"}}}

    probe = prepare(trainer, store_uri, spec, "--source-dir", str(path.parent))

    assert probe.run.returncode == EXIT_BAD_INPUT
    assert error_of(probe) == "source configMap:cm/rows.csv is not valid CSV (ParserError at line 3)"
