"""Child manifests: pure builders, checked field by field where Kubernetes or the trainer depends on it."""

from __future__ import annotations

import json

from modelops.operator.builders.deployment import serving_deployment
from modelops.operator.builders.hpa import quantity, serving_hpa
from modelops.operator.builders.jobs import prepare_job, train_job
from modelops.operator.builders.pdb import serving_pdb
from modelops.operator.builders.service import endpoint, serving_service
from modelops.operator.settings import OperatorSettings

from .operator_objects import owner

DS_SPEC = {"source": {"builtin": {"name": "iris"}}, "target": "target"}
TR_SPEC = {"datasetRef": {"name": "iris"}, "model": {"algorithm": "random_forest"}}


def test_prepare_job_is_named_after_generation_and_run_and_owned_by_the_dataset(settings: OperatorSettings) -> None:
    job = prepare_job(owner("Dataset", "iris", DS_SPEC), generation=3, run=2, settings=settings)
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
    spec = prepare_job(owner("Dataset", "iris", DS_SPEC), generation=1, run=0, settings=settings)["spec"]
    rules = spec["podFailurePolicy"]["rules"]
    assert rules[0] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "trainer", "operator": "In", "values": [2]},
    }
    assert rules[1]["action"] == "Ignore"
    assert spec["backoffLimit"] == settings.job_backoff_limit
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_job_pods_are_locked_down_with_a_writable_tmp(settings: OperatorSettings) -> None:
    pod = prepare_job(owner("Dataset", "iris", DS_SPEC), generation=1, run=0, settings=settings)["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {}} in pod["spec"]["volumes"]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert pod["metadata"]["labels"]["extra"] == "yes"  # MODELOPS_JOB_POD_LABELS


def test_pvc_store_is_mounted_where_its_uri_points(settings: OperatorSettings) -> None:
    pod = prepare_job(owner("Dataset", "iris", DS_SPEC), generation=1, run=0, settings=settings)["spec"]["template"]
    assert {"name": "store", "persistentVolumeClaim": {"claimName": "models"}} in pod["spec"]["volumes"]
    assert {"name": "store", "mountPath": "/data/store"} in pod["spec"]["containers"][0]["volumeMounts"]


def test_s3_store_gets_endpoint_and_credentials_from_env(settings: OperatorSettings) -> None:
    s3 = settings.model_copy(
        update={"store": "s3://bucket/prefix", "store_s3_endpoint": "http://minio:9000", "store_s3_secret": "creds"}
    )
    container = serving_deployment(
        owner("ModelDeployment", "m", {"model": {"uri": "s3://b/m/1"}}),
        model_uri="s3://b/m/1",
        model_version="1",
        settings=s3,
    )["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "AWS_ENDPOINT_URL", "value": "http://minio:9000"} in container["env"]
    assert container["envFrom"] == [{"secretRef": {"name": "creds"}}]


def test_job_runs_the_trainer_with_the_whole_spec_and_the_store(settings: OperatorSettings) -> None:
    job = train_job(
        owner("TrainingRun", "rf", TR_SPEC), generation=1, dataset="iris", dataset_version="abc", settings=settings
    )
    container = job["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert container["command"] == ["python", "-m", "modelops.trainer"]
    assert args[:5] == ["train", "--name", "rf", "--store", "pvc:///data/store"]
    assert args[args.index("--dataset") + 1] == "iris@abc"
    assert json.loads(args[args.index("--spec-json") + 1]) == TR_SPEC
    assert job["metadata"]["name"] == "rf-train-1"


def test_spec_resources_win_over_defaults(settings: OperatorSettings) -> None:
    spec = {**TR_SPEC, "resources": {"requests": {"cpu": "2"}}}
    job = train_job(owner("TrainingRun", "rf", spec), generation=1, dataset="d", dataset_version="v", settings=settings)
    resources = job["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "2"}, "limits": settings.job_resources["limits"]}


def test_configmap_source_is_mounted_where_the_trainer_reads_it(settings: OperatorSettings) -> None:
    spec = {"source": {"configMap": {"name": "csv", "key": "data.csv"}}}
    pod = prepare_job(owner("Dataset", "d", spec), generation=1, run=0, settings=settings)["spec"]["template"]["spec"]
    assert {"name": "source", "mountPath": "/etc/modelops/source", "readOnly": True} in pod["containers"][0][
        "volumeMounts"
    ]


def test_serving_deployment_rolls_without_downtime_and_leaves_replicas_to_the_hpa(settings: OperatorSettings) -> None:
    md = owner("ModelDeployment", "iris", {"model": {"uri": "pvc:///data/store/models/iris/v1"}})
    dep = serving_deployment(md, model_uri="pvc:///data/store/models/iris/v1", model_version="v1", settings=settings)
    spec = dep["spec"]
    assert "replicas" not in spec
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python", "-m", "modelops.serving"]
    assert {"name": "MODEL_URI", "value": "pvc:///data/store/models/iris/v1"} in container["env"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert spec["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def test_a_terminating_serving_pod_keeps_serving_until_the_service_has_dropped_it(settings: OperatorSettings) -> None:
    md = owner("ModelDeployment", "iris", {"model": {"uri": "file:///m/1"}})
    dep = serving_deployment(md, model_uri="file:///m/1", model_version="1", settings=settings)
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    delay = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert 0 < delay < dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]


def test_a_new_model_changes_the_pod_template_but_not_the_selector(settings: OperatorSettings) -> None:
    md = owner("ModelDeployment", "iris", {"model": {"uri": "file:///m/1"}})
    one = serving_deployment(md, model_uri="file:///m/1", model_version="1", settings=settings)
    two = serving_deployment(md, model_uri="file:///m/2", model_version="2", settings=settings)
    assert one["spec"]["template"] != two["spec"]["template"]
    assert one["spec"]["selector"] == two["spec"]["selector"]


def test_service_maps_port_80_to_the_server_and_names_the_endpoint() -> None:
    md = owner("ModelDeployment", "iris", {"model": {"uri": "file:///m/1"}})
    assert serving_service(md)["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]
    assert endpoint(md) == "http://iris.ns.svc.cluster.local/v2/models/iris"


def test_hpa_scales_on_the_serving_request_rate() -> None:
    md = owner(
        "ModelDeployment",
        "iris",
        {
            "model": {"uri": "file:///m"},
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
    cpu = owner("ModelDeployment", "m", {"model": {"uri": "file:///m"}, "autoscaling": {"metric": "cpu", "target": 70}})
    assert serving_hpa(cpu)["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    none = owner("ModelDeployment", "m", {"model": {"uri": "file:///m"}})
    assert serving_hpa(none)["spec"]["metrics"][0]["type"] == "Resource"


def test_fractional_targets_are_milli_quantities() -> None:
    assert (quantity(0.25), quantity(3.0), quantity(1.5)) == ("250m", "3", "1500m")


def test_pdb_keeps_one_pod_with_several_replicas_and_allows_a_drain_with_one() -> None:
    many = owner("ModelDeployment", "m", {"model": {"uri": "file:///m"}, "replicas": {"min": 2, "max": 3}})
    one = owner("ModelDeployment", "m", {"model": {"uri": "file:///m"}, "replicas": {"min": 1, "max": 3}})
    assert serving_pdb(many)["spec"]["minAvailable"] == 1
    assert serving_pdb(one)["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in serving_pdb(one)["spec"]
