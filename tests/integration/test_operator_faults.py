"""The operator under faults: killed mid-reconcile, children deleted or edited, missing references, bad input."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from modelops.contract.serving import ENV_PREFIX
from modelops.testing import ProcessKubelet
from modelops.testing.waiting import apply_objects, get_object, has_phase, patch_status, status_of, wait_for

pytestmark = pytest.mark.integration
Kubectl = Callable[..., Any]


def condition(obj_status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in obj_status.get("conditions") or [] if c["type"] == type_), {})


def events_of(kubectl: Kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    items = json.loads(kubectl("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
    return [e for e in items if e["involvedObject"]["name"] == name]


MODEL_URI_ENV = f"{ENV_PREFIX}MODEL_URI"


def serving_env(kubectl: Kubectl, namespace: str, name: str = "iris") -> dict[str, str]:
    """The environment the serving Deployment's container is given."""
    dep = get_object(kubectl, namespace, "deployment", name) or {}
    env = dep.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])[0].get("env", [])
    return {e["name"]: e.get("value") for e in env}


def model_uri_of(kubectl: Kubectl, namespace: str, name: str = "iris") -> str | None:
    """The model URI the serving Deployment's container is told."""
    return serving_env(kubectl, namespace, name).get(MODEL_URI_ENV)


def stored(operator: Any, namespace: str, name: str, version: str = "0123456789abcdef") -> str:
    """The URI of a model version in the namespace's part of the operator's store."""
    return f"file://{operator.store}/{namespace}/models/{name}/{version}"


def dataset(name: str, **spec: Any) -> dict[str, Any]:
    body = {"source": {"builtin": {"name": "iris"}}, "target": "target", **spec}
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "Dataset", "metadata": {"name": name}, "spec": body}


def served(name: str, model: dict[str, Any], **spec: Any) -> dict[str, Any]:
    body = {"model": model, "replicas": {"min": 1, "max": 2}, **spec}
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": name}, "spec": body}


def test_killed_operator_restarts_without_duplicate_jobs(
    kubectl: Kubectl, namespace: str, operator: Any, process_kubelet: ProcessKubelet
) -> None:
    apply_objects(kubectl, namespace, dataset("iris"))
    wait_for(
        "the prepare Job", lambda: get_object(kubectl, namespace, "job", "iris-prepare-1-0"), alive=operator.exited
    )
    operator.kill()  # before or while it records the Job in the status
    operator.start()

    wait_for(
        "Dataset Ready",
        has_phase(kubectl, namespace, "dataset", "iris", "Ready"),
        alive=operator.exited,
    )
    jobs = json.loads(kubectl("get", "jobs", "-n", namespace, "-o", "json").stdout)["items"]
    assert [j["metadata"]["name"] for j in jobs] == ["iris-prepare-1-0"]
    assert len(process_kubelet.runs) == 1
    assert "Traceback" not in operator.logs()


def test_bad_input_fails_once_with_the_trainers_reason(
    kubectl: Kubectl, namespace: str, operator: Any, process_kubelet: ProcessKubelet
) -> None:
    apply_objects(kubectl, namespace, dataset("broken", target="no_such_column"))

    wait_for("Dataset Failed", has_phase(kubectl, namespace, "dataset", "broken", "Failed"), alive=operator.exited)
    st = status_of(kubectl, namespace, "dataset", "broken")
    ready = condition(st, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "BadInput")
    assert "no_such_column" in ready["message"]
    job = get_object(kubectl, namespace, "job", "broken-prepare-1-0")
    assert job is not None
    assert job["status"].get("failed") == 1  # exit code 2: the podFailurePolicy failed the Job at once
    assert [r.exit_code for r in process_kubelet.runs.values()] == [2]
    warnings = [e for e in events_of(kubectl, namespace, "broken") if e["type"] == "Warning"]
    assert [e["reason"] for e in warnings] == ["BadInput"]


