"""Child manifests: pure builders, checked field by field where Kubernetes or the trainer depends on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from modelops.api.common import ModelVersion
from modelops.api.modeldeployment import DriftMonitoring
from modelops.api.objects import ModelDeployment
from modelops.api.trainingrun import TrainingRunSpec
from modelops.contract.jobs import MIN_PREPARE_MEMORY_BYTES, PrepareJobArgs, PrepareLimits, SourceLimits, TrainJobArgs
from modelops.operator import naming
from modelops.operator.builders.deployment import serving_contract, serving_deployment
from modelops.operator.builders.hpa import quantity, serving_hpa
from modelops.operator.builders.jobs import prepare_job, train_job
from modelops.operator.builders.pdb import serving_pdb
from modelops.operator.builders.secret import serving_secret
from modelops.operator.builders.service import endpoint, serving_service
from modelops.operator.builders.trainingrun import retraining_run
from modelops.operator.naming import JobRun
from modelops.operator.settings import OperatorSettings
from modelops.serving.settings import ServingSettings
from modelops.trainer.cli import build_parser, prepare_args, train_args

from .operator_objects import MODEL_URI, dataset, model_deployment, training_run

DS_SPEC: dict[str, Any] = {"source": {"builtin": {"name": "iris"}}, "target": "target"}
TR_SPEC: dict[str, Any] = {"datasetRef": {"name": "iris"}, "model": {"algorithm": "random_forest"}}
MODEL = ModelVersion(uri=MODEL_URI, version="0123456789abcdef", run="rf")
MD_SPEC: dict[str, Any] = {"model": {"uri": MODEL_URI}}


def container_of(manifest: dict[str, Any]) -> dict[str, Any]:
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    return dict(container)


def test_prepare_job_is_named_after_generation_and_run_and_owned_by_the_dataset(settings: OperatorSettings) -> None:
    job = prepare_job(dataset("iris", DS_SPEC), JobRun(3, 2), settings)
    assert job["metadata"]["name"] == "iris-prepare-3-2"
    (ref,) = job["metadata"]["ownerReferences"]
    assert ref == {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "Dataset",
        "name": "iris",
        "uid": "uid-iris",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert job["metadata"]["labels"]["modelops.io/component"] == "prepare"
    assert job["metadata"]["labels"]["modelops.io/dataset"] == "iris"


def test_jobs_never_retry_bad_input_and_do_not_count_disruptions(settings: OperatorSettings) -> None:
    spec = prepare_job(dataset("iris", DS_SPEC), JobRun(1, 0), settings)["spec"]
    rules = spec["podFailurePolicy"]["rules"]
    assert rules[0] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "trainer", "operator": "In", "values": [2]},
    }
    assert rules[1]["action"] == "Ignore"
    assert spec["backoffLimit"] == settings.job_backoff_limit
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_job_pods_are_locked_down_with_a_writable_tmp(settings: OperatorSettings) -> None:
    pod = prepare_job(dataset("iris", DS_SPEC), JobRun(1, 0), settings)["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["runAsUser"] == 10001  # the Dockerfile's USER
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    (tmp,) = [v for v in pod["spec"]["volumes"] if v["name"] == "tmp"]
    # Sources are streamed to /tmp: room for the largest the limits allow, no more.
    assert int(tmp["emptyDir"]["sizeLimit"]) > settings.source_limits.max_bytes
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert pod["metadata"]["labels"]["extra"] == "yes"  # MODELOPS_JOB_POD_LABELS


def test_pvc_store_is_mounted_where_its_uri_points(settings: OperatorSettings) -> None:
    pod = prepare_job(dataset("iris", DS_SPEC), JobRun(1, 0), settings)["spec"]["template"]
    assert {"name": "store", "persistentVolumeClaim": {"claimName": "models"}} in pod["spec"]["volumes"]
    assert {"name": "store", "mountPath": "/data/store"} in pod["spec"]["containers"][0]["volumeMounts"]


def test_s3_store_gets_endpoint_and_credentials_from_env(settings: OperatorSettings) -> None:
    s3 = settings.model_copy(
        update={"store": "s3://bucket/prefix", "store_s3_endpoint": "http://minio:9000", "store_s3_secret": "creds"}
    )
    container = container_of(serving_deployment(model_deployment("m", MD_SPEC), MODEL, s3))
    assert {"name": "AWS_ENDPOINT_URL", "value": "http://minio:9000"} in container["env"]
    assert container["envFrom"] == [{"secretRef": {"name": "creds"}}]


def test_the_trainer_parses_the_prepare_jobs_command_line_back_into_the_same_arguments(
    settings: OperatorSettings,
) -> None:
    ds = dataset("iris", {**DS_SPEC, "cleaning": {"outliers": {"method": "iqr"}}, "refreshInterval": "1h"})
    container = container_of(prepare_job(ds, JobRun(1, 0), settings))
    assert container["command"] == ["python", "-m", "modelops.trainer"]

    received = prepare_args(build_parser().parse_args(container["args"]))

    assert received == PrepareJobArgs(namespace="ns", name="iris", store=settings.store, spec=ds.spec)


def test_prepare_jobs_get_the_source_limits_the_operator_was_given(
    settings: OperatorSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELOPS_SOURCE_ALLOWED_HOSTS", "10.0.0.0/8,data.internal")
    monkeypatch.setenv("MODELOPS_SOURCE_MAX_BYTES", "1048576")
    limited = settings.model_copy(update={"source_limits": SourceLimits.from_env()})
    environment = {
        e["name"]: e["value"] for e in container_of(prepare_job(dataset("iris", DS_SPEC), JobRun(1, 0), limited))["env"]
    }

    assert SourceLimits.from_env(environment) == limited.source_limits
    assert environment["MODELOPS_SOURCE_ALLOWED_HOSTS"] == "10.0.0.0/8,data.internal"


@pytest.mark.parametrize(
    ("limit", "budget"), [("4Gi", 2 * 1024**3), ("2Gi", 1024**3), ("700Mi", MIN_PREPARE_MEMORY_BYTES)]
)
def test_prepare_works_within_half_the_memory_limit_of_its_job(
    settings: OperatorSettings, limit: str, budget: int
) -> None:
    ds = dataset("big", {**DS_SPEC, "resources": {"limits": {"memory": limit}}})
    container = container_of(prepare_job(ds, JobRun(1, 0), settings))
    environment = {e["name"]: e["value"] for e in container["env"]}

    assert container["resources"]["limits"]["memory"] == limit
    assert PrepareLimits.from_env(environment).memory_bytes == budget  # what the trainer's CLI reads


def test_only_train_jobs_mount_the_signing_key_and_serving_pods_get_the_public_keys(
    settings: OperatorSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    signing = settings.model_copy(update={"signing_key_secret": "model-signing", "signing_public_keys": "model-keys"})
    train = train_job(training_run("rf", TR_SPEC), "v1", signing)
    prepare = prepare_job(dataset("iris", DS_SPEC), JobRun(1, 0), signing)

    assert {"name": "signing", "secret": {"secretName": "model-signing", "defaultMode": 0o440}} in train["spec"][
        "template"
    ]["spec"]["volumes"]
    assert train_args(build_parser().parse_args(container_of(train)["args"])).signing_key == (
        "/etc/modelops/signing/private.pem"
    )
    assert "signing" not in str(prepare["spec"]["template"]["spec"]["volumes"])
    received = served_settings(model_deployment("iris", MD_SPEC), signing, monkeypatch)
    assert (received.signing_public_key, received.signature_required) == ("/etc/modelops/verify", True)


def test_the_trainer_parses_the_train_jobs_command_line_back_into_the_same_arguments(
    settings: OperatorSettings,
) -> None:
    tr = training_run("rf", {**TR_SPEC, "resources": {"requests": {"cpu": "2"}}, "tuning": {"parameters": {"a": [1]}}})
    job = train_job(tr, "abc", settings)
    assert job["metadata"]["name"] == "rf-train-1"

    received = train_args(build_parser().parse_args(container_of(job)["args"]))

    assert received.dataset_version == "abc"
    pinned = tr.spec.model_copy(update={"dataset_ref": tr.spec.dataset_ref.model_copy(update={"version": "abc"})})
    assert received == TrainJobArgs(
        namespace="ns", name="rf", store=settings.store, dataset="iris", dataset_version="abc", spec=pinned
    )


def test_spec_resources_win_over_defaults(settings: OperatorSettings) -> None:
    tr = training_run("rf", {**TR_SPEC, "resources": {"requests": {"cpu": "2"}}})
    resources = container_of(train_job(tr, "v", settings))["resources"]
    assert resources == {"requests": {"cpu": "2"}, "limits": settings.job_resources.limits}


def test_configmap_source_is_mounted_where_the_trainer_reads_it(settings: OperatorSettings) -> None:
    ds = dataset("d", {"source": {"configMap": {"name": "csv", "key": "data.csv"}}})
    mounts = container_of(prepare_job(ds, JobRun(1, 0), settings))["volumeMounts"]
    assert {"name": "source", "mountPath": "/etc/modelops/source", "readOnly": True} in mounts


def test_serving_deployment_rolls_without_downtime_and_leaves_replicas_to_the_hpa(settings: OperatorSettings) -> None:
    spec = serving_deployment(model_deployment("iris", MD_SPEC), MODEL, settings)["spec"]
    assert "replicas" not in spec
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python", "-m", "modelops.serving"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert pod["metadata"]["labels"]["modelops.io/model-version"] == "0123456789abcdef"
    assert spec["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def served_settings(
    md: ModelDeployment, settings: OperatorSettings, monkeypatch: pytest.MonkeyPatch
) -> ServingSettings:
    """What the real server parses from the environment the operator gives its container."""
    secrets = {(naming.serving_secret_name(md.name), naming.FEEDBACK_KEY): "k" * 32}
    for name, value in pod_environment(container_of(serving_deployment(md, MODEL, settings)), secrets).items():
        monkeypatch.setenv(name, value)
    return ServingSettings()


def pod_environment(container: dict[str, Any], secrets: dict[tuple[str, str], str]) -> dict[str, str]:
    """The container's environment as a kubelet resolves it (Secret keys from `secrets`, by (name, key))."""
    resolved = {}
    for item in container["env"]:
        if "value" in item:
            resolved[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            resolved[item["name"]] = secrets[(ref["name"], ref["key"])]
    return resolved


MONITORING: dict[str, Any] = {
    "drift": {"method": "ks", "threshold": 0.3, "window": 400},
    "performance": {"metric": "f1", "min": 0.9, "window": 60},
}


@pytest.mark.parametrize(
    ("field", "read"),
    [
        ("drift.method", lambda s: s.drift.method),
        ("drift.threshold", lambda s: s.drift.threshold),
        ("drift.window", lambda s: s.drift.window),
        ("performance.metric", lambda s: s.performance.metric),
        ("performance.min", lambda s: s.performance.min),
        ("performance.window", lambda s: s.feedback_window),
    ],
)
def test_each_monitoring_field_of_the_spec_reaches_the_servers_settings(
    field: str, read: Callable[[Any], Any], settings: OperatorSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    section, key = field.split(".")
    md = model_deployment("iris", {**MD_SPEC, "monitoring": MONITORING})

    assert read(served_settings(md, settings, monkeypatch)) == MONITORING[section][key]


def test_the_server_serves_the_model_deployments_name_at_the_uri_it_was_given(
    settings: OperatorSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    received = served_settings(model_deployment("iris", MD_SPEC), settings, monkeypatch)

    assert (received.model_uri, received.model_name) == (MODEL_URI, "iris")  # not the TrainingRun's name
    assert received.drift == DriftMonitoring() and received.performance is None
    # The key that signs prediction ids comes from the ModelDeployment's Secret, never as a plain value.
    assert received.feedback_key is not None and received.feedback_key.get_secret_value() == "k" * 32
    ports = container_of(serving_deployment(model_deployment("iris", MD_SPEC), MODEL, settings))["ports"]
    assert {p["name"]: p["containerPort"] for p in ports} == {"http": received.port, "grpc": received.grpc_port}


def test_the_served_name_stays_the_model_deployments_whatever_model_it_serves(settings: OperatorSettings) -> None:
    md = model_deployment("iris", MD_SPEC)
    retrained = ModelVersion(uri=f"{MODEL_URI[:-16]}fedcba9876543210", version="fedcba9876543210", run="iris-retrain-1")

    names = {serving_contract(md, model, settings).model_name for model in (MODEL, retrained)}

    assert names == {"iris"}


def test_a_new_model_changes_the_pod_template_but_not_the_selector(settings: OperatorSettings) -> None:
    md = model_deployment("iris", MD_SPEC)
    other = ModelVersion(uri=f"{MODEL_URI[:-16]}fedcba9876543210", version="fedcba9876543210")
    one, two = serving_deployment(md, MODEL, settings), serving_deployment(md, other, settings)
    assert one["spec"]["template"] != two["spec"]["template"]
    assert one["spec"]["selector"] == two["spec"]["selector"]


def test_service_maps_http_and_grpc_to_the_servers_named_ports_and_names_the_endpoint() -> None:
    md = model_deployment("iris", MD_SPEC)
    assert serving_service(md)["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
        {"name": "grpc", "port": 8081, "targetPort": "grpc", "protocol": "TCP"},
    ]
    assert endpoint(md) == "http://iris.ns.svc.cluster.local/v2/models/iris"


def test_hpa_scales_on_the_serving_request_rate() -> None:
    md = model_deployment(
        "iris",
        {
            **MD_SPEC,
            "replicas": {"min": 2, "max": 5},
            "autoscaling": {"metric": "requestsPerSecond", "target": 50},
        },
    )
    spec = serving_hpa(md)["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 5)
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "iris"}
    assert spec["metrics"] == [
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "modelops_requests_per_second"},
                "target": {"type": "AverageValue", "averageValue": "50"},
            },
        }
    ]


