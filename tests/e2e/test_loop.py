"""The closed loop on the real node: drift → retraining → promotion → rollout, then a worse model
promoted and rolled back from the live accuracy its clients report, under continuous traffic.

ModelDeployment ``iris-loop`` serves a decision tree on iris with ``retraining.policy: OnDrift``;
the operator reads the serving metrics from the cluster's Prometheus. The test only acts as the
world would:

1. the clients' inputs shift (every feature +3): the operator sees the drift, starts a TrainingRun
   from the template, which runs as a container, and promotes it; the rollout drops no request;
2. the Dataset's source is replaced by one whose labels are shuffled (a broken upstream): the next
   retraining, once the cooldown has passed, trains on it, passes its offline gate (the template
   sets none) and is promoted;
3. the inputs are back to normal and the clients send the true labels of what they asked to
   ``/feedback``: the live accuracy of that model falls under ``performance.min`` and the operator
   rolls it back on its own.

Every step is read from ``kubectl`` (status, history, Events) and from the ``model_version`` of the
answers; the reaction times go to the session's figures.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from subprocess import CompletedProcess
from typing import Any

import pytest

from modelops.testing.localcluster import LocalCluster
from modelops.testing.waiting import apply_objects, has_phase, status_of, wait_for
from modelops.trainer.sources import load_builtin

from .iris import dataset, training_run
from .load import ServiceLoad, service_url

pytestmark = pytest.mark.e2e

Kubectl = Callable[..., CompletedProcess[str]]
NAMESPACE = "loop"
MODEL = "iris-loop"
SHIFT = 3.0
# Longer than a retraining takes to be trained and rolled out here, so the next one starts after it.
COOLDOWN = "60s"
MONITORING_INTERVAL = "5s"
MIN_ACCURACY = 0.7
DRIFT_THRESHOLD = 0.2


def model_deployment() -> dict[str, Any]:
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": MODEL},
        "spec": {
            "model": {"trainingRunRef": {"name": "iris-tree"}},
            "replicas": {"min": 2, "max": 2},
            "resources": {"requests": {"cpu": "50m", "memory": "200Mi"}, "limits": {"memory": "512Mi"}},
            "monitoring": {
                "interval": MONITORING_INTERVAL,
                "drift": {"method": "psi", "threshold": DRIFT_THRESHOLD, "window": 300},
                "performance": {"metric": "accuracy", "min": MIN_ACCURACY, "window": 30},
            },
            "retraining": {
                "policy": "OnDrift",
                "cooldown": COOLDOWN,
                "template": {
                    "datasetRef": {"name": "iris"},
                    "task": "classification",
                    "model": {"algorithm": "decision_tree", "hyperparameters": {"max_depth": 3}},
                },
            },
        },
    }


def shuffled_iris() -> dict[str, Any]:
    """iris with its labels shuffled: what a broken upstream would deliver, in a ConfigMap."""
    frame = load_builtin("iris")
    frame["target"] = frame["target"].sample(frac=1.0, random_state=3).to_numpy()
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "iris-shuffled"},
        "data": {"iris.csv": frame.to_csv(index=False)},
    }


def requests_of(shift: float = 0.0) -> tuple[dict[str, Any], list[str]]:
    """A /predict body of every iris row (each feature + ``shift``) and their true labels.

    All of them: a smaller sample alone would already differ from the training data by chance. In
    a fixed shuffled order: iris is sorted by class, so the live accuracy's window (the last
    ``performance.window`` labelled rows) would otherwise see one class only.
    """
    frame = load_builtin("iris").sample(frac=1.0, random_state=0)
    features = (frame.drop(columns="target") + shift).round(3).to_numpy().tolist()
    return {"instances": features}, frame["target"].tolist()


def events(kubectl: Kubectl) -> list[dict[str, Any]]:
    selector = f"involvedObject.name={MODEL},involvedObject.kind=ModelDeployment"
    items = json.loads(kubectl("get", "events", "-n", NAMESPACE, "--field-selector", selector, "-o", "json").stdout)
    return sorted(items["items"], key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")


def md_status(kubectl: Kubectl) -> dict[str, Any]:
    return status_of(kubectl, NAMESPACE, "md", MODEL)


def promoted_version(kubectl: Kubectl, run: str) -> str | None:
    """The version of ``run``'s model once the ModelDeployment has promoted it (it stays in the history)."""
    return next((e["version"] for e in md_status(kubectl).get("history") or [] if e.get("run") == run), None)


def serving_run(kubectl: Kubectl, run: str) -> bool:
    """``run``'s model is the one served, rolled out on every replica."""
    status = md_status(kubectl)
    return status.get("phase") == "Ready" and (status.get("model") or {}).get("run") == run


@pytest.fixture(scope="module")
def served(cluster: LocalCluster, kubectl: Kubectl, operator: str) -> dict[str, Any]:
    apply_objects(
        kubectl, NAMESPACE, dataset(), shuffled_iris(), training_run("iris-tree", "decision_tree", {"max_depth": 2})
    )
    wait_for("iris-tree Succeeded", has_phase(kubectl, NAMESPACE, "tr", "iris-tree", "Succeeded"), timeout=600)
    apply_objects(kubectl, NAMESPACE, model_deployment())
    wait_for(f"{MODEL} Ready", has_phase(kubectl, NAMESPACE, "md", MODEL, "Ready"), timeout=300)
    return md_status(kubectl)