def test_missing_references_wait_with_a_reason_and_no_error_spam(
    kubectl: Kubectl, namespace: str, operator: Any
) -> None:
    run = {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "orphan"},
        "spec": {"datasetRef": {"name": "missing"}, "model": {"algorithm": "logistic_regression"}},
    }
    apply_objects(kubectl, namespace, run, served("nomodel", {"trainingRunRef": {"name": "missing-run"}}))

    wait_for("WaitingForData", has_phase(kubectl, namespace, "tr", "orphan", "WaitingForData"))
    wait_for("Pending", has_phase(kubectl, namespace, "md", "nomodel", "Pending"))
    time.sleep(4)  # a few resyncs (1 s in the tests)
    tr = status_of(kubectl, namespace, "tr", "orphan")
    assert condition(tr, "Ready")["reason"] == "DatasetNotFound"
    assert condition(tr, "DataReady")["reason"] == "DatasetNotFound"
    md = status_of(kubectl, namespace, "md", "nomodel")
    assert condition(md, "Ready")["reason"] == "TrainingRunNotFound"
    assert "missing-run" in condition(md, "Ready")["message"]
    assert get_object(kubectl, namespace, "deployment", "nomodel") is None
    # One Event per transition, not one per resync; no tracebacks, no retries logged as errors.
    assert len(events_of(kubectl, namespace, "orphan")) == 1
    assert len(events_of(kubectl, namespace, "nomodel")) == 1
    logs = operator.logs()
    assert "Traceback" not in logs
    assert "failed with an exception" not in logs


@pytest.mark.parametrize("operator", ["cluster"], indirect=True)
def test_cluster_wide_operator_with_a_cluster_role_serves_any_namespace(
    kubectl: Kubectl, namespace: str, operator: Any
) -> None:
    apply_objects(kubectl, namespace, served("m", {"uri": stored(operator, namespace, "m")}))
    wait_for("Ready", has_phase(kubectl, namespace, "md", "m", "Ready"), alive=operator.exited)
    assert "namespaces=all" in operator.logs()


def test_deleted_or_edited_children_are_put_back(kubectl: Kubectl, namespace: str, operator: Any) -> None:
    uri = stored(operator, namespace, "iris")
    apply_objects(kubectl, namespace, served("iris", {"uri": uri}))
    first = wait_for(
        "the Deployment", lambda: get_object(kubectl, namespace, "deployment", "iris"), alive=operator.exited
    )
    wait_for("Ready", has_phase(kubectl, namespace, "md", "iris", "Ready"), alive=operator.exited)

    kubectl("delete", "deployment", "iris", "-n", namespace, "--wait=false")
    again = wait_for(
        "a new Deployment",
        lambda: (
            (d := get_object(kubectl, namespace, "deployment", "iris"))
            and d["metadata"]["uid"] != first["metadata"]["uid"]
        ),
        alive=operator.exited,
    )
    assert again

    kubectl("set", "env", "deployment/iris", "-n", namespace, f"{MODEL_URI_ENV}=file:///somewhere/else")

    wait_for("the model URI put back", lambda: model_uri_of(kubectl, namespace) == uri, alive=operator.exited)
    kubectl("delete", "service", "iris", "-n", namespace)
    wait_for("the Service back", lambda: get_object(kubectl, namespace, "service", "iris"), alive=operator.exited)

    kubectl("delete", "md", "iris", "-n", namespace)  # the garbage collector takes every child with it
    for kind in ("deployment", "service", "hpa", "pdb"):

        def collected(kind: str = kind) -> bool:
            return get_object(kubectl, namespace, kind, "iris") is None

        wait_for(f"{kind} collected", collected, alive=operator.exited)


