"""The whole loop on a real control plane: Dataset -> TrainingRun -> ModelDeployment, trainer run for real."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import tritonclient.grpc
import yaml

from modelops.artifacts.model_format import load_model
from modelops.testing import ControlPlane, ProcessKubelet
from modelops.testing.s3server import free_port
from modelops.testing.waiting import apply_objects, get_object, has_phase, status_of, wait_for
from modelops.trainer.sources import load_builtin

from .conftest import MANUAL_POD_SELECTOR

pytestmark = pytest.mark.integration


DATASET = {
    "apiVersion": "modelops.io/v1alpha1",
    "kind": "Dataset",
    "metadata": {"name": "iris"},
    "spec": {"source": {"builtin": {"name": "iris"}}, "target": "target"},
}
RUN = {
    "apiVersion": "modelops.io/v1alpha1",
    "kind": "TrainingRun",
    "metadata": {"name": "iris-lr", "labels": {"app": "iris"}},
    "spec": {"datasetRef": {"name": "iris"}, "task": "classification", "model": {"algorithm": "logistic_regression"}},
}
DEPLOYMENT = {
    "apiVersion": "modelops.io/v1alpha1",
    "kind": "ModelDeployment",
    "metadata": {"name": "iris"},
    "spec": {"model": {"trainingRunRef": {"name": "iris-lr"}}, "replicas": {"min": 2, "max": 3}},
}


def test_dataset_to_served_model_with_real_training(
    kubectl: Callable[..., Any], namespace: str, operator: Any, process_kubelet: ProcessKubelet
) -> None:
    apply_objects(kubectl, namespace, DATASET, RUN, DEPLOYMENT)

    wait_for("Dataset Ready", has_phase(kubectl, namespace, "dataset", "iris", "Ready"))
    ds = get_object(kubectl, namespace, "dataset", "iris")
    assert ds is not None
    assert ds["status"]["rows"] > 100 and ds["status"]["version"]
    assert ds["status"]["observedGeneration"] == ds["metadata"]["generation"]

    wait_for(
        "TrainingRun Succeeded",
        has_phase(kubectl, namespace, "trainingrun", "iris-lr", "Succeeded"),
    )
    run = get_object(kubectl, namespace, "trainingrun", "iris-lr")
    assert run is not None
    model = run["status"]["model"]
    assert model["uri"].startswith(f"file://{operator.store}/{namespace}/models/iris-lr/")
    assert run["status"]["datasetVersion"] == ds["status"]["version"]
    assert run["status"]["score"].startswith("accuracy=")

    wait_for(
        "ModelDeployment Ready",
        has_phase(kubectl, namespace, "modeldeployment", "iris", "Ready"),
    )
    md = get_object(kubectl, namespace, "modeldeployment", "iris")
    assert md is not None
    assert md["status"]["model"]["version"] == model["version"]
    assert md["status"]["endpoint"] == f"http://iris.{namespace}.svc.cluster.local/v2/models/iris"
    assert md["status"]["ready"] == "2/2"
    assert [h["version"] for h in md["status"]["history"]] == [model["version"]]

    uid = md["metadata"]["uid"]
    for kind in ("deployment", "service", "hpa", "pdb"):
        child = get_object(kubectl, namespace, kind, "iris")
        assert child is not None, kind
        (owner,) = child["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == ("ModelDeployment", uid, True)
    deployment = get_object(kubectl, namespace, "deployment", "iris")
    assert deployment is not None
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MODELOPS_SERVING_MODEL_URI"] == model["uri"]
    assert env["MODELOPS_SERVING_MODEL_NAME"] == "iris"

    # one prepare and one train pod ran, for real
    assert len(process_kubelet.runs) == 2
    assert all(r.exit_code == 0 for r in process_kubelet.runs.values())


QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


def _quick(doc: dict[str, Any]) -> dict[str, Any]:
    """The quick start as a user applies it, with only the tuning cut down for a 2-core test run."""
    if doc["kind"] == "TrainingRun":
        doc["spec"]["model"]["hyperparameters"]["n_estimators"] = 10
        doc["spec"]["tuning"]["maxTrials"] = 2
        doc["spec"]["tuning"]["cvFolds"] = 2
    return doc


def quickstart_docs() -> list[dict[str, Any]]:
    return [_quick(yaml.safe_load(p.read_text())) for p in sorted(QUICKSTART.glob("*.yaml"))]


def test_the_quickstart_model_answers_at_the_endpoint_its_status_advertises(
    kubectl: Callable[..., Any], namespace: str, operator: Any, control_plane: ControlPlane
) -> None:
    # The serving pod runs for real too: the ProcessKubelet runs every pod carrying the label.
    # All its processes share the loopback address, so the server gets a free port of its own.
    label = MANUAL_POD_SELECTOR.split("=")[0]
    operator.stop()
    operator.extra_env = {"MODELOPS_SERVING_POD_LABELS": json.dumps({label: "true"})}
    operator.start()
    port, grpc_port = free_port(), free_port()
    with ProcessKubelet(
        control_plane.kubeconfig,
        selector=MANUAL_POD_SELECTOR,
        namespace=namespace,
        executables={"python": sys.executable, "python3": sys.executable},
        overrides={
            "MODELOPS_SERVING_PORT": str(port),
            "MODELOPS_SERVING_GRPC_PORT": str(grpc_port),
            "MODELOPS_SERVING_HOST": "127.0.0.1",
        },
        timeout=300,
    ):
        kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(quickstart_docs()))
        wait_for(
            "ModelDeployment Ready",
            has_phase(kubectl, namespace, "md", "breast-cancer", "Ready"),
            timeout=240,
            alive=operator.exited,
        )
        status = status_of(kubectl, namespace, "md", "breast-cancer")
        path = urlsplit(status["endpoint"]).path
        server = f"http://127.0.0.1:{port}"
        wait_for("the server ready", lambda: _answers(f"{server}/v2/health/ready"), timeout=120)

        rows = load_builtin("breast_cancer").drop(columns=["target"]).head(5)
        body = {
            "inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP64", "data": rows.values.tolist()}]
        }
        answer = httpx.post(f"{server}{path}/infer", json=body, timeout=30)

        assert answer.status_code == 200, answer.text
        assert answer.json()["model_name"] == "breast-cancer"
        assert answer.json()["model_version"] == status["model"]["version"]
        assert answer.headers["modelops-model-version"] == status["model"]["version"]
        fitted = load_model(status["model"]["uri"]).pipeline
        assert answer.json()["outputs"][0]["data"] == fitted.predict(rows).tolist()

        # The same model over gRPC, on the port the pod was given, under the same name.
        with tritonclient.grpc.InferenceServerClient(f"127.0.0.1:{grpc_port}") as client:
            tensor = tritonclient.grpc.InferInput("input-0", list(rows.shape), "FP64")
            tensor.set_data_from_numpy(rows.to_numpy(dtype="float64"))
            served = client.infer("breast-cancer", [tensor]).as_numpy("predict")
        assert served is not None and [v.decode() for v in served] == fitted.predict(rows).tolist()

        # Feedback for the answer's ids counts: they were signed with the key of the ModelDeployment's Secret.
        ids = answer.json()["parameters"]["prediction_ids"]
        feedback = [{"prediction_id": i, "label": label} for i, label in zip(ids, fitted.predict(rows), strict=True)]
        scored = httpx.post(f"{server}/feedback", json={"feedback": feedback}, timeout=30)
        assert scored.status_code == 200 and scored.json()["accepted"] == len(ids), scored.text


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_quickstart_with_kubectl_reaches_ready_and_describe_tells_the_story(
    kubectl: Callable[..., Any], namespace: str, operator: Any, process_kubelet: ProcessKubelet
) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(quickstart_docs()))

    seen: dict[str, list[str]] = {}

    def all_ready() -> bool:
        out = kubectl(
            "get", "modelops", "-n", namespace, "--no-headers", "-o", "custom-columns=KIND:.kind,PHASE:.status.phase"
        ).stdout
        for line in out.splitlines():
            kind, phase = line.split()
            if not seen.get(kind) or seen[kind][-1] != phase:
                seen.setdefault(kind, []).append(phase)
        return bool(out.count("Ready") + out.count("Succeeded") == 3)

    wait_for("every quick-start object Ready", all_ready, timeout=150, interval=0.3)
    assert seen["Dataset"][-1] == "Ready"
    assert seen["TrainingRun"][-1] == "Succeeded"
    assert "Running" in seen["TrainingRun"]
    assert seen["ModelDeployment"][-1] == "Ready"

    table = kubectl("get", "modelops", "-n", namespace).stdout
    assert "breast-cancer-rf" in table and "f1_macro=" in table and "1/1" in table

    described = kubectl("describe", "modeldeployment", "breast-cancer", "-n", namespace).stdout
    assert "Events:" in described and "Serving" in described
    described = kubectl("describe", "trainingrun", "breast-cancer-rf", "-n", namespace).stdout
    assert "Training" in described and "Trained" in described
    described = kubectl("describe", "dataset", "breast-cancer", "-n", namespace).stdout
    assert "Preparing" in described and "Prepared" in described
