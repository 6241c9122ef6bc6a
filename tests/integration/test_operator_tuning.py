"""A hyperparameter search spread over the pods of an Indexed Job finds what one pod finds (real control plane)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from modelops.contract.trials import TuneResult
from modelops.testing import ProcessKubelet
from modelops.testing.waiting import apply_objects, get_object, has_phase, status_of, wait_for

pytestmark = pytest.mark.integration

DATASET = {
    "apiVersion": "modelops.io/v1alpha1",
    "kind": "Dataset",
    "metadata": {"name": "wine"},
    "spec": {"source": {"builtin": {"name": "wine"}}, "target": "target"},
}
SEARCH = {
    "strategy": "random",
    "parameters": {"max_depth": [2, 3, 4, None], "min_samples_leaf": [1, 2, 4], "max_features": [0.3, 1.0]},
    "maxTrials": 6,
    "cvFolds": 3,
}


def run(name: str, parallelism: int) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": name},
        "spec": {
            "datasetRef": {"name": "wine"},
            "model": {"algorithm": "random_forest", "hyperparameters": {"n_estimators": 10}},
            "split": {"seed": 7},
            "tuning": {**copy.deepcopy(SEARCH), "parallelism": parallelism},
        },
    }


def test_tuning_in_two_pods_gives_the_best_parameters_and_model_version_of_one(
    kubectl: Callable[..., Any], namespace: str, operator: Any, process_kubelet: ProcessKubelet
) -> None:
    apply_objects(kubectl, namespace, DATASET, run("wine-one", 1), run("wine-two", 2))
    wait_for(
        "the spread search tuning",
        lambda: status_of(kubectl, namespace, "trainingrun", "wine-two").get("jobName") == "wine-two-tune-1",
    )
    operator.kill()  # an operator dying while the pods tune: the new one finds its Jobs, makes none twice
    operator.start()
    progress: list[int] = []

    def two_succeeded() -> bool:
        status = status_of(kubectl, namespace, "trainingrun", "wine-two")
        if (trials := status.get("trials")) and (not progress or progress[-1] != trials["done"]):
            progress.append(trials["done"])
        return status.get("phase") == "Succeeded"

    wait_for("the spread search Succeeded", two_succeeded, timeout=240, interval=0.3, alive=operator.exited)
    wait_for("the one-pod search Succeeded", has_phase(kubectl, namespace, "trainingrun", "wine-one", "Succeeded"))
    one = status_of(kubectl, namespace, "trainingrun", "wine-one")
    two = status_of(kubectl, namespace, "trainingrun", "wine-two")

    assert two["bestHyperparameters"] == one["bestHyperparameters"]
    assert two["model"]["version"] == one["model"]["version"]
    assert two["metrics"] == one["metrics"] and two["score"] == one["score"]
    assert one["trials"] == two["trials"] == {"done": 6, "total": 6}
    assert progress == sorted(progress) and set(progress) <= {0, 3, 6}, progress  # shard by shard, never back

    tune = get_object(kubectl, namespace, "job", "wine-two-tune-1")
    assert tune is not None
    assert (tune["spec"]["completionMode"], tune["spec"]["completions"]) == ("Indexed", 2)
    assert tune["status"]["succeeded"] == 2 and tune["status"]["completedIndexes"] == "0,1"
    jobs = kubectl("get", "jobs", "-n", namespace, "-o", "jsonpath={.items[*].metadata.name}").stdout.split()
    assert sorted(jobs) == ["wine-one-train-1", "wine-prepare-1-0", "wine-two-train-1", "wine-two-tune-1"]

    # Each of the Indexed Job's pods scored the shard of its own index, as the Job controller told it.
    pods = json.loads(kubectl("get", "pods", "-n", namespace, "-l", "job-name=wine-two-tune-1", "-o", "json").stdout)
    shards = {}
    for pod in pods["items"]:
        (container,) = pod["status"]["containerStatuses"]
        result = TuneResult.model_validate_json(container["state"]["terminated"]["message"])
        shards[int(pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"])] = result
    assert {index: (r.shard, r.shards, r.trials) for index, r in shards.items()} == {0: (0, 2, 3), 1: (1, 2, 3)}

    described = kubectl("describe", "trainingrun", "wine-two", "-n", namespace).stdout
    for reason in ("Tuning", "Training", "Trained"):
        assert reason in described
    assert all(r.exit_code == 0 for r in process_kubelet.runs.values())
    assert len(process_kubelet.runs) == 5  # prepare; train; two tune pods and the final train