def test_training_run_spec_is_immutable_once_training_started(kubectl: Kubectl, namespace: str) -> None:
    run = {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "pinned"},
        "spec": {"datasetRef": {"name": "d"}, "model": {"algorithm": "logistic_regression"}},
    }
    apply_objects(kubectl, namespace, run)
    patch = json.dumps({"spec": {"model": {"algorithm": "random_forest"}}})
    kubectl("patch", "tr", "pinned", "-n", namespace, "--type=merge", "-p", patch)  # still Pending: allowed
    started = json.dumps({"status": {"phase": "Running"}})
    kubectl("patch", "tr", "pinned", "-n", namespace, "--subresource=status", "--type=merge", "-p", started)

    change = patch.replace("random_forest", "svm")
    refused = kubectl("patch", "tr", "pinned", "-n", namespace, "--type=merge", "-p", change, check=False)
    assert refused.returncode != 0
    assert "spec is immutable once training has started" in refused.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_liveness_and_metrics_endpoints_answer(kubectl: Kubectl, namespace: str, operator: Any) -> None:
    import urllib.request

    live, prom = _free_port(), _free_port()
    operator.stop()
    operator.extra_env = {
        "MODELOPS_LIVENESS_ENDPOINT": f"http://127.0.0.1:{live}/healthz",
        "MODELOPS_METRICS_PORT": str(prom),
    }
    operator.start()
    apply_objects(kubectl, namespace, served("m", {"uri": stored(operator, namespace, "m")}))
    wait_for("Ready", has_phase(kubectl, namespace, "md", "m", "Ready"), alive=operator.exited)

    def body(url: str) -> str:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    wait_for("liveness", lambda: _answers(body, f"http://127.0.0.1:{live}/healthz"), alive=operator.exited, timeout=20)
    metrics = body(f"http://127.0.0.1:{prom}/metrics")
    assert 'modelops_operator_reconciles_total{kind="ModelDeployment",result="ok"}' in metrics
    assert "modelops_operator_reconcile_duration_seconds_bucket" in metrics


def _answers(body: Callable[[str], str], url: str) -> bool:
    try:
        body(url)
    except OSError:
        return False
    return True