def test_drift_retrains_and_promotes_then_a_worse_model_is_rolled_back_from_live_accuracy(
    cluster: LocalCluster, kubectl: Kubectl, served: dict[str, Any], figures: dict[str, dict[str, Any]]
) -> None:
    first = served["model"]["version"]
    normal, _ = requests_of()
    shifted, _ = requests_of(SHIFT)
    labelled, labels = requests_of()
    times: dict[str, float] = {}

    with ServiceLoad(cluster.network, service_url(kubectl, NAMESPACE, MODEL)) as load:
        load.phase("normal", workers=1, pause=0.2, body=normal)
        monitored = wait_for(
            "a drift score",
            lambda: (md_status(kubectl).get("monitoring") or {}).get("driftScore") is not None,
            timeout=120,
        ) and md_status(kubectl)
        # in-distribution traffic: read, under the threshold, and nothing started
        assert monitored["monitoring"]["driftScore"] < DRIFT_THRESHOLD, monitored["monitoring"]
        assert monitored.get("retraining") is None

        # 1. drift → a retraining, promoted and rolled out
        load.phase("shifted", workers=2, pause=0.2, body=shifted)
        start = time.monotonic()
        retraining = wait_for(
            "a retraining on drift", lambda: (md_status(kubectl).get("retraining") or {}).get("run"), timeout=180
        )
        times["drift_to_retraining_s"] = time.monotonic() - start
        wait_for(f"{retraining} pinned its data", lambda: status_of(kubectl, NAMESPACE, "tr", retraining).get(
            "datasetVersion"), timeout=120)  # fmt: skip
        # 2. the upstream breaks: the Dataset now reads shuffled labels (the running retraining has its version)
        patch = {"spec": {"source": {"builtin": None, "configMap": {"name": "iris-shuffled", "key": "iris.csv"}}}}
        kubectl("patch", "datasets", "iris", "-n", NAMESPACE, "--type=merge", "-p", json.dumps(patch))
        wait_for(f"{retraining} served", lambda: serving_run(kubectl, retraining), timeout=600)
        times["retraining_to_served_s"] = time.monotonic() - start - times["drift_to_retraining_s"]
        second = md_status(kubectl)["model"]["version"]

        # the drift goes on: after the cooldown, the next retraining trains on the broken data
        worse = wait_for(
            "the next retraining",
            lambda: (run := (md_status(kubectl).get("retraining") or {}).get("run")) != retraining and run,
            timeout=600,
        )
        # 3. the shift is over and the clients report the truth. (Were the inputs still shifted, the
        # worse model's pods would see drift too, and once the cooldown passed a third retraining
        # would replace it before its live accuracy was judged.)
        load.phase("feedback", workers=2, pause=0.2, body=labelled, labels=labels)
        # Promoted, not "served": the feedback already judges the new pods while the rollout finishes,
        # so the rollback can follow the last replica within milliseconds, between two polls.
        third = wait_for(f"{worse} promoted", lambda: promoted_version(kubectl, worse), timeout=600)
        promoted = time.monotonic()
        try:
            wait_for(
                "the rollback",
                lambda: (md_status(kubectl).get("retraining") or {}).get("rolledBack"),
                timeout=300,
            )
        except AssertionError as e:
            status = md_status(kubectl)
            seen = {key: status.get(key) for key in ("model", "monitoring", "retraining")}
            raise AssertionError(f"{e}; status: {json.dumps(seen)}; load: {json.dumps(load.stop())}") from e
        times["promoted_to_rolled_back_s"] = time.monotonic() - promoted
        wait_for(f"{second} served again", lambda: serving_run(kubectl, retraining), timeout=300)
        times["promoted_to_previous_served_s"] = time.monotonic() - promoted
        time.sleep(3)  # a few answers from the restored model
        phases = load.stop()

    status = md_status(kubectl)
    assert len({first, second, third}) == 3
    assert status["model"]["version"] == second
    assert status["retraining"]["restored"]["version"] == second
    # every model that served, the restored one again last
    assert [entry["version"] for entry in status["history"]][-4:] == [first, second, third, second]
    assert status_of(kubectl, NAMESPACE, "tr", worse)["phase"] == "Succeeded"  # it passed its offline gate
    reasons = [event["reason"] for event in events(kubectl)]
    assert reasons.count("Retraining") >= 2 and "RolledBack" in reasons, reasons
    assert {"Promoted"} <= set(reasons), reasons
    # the answers: the first model, the retrained one, the worse one, then the retrained one again
    assert set(phases["normal"]["versions"]) == {first}
    assert {first, second} <= set(phases["shifted"]["versions"])
    feedback = phases["feedback"]["versions"]
    assert third in feedback, feedback
    assert feedback[second]["last"] > feedback[third]["last"], feedback
    assert [phase["failed"] for phase in phases.values()] == [0, 0, 0], phases
    figures["loop"] = {
        **{name: round(seconds, 1) for name, seconds in times.items()},
        "requests": sum(phase["sent"] for phase in phases.values()),
        "failed": sum(phase["failed"] for phase in phases.values()),
        "monitoring_interval": MONITORING_INTERVAL,
        "cooldown": COOLDOWN,
    }
