"""The API server itself accepts the examples and refuses invalid custom resources, naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from modelops.testing import ControlPlane

pytestmark = pytest.mark.integration

# examples/gitops/ holds Argo CD and Flux objects, checked against their CRDs in test_gitops_manifests.py.
EXAMPLES = sorted(
    path for path in (Path(__file__).resolve().parents[2] / "examples").rglob("*.yaml") if path.parent.name != "gitops"
)
API = "apiVersion: modelops.io/v1alpha1"


def _apply(control_plane: ControlPlane, namespace: str, manifest: str) -> tuple[int, str]:
    result = control_plane.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=manifest, check=False)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_every_example_is_accepted_by_server_side_apply(
    control_plane: ControlPlane, namespace: str, path: Path
) -> None:
    code, output = _apply(control_plane, namespace, path.read_text())
    assert code == 0, output


INVALID = {
    "missing required source": (
        f"{API}\nkind: Dataset\nmetadata: {{name: x}}\nspec: {{target: label}}",
        ["spec.source", "Required value"],
    ),
    "unknown builtin dataset": (
        f"{API}\nkind: Dataset\nmetadata: {{name: x}}\nspec: {{source: {{builtin: {{name: mnist}}}}}}",
        ["spec.source.builtin.name", "Unsupported value", '"mnist"'],
    ),
    "two data sources": (
        f"{API}\nkind: Dataset\nmetadata: {{name: x}}\n"
        "spec: {source: {builtin: {name: iris}, url: {url: 'https://h/d.csv'}}}",
        ["spec.source", "exactly one of builtin, url, s3, configMap, pvc must be set"],
    ),
    "negative minRows": (
        f"{API}\nkind: Dataset\nmetadata: {{name: x}}\n"
        "spec: {source: {builtin: {name: iris}}, validation: {minRows: -5}}",
        ["spec.validation.minRows", "should be greater than or equal to 1"],
    ),
    "constant fill without a value": (
        f"{API}\nkind: Dataset\nmetadata: {{name: x}}\n"
        "spec: {source: {builtin: {name: iris}}, cleaning: {missingValues: {strategy: constant}}}",
        ["spec.cleaning.missingValues", "fillValue is required when strategy is constant"],
    ),
    # Hostile inputs (#9.1): a source path may not leave its mount.
    "pvc path climbing out of the claim": (
        f"{API}\nkind: Dataset\nmetadata: {{name: x}}\n"
        "spec: {source: {pvc: {claimName: data, path: '../../../../../proc/self/environ'}}}",
        ["spec.source.pvc.path", "path must be a relative path inside the claim: no leading '/', no '..' segment"],
    ),
    "absolute pvc path": (
        f"{API}\nkind: Dataset\nmetadata: {{name: x}}\n"
        "spec: {source: {pvc: {claimName: data, path: /etc/passwd}}}",
        ["spec.source.pvc.path", "path must be a relative path inside the claim"],
    ),
    "configMap key that climbs": (
        f"{API}\nkind: Dataset\nmetadata: {{name: x}}\nspec: {{source: {{configMap: {{name: cm, key: '..'}}}}}}",
        ["spec.source.configMap.key", "key must name a file in the ConfigMap"],
    ),
    "url that is not http": (
        f"{API}\nkind: Dataset\nmetadata: {{name: x}}\nspec: {{source: {{url: {{url: 'ftp://h/d.csv'}}}}}}",
        ["spec.source.url.url", "should match"],
    ),
    "unknown algorithm": (
        f"{API}\nkind: TrainingRun\nmetadata: {{name: x}}\n"
        "spec: {datasetRef: {name: d}, model: {algorithm: xgboost}}",
        ["spec.model.algorithm", "Unsupported value", '"xgboost"'],
    ),
    "splits not summing to one": (
        f"{API}\nkind: TrainingRun\nmetadata: {{name: x}}\n"
        "spec: {datasetRef: {name: d}, model: {algorithm: svm}, split: {train: 0.8, validation: 0.2, test: 0.2}}",
        ["spec.split", "train + validation + test must sum to 1"],
    ),
    "unknown gate metric": (
        f"{API}\nkind: TrainingRun\nmetadata: {{name: x}}\n"
        "spec: {datasetRef: {name: d}, model: {algorithm: svm}, validation: {minMetrics: {acc: 0.9}}}",
        ["spec.validation.minMetrics", "minMetrics keys must be known metrics"],
    ),
    "model uri that names no model version": (
        f"{API}\nkind: ModelDeployment\nmetadata: {{name: x}}\nspec: {{model: {{uri: 's3://bucket/models/m'}}}}",
        ["spec.model.uri", "uri must name a model version: <store>/<namespace>/models/<name>/<16 hex digits>"],
    ),
    "min replicas above max": (
        f"{API}\nkind: ModelDeployment\nmetadata: {{name: x}}\n"
        "spec: {model: {uri: 's3://b/ns/models/m/0123456789abcdef'}, replicas: {min: 4, max: 2}}",
        ["spec.replicas", "replicas.min must be less than or equal to replicas.max"],
    ),
    "wrong type": (
        f"{API}\nkind: ModelDeployment\nmetadata: {{name: x}}\n"
        "spec: {model: {uri: 's3://b/ns/models/m/0123456789abcdef'}, replicas: {min: two}}",
        [".spec.replicas.min", "expected numeric (int or float), got string"],
    ),
    "two model sources": (
        f"{API}\nkind: ModelDeployment\nmetadata: {{name: x}}\n"
        "spec: {model: {uri: 's3://b/ns/models/m/0123456789abcdef', trainingRunRef: {name: r}}}",
        ["spec.model", "exactly one of trainingRunRef, fromLatest, uri must be set"],
    ),
    "retraining without a template": (
        f"{API}\nkind: ModelDeployment\nmetadata: {{name: x}}\n"
        "spec: {model: {uri: 's3://b/ns/models/m/0123456789abcdef'}, retraining: {policy: OnDrift}}",
        ["spec.retraining", "template is required unless policy is Never"],
    ),
    "cron schedule with three fields": (
        f"{API}\nkind: ModelDeployment\nmetadata: {{name: x}}\n"
        "spec: {model: {uri: 's3://b/ns/models/m/0123456789abcdef'}, retraining: {policy: Schedule, schedule: '0 * *',"
        " template: {datasetRef: {name: d}, model: {algorithm: ridge}}}}",
        ["spec.retraining.schedule", "should match"],
    ),
    "zero autoscaling target": (
        f"{API}\nkind: ModelDeployment\nmetadata: {{name: x}}\n"
        "spec: {model: {uri: 's3://b/ns/models/m/0123456789abcdef'}, autoscaling: {metric: cpu, target: 0}}",
        ["spec.autoscaling.target", "should be greater than 0"],
    ),
}


@pytest.mark.parametrize(("manifest", "expected"), INVALID.values(), ids=INVALID.keys())
def test_invalid_resource_is_refused_with_the_field_named(
    control_plane: ControlPlane, namespace: str, manifest: str, expected: list[str]
) -> None:
    code, output = _apply(control_plane, namespace, manifest)
    assert code != 0, f"accepted: {manifest}"
    for fragment in expected:
        assert fragment in output, output


def test_training_run_spec_is_immutable_once_training_started(control_plane: ControlPlane, namespace: str) -> None:
    run = (
        f"{API}\nkind: TrainingRun\nmetadata: {{name: r}}\nspec: {{datasetRef: {{name: d}}, model: {{algorithm: svm}}}}"
    )
    assert _apply(control_plane, namespace, run)[0] == 0
    # Still Pending: the spec may change.
    assert _apply(control_plane, namespace, run.replace("svm", "knn"))[0] == 0
    status = json.dumps({"status": {"phase": "Running"}})
    control_plane.kubectl("patch", "tr", "r", "-n", namespace, "--subresource=status", "--type=merge", "-p", status)
    code, output = _apply(control_plane, namespace, run.replace("svm", "ridge"))
    assert code != 0
    assert "spec is immutable once training has started" in output


def test_printer_columns_and_the_modelops_category(control_plane: ControlPlane, namespace: str) -> None:
    docs = [doc for path in EXAMPLES if "quickstart" in str(path) for doc in yaml.safe_load_all(path.read_text())]
    control_plane.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(docs))
    status = {"phase": "Ready", "version": "3f2a1c", "rows": 569}
    control_plane.kubectl(
        "patch", "datasets", "breast-cancer", "-n", namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": status}),
    )  # fmt: skip
    # `ds` alone is DaemonSet's short name, which kubectl prefers; `datasets` is unambiguous.
    listing = control_plane.kubectl("get", "datasets,tr,md", "-n", namespace).stdout
    for header in ("PHASE", "VERSION", "ROWS", "DATASET", "ALGORITHM", "SCORE", "MODEL", "READY", "ENDPOINT", "AGE"):
        assert header in listing, listing
    assert "3f2a1c" in listing and "569" in listing and "random_forest" in listing
    everything = control_plane.kubectl("get", "modelops", "-n", namespace).stdout
    for name in ("dataset.modelops.io/breast-cancer", "trainingrun.modelops.io/breast-cancer-rf",
                 "modeldeployment.modelops.io/breast-cancer"):  # fmt: skip
        assert name in everything, everything