def test_hpa_uses_cpu_when_asked_or_when_no_autoscaling_is_given() -> None:
    cpu = model_deployment("m", {**MD_SPEC, "autoscaling": {"metric": "cpu", "target": 70}})
    assert serving_hpa(cpu)["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert serving_hpa(model_deployment("m", MD_SPEC))["spec"]["metrics"][0]["type"] == "Resource"


def test_fractional_targets_are_milli_quantities() -> None:
    assert (quantity(0.25), quantity(3.0), quantity(1.5)) == ("250m", "3", "1500m")


def test_pdb_keeps_one_pod_with_several_replicas_and_allows_a_drain_with_one() -> None:
    many = model_deployment("m", {**MD_SPEC, "replicas": {"min": 2, "max": 3}})
    one = model_deployment("m", {**MD_SPEC, "replicas": {"min": 1, "max": 3}})
    assert serving_pdb(many)["spec"]["minAvailable"] == 1
    assert serving_pdb(one)["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in serving_pdb(one)["spec"]


def test_a_retraining_run_carries_the_template_and_who_started_it_why() -> None:
    md = model_deployment("iris", {**MD_SPEC, "retraining": {"policy": "OnDrift", "template": TR_SPEC}})
    run = retraining_run(md, name="iris-retrain-1", reason="drift psi=0.4 > 0.2")
    assert TrainingRunSpec.model_validate(run["spec"]) == TrainingRunSpec.model_validate(TR_SPEC)
    assert run["metadata"]["labels"]["modelops.io/retrain-of"] == "iris"
    assert run["metadata"]["annotations"]["modelops.io/retrain-reason"] == "drift psi=0.4 > 0.2"
    assert run["metadata"]["ownerReferences"][0]["kind"] == "ModelDeployment"


def test_the_serving_secret_holds_the_key_the_pods_read_and_belongs_to_the_model_deployment() -> None:
    md = model_deployment("iris", MD_SPEC)
    secret = serving_secret(md, "a" * 64)
    assert secret["metadata"]["name"] == naming.serving_secret_name("iris")
    assert secret["stringData"] == {naming.FEEDBACK_KEY: "a" * 64}
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "uid-iris"