def test_a_new_model_rolls_out_and_from_latest_follows_the_newest_run(
    kubectl: Kubectl, namespace: str, operator: Any
) -> None:
    for name, finished in (("rf-1", "2026-01-01T00:00:00Z"), ("rf-2", "2026-01-02T00:00:00Z")):
        run = {
            "apiVersion": "modelops.io/v1alpha1",
            "kind": "TrainingRun",
            "metadata": {"name": name, "labels": {"app": "iris"}},
            "spec": {"datasetRef": {"name": "iris"}, "model": {"algorithm": "random_forest"}},
        }
        apply_objects(kubectl, namespace, run)
        done = {
            "phase": "Succeeded",
            "observedGeneration": 1,
            "completionTime": finished,
            "model": {"uri": stored(operator, namespace, name), "version": name},
        }
        patch_status(kubectl, namespace, "tr", name, done)
    apply_objects(kubectl, namespace, served("iris", {"fromLatest": {"matchLabels": {"app": "iris"}}}))
    wait_for(
        "Ready on rf-2",
        lambda: status_of(kubectl, namespace, "md", "iris").get("model", {}).get("run") == "rf-2",
        alive=operator.exited,
    )

    patch = json.dumps({"spec": {"model": {"fromLatest": None, "trainingRunRef": {"name": "rf-1"}}}})
    kubectl("patch", "md", "iris", "-n", namespace, "--type=merge", "-p", patch)
    wait_for(
        "rolled to rf-1",
        lambda: status_of(kubectl, namespace, "md", "iris").get("model", {}).get("run") == "rf-1",
        alive=operator.exited,
    )
    dep = get_object(kubectl, namespace, "deployment", "iris")
    assert dep is not None
    env = {e["name"]: e.get("value") for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env[MODEL_URI_ENV] == stored(operator, namespace, "rf-1")
    assert dep["metadata"]["generation"] >= 2  # the pod template changed: a rolling update, same Deployment
    history = status_of(kubectl, namespace, "md", "iris")["history"]
    # The watch may show rf-1 a moment before rf-2's status arrives: the last two promotions tell the story.
    assert [h["run"] for h in history][-2:] == ["rf-2", "rf-1"]
    assert "Promoted" in [e["reason"] for e in events_of(kubectl, namespace, "iris")]


DRIFTING = """\
# TYPE modelops_drift_score gauge
modelops_drift_score{method="psi"} 0.45
# TYPE modelops_drift_psi gauge
modelops_drift_psi{feature="petal_length"} 0.45
"""


@contextmanager
def fake_serving_metrics(operator: Any, text: list[str]) -> Iterator[None]:
    """Serve ``text[0]`` (changeable during the test) as every pod's /metrics, and point the operator at it."""

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(text[0].encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        operator.stop()
        operator.extra_env = {
            "MODELOPS_MONITORING_URL": f"http://127.0.0.1:{server.server_port}/{{namespace}}/{{service}}"
        }
        operator.start()
        yield
    finally:
        server.shutdown()


def test_drift_starts_a_retraining_and_the_passed_run_is_promoted(
    kubectl: Kubectl, namespace: str, operator: Any
) -> None:
    with fake_serving_metrics(operator, [DRIFTING]):
        template = {"datasetRef": {"name": "iris"}, "model": {"algorithm": "random_forest"}}
        md = served(
            "iris",
            {"uri": stored(operator, namespace, "iris")},
            monitoring={"interval": "1s", "drift": {"method": "psi", "threshold": 0.2}},
            retraining={"policy": "OnDrift", "template": template, "cooldown": "1h"},
        )
        apply_objects(kubectl, namespace, md)

        wait_for(
            "a retraining run", lambda: get_object(kubectl, namespace, "tr", "iris-retrain-1"), alive=operator.exited
        )
        st = wait_for(
            "retraining status",
            lambda: status_of(kubectl, namespace, "md", "iris").get("retraining"),
            alive=operator.exited,
        )
        assert st["run"] == "iris-retrain-1" and "drift psi=0.450" in st["reason"]
        monitoring = status_of(kubectl, namespace, "md", "iris")["monitoring"]
        assert monitoring["driftScore"] == 0.45 and monitoring["driftedFeatures"] == ["petal_length"]
        assert "Retraining" in [e["reason"] for e in events_of(kubectl, namespace, "iris")]

        # The run passes its gates (its status written here instead of training): it is promoted.
        retrained = stored(operator, namespace, "r", "fedcba9876543210")
        done = {"phase": "Succeeded", "observedGeneration": 1, "model": {"uri": retrained, "version": "2"}}
        patch_status(kubectl, namespace, "tr", "iris-retrain-1", done)
        wait_for(
            "promoted",
            lambda: status_of(kubectl, namespace, "md", "iris").get("model", {}).get("version") == "2",
            alive=operator.exited,
        )
        time.sleep(2)  # within the cooldown: no second run despite the drift
        runs = json.loads(kubectl("get", "tr", "-n", namespace, "-o", "json").stdout)["items"]
        assert [r["metadata"]["name"] for r in runs] == ["iris-retrain-1"]


def test_refresh_runs_a_new_job_and_keeps_the_version_when_content_is_unchanged(
    kubectl: Kubectl, namespace: str, operator: Any, process_kubelet: ProcessKubelet
) -> None:
    apply_objects(kubectl, namespace, dataset("iris", refreshInterval="3s"))
    wait_for(
        "the refresh Job", lambda: get_object(kubectl, namespace, "job", "iris-prepare-1-1"), alive=operator.exited
    )
    first = status_of(kubectl, namespace, "dataset", "iris")
    assert first["phase"] == "Ready"  # still Ready while it refreshes

    def refreshed() -> bool:
        events = [e["reason"] for e in events_of(kubectl, namespace, "iris")]
        return "Unchanged" in events

    wait_for("the refresh recorded", refreshed, alive=operator.exited)
    st = status_of(kubectl, namespace, "dataset", "iris")
    assert st["phase"] == "Ready" and st["version"] == first["version"]
    assert len(st["versions"]) == 1


def test_a_schedule_starts_one_retraining_per_cron_tick_without_metrics(
    kubectl: Kubectl, namespace: str, operator: Any
) -> None:
    template = {"datasetRef": {"name": "iris"}, "model": {"algorithm": "random_forest"}}
    retraining = {"policy": "Schedule", "schedule": "* * * * *", "template": template, "cooldown": "0s"}
    apply_objects(
        kubectl, namespace, served("iris", {"uri": stored(operator, namespace, "iris")}, retraining=retraining)
    )

    # the first minute tick after creation: at most 60 s away
    run = wait_for(
        "a scheduled run",
        lambda: get_object(kubectl, namespace, "tr", "iris-retrain-1"),
        alive=operator.exited,
        timeout=90,
    )
    st = status_of(kubectl, namespace, "md", "iris")["retraining"]
    assert st["run"] == "iris-retrain-1" and st["reason"].startswith("schedule '* * * * *': due at ")
    assert run["spec"]["model"]["algorithm"] == "random_forest"
    (started,) = [e for e in events_of(kubectl, namespace, "iris") if e["reason"] == "Retraining"]
    assert started["type"] == "Normal"
    time.sleep(3)  # resyncs every second: the same tick must not start a second run
    runs = json.loads(kubectl("get", "tr", "-n", namespace, "-o", "json").stdout)["items"]
    assert [r["metadata"]["name"] for r in runs] == ["iris-retrain-1"]


def live_accuracy(value: float) -> str:
    return f"# TYPE modelops_live_accuracy gauge\nmodelops_live_accuracy {value}\n"


def test_a_promoted_model_that_does_worse_is_rolled_back_to_the_previous_one(
    kubectl: Kubectl, namespace: str, operator: Any
) -> None:
    metrics = [live_accuracy(0.75)]
    with fake_serving_metrics(operator, metrics):
        template = {"datasetRef": {"name": "iris"}, "model": {"algorithm": "random_forest"}}
        md = served(
            "iris",
            {"uri": stored(operator, namespace, "iris")},
            monitoring={"interval": "1s", "performance": {"metric": "accuracy", "min": 0.8}},
            retraining={"policy": "OnDegradation", "template": template, "cooldown": "1h", "rollback": True},
        )
        apply_objects(kubectl, namespace, md)
        st = wait_for(
            "retraining", lambda: status_of(kubectl, namespace, "md", "iris").get("retraining"), alive=operator.exited
        )
        assert st["baseline"] == 0.75

        metrics[0] = live_accuracy(0.9)  # the new model does better at first: it stays
        retrained = stored(operator, namespace, "r", "fedcba9876543210")
        done = {"phase": "Succeeded", "observedGeneration": 1, "model": {"uri": retrained, "version": "2"}}
        patch_status(kubectl, namespace, "tr", "iris-retrain-1", done)
        wait_for("promoted", lambda: model_uri_of(kubectl, namespace) == retrained, alive=operator.exited)
        # Served under the ModelDeployment's name, whichever model: the endpoint never moves.
        assert serving_env(kubectl, namespace)[f"{ENV_PREFIX}MODEL_NAME"] == "iris"

        metrics[0] = live_accuracy(0.6)  # then below the minimum
        wait_for(
            "rolled back",
            lambda: model_uri_of(kubectl, namespace) == stored(operator, namespace, "iris"),
            alive=operator.exited,
        )
        status = status_of(kubectl, namespace, "md", "iris")
        assert status["retraining"]["rolledBack"] is True and status["model"]["version"] == "0123456789abcdef"
        assert serving_env(kubectl, namespace)[f"{ENV_PREFIX}MODEL_NAME"] == "iris"
        (event,) = [e for e in events_of(kubectl, namespace, "iris") if e["reason"] == "RolledBack"]
        assert event["type"] == "Warning" and "accuracy=0.600 of iris-retrain-1" in event["message"]
