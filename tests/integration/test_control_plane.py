"""The integration harness is a working cluster: rollouts, Jobs, RBAC, a process kubelet, clean teardown."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

from modelops.testing import ControlPlane, ControlPlaneError, ProcessKubelet
from modelops.testing.waiting import apply_objects, wait_for

pytestmark = pytest.mark.integration

Kubectl = Callable[..., CompletedProcess[str]]
# the manual_pod_selector of the session's control plane (tests/integration/conftest.py)
MANUAL_POD_SELECTOR = "modelops.io/run-locally=true"

MANUAL_LABEL = dict([MANUAL_POD_SELECTOR.split("=", 1)])
WRITE_OK = "import os; open(os.environ['TERMINATION_MESSAGE_PATH'], 'w').write('{\"ok\":1}')"


def get(kubectl: Kubectl, *args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def job(name: str, command: list[str], labels: dict[str, str] | None = None, **pod_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels or {}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "modelops:test", "command": command}],
                    **pod_spec,
                },
            },
        },
    }


def job_pods(kubectl: Kubectl, namespace: str, job_name: str) -> list[dict[str, Any]]:
    return list(get(kubectl, "pods", "-n", namespace, "-l", f"job-name={job_name}")["items"])


def job_pod(kubectl: Kubectl, namespace: str, job_name: str) -> dict[str, Any]:
    pods = job_pods(kubectl, namespace, job_name)
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    return pods[0]


def control_plane_processes(marker: str) -> list[int]:
    """Pids of live (non-zombie) processes whose command line mentions ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z" and int(entry.name) != os.getpid():
            pids.append(int(entry.name))
    return pids


def test_starts_fast_with_ready_kwok_nodes(control_plane: ControlPlane, kubectl: Kubectl) -> None:
    assert control_plane.startup_seconds is not None
    print(f"control plane started in {control_plane.startup_seconds}s: {control_plane.timings}")
    assert control_plane.startup_seconds < 60
    nodes = get(kubectl, "nodes")["items"]
    ready = [
        n["metadata"]["name"]
        for n in nodes
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
    ]
    assert sorted(ready) == control_plane.node_names
    assert all(n["status"]["allocatable"]["pods"] == "110" for n in nodes)
    version = json.loads(kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == "v1.36.3"


def test_deployment_becomes_available_on_distinct_nodes(kubectl: Kubectl, namespace: str) -> None:
    labels = {"app": "web"}
    apply_objects(
        kubectl,
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [{"name": "web", "image": "modelops:test"}],
                        "topologySpreadConstraints": [
                            {
                                "maxSkew": 1,
                                "topologyKey": "kubernetes.io/hostname",
                                "whenUnsatisfiable": "DoNotSchedule",
                                "labelSelector": {"matchLabels": labels},
                            }
                        ],
                    },
                },
            },
        },
    )
    kubectl("wait", "-n", namespace, "--for=condition=Available", "deployment/web", "--timeout=60s")
    deployment = get(kubectl, "deployment", "web", "-n", namespace)
    assert deployment["status"]["readyReplicas"] == 2
    pods = get(kubectl, "pods", "-n", namespace, "-l", "app=web")["items"]
    assert {p["status"]["phase"] for p in pods} == {"Running"}
    assert len({p["spec"]["nodeName"] for p in pods}) == 2


def test_job_completes_on_kwok(kubectl: Kubectl, namespace: str) -> None:
    # kwok completes Job pods without running anything: this command would fail if it ran.
    apply_objects(kubectl, namespace, job("fake-work", ["python", "-c", "raise SystemExit(1)"]))
    kubectl("wait", "-n", namespace, "--for=condition=Complete", "job/fake-work", "--timeout=60s")
    assert get(kubectl, "job", "fake-work", "-n", namespace)["status"]["succeeded"] == 1


def test_garbage_collection_follows_owner_references(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "configmap", "owner", "-n", namespace)
    owner_uid = get(kubectl, "configmap", "owner", "-n", namespace)["metadata"]["uid"]
    apply_objects(
        kubectl,
        namespace,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "child",
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_uid}],
            },
        },
    )
    kubectl("delete", "configmap", "owner", "-n", namespace)
    wait_for(
        "the child to be garbage-collected",
        lambda: kubectl("get", "configmap", "child", "-n", namespace, check=False).returncode != 0,
    )


def test_rbac_is_enforced_for_service_accounts(control_plane: ControlPlane, kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "serviceaccount", "reader", "-n", namespace)
    as_reader = control_plane.kubeconfig_as("reader", namespace)
    denied = kubectl("get", "pods", "-n", namespace, kubeconfig=as_reader, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    kubectl("create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", namespace)
    kubectl(
        "create",
        "rolebinding",
        "reader",
        "--role=pod-reader",
        f"--serviceaccount={namespace}:reader",
        "-n",
        namespace,
    )
    wait_for(
        "RBAC to allow the reader",
        lambda: kubectl("get", "pods", "-n", namespace, kubeconfig=as_reader, check=False).returncode == 0,
        timeout=10,
    )
    assert kubectl("get", "pods", "-A", kubeconfig=as_reader, check=False).returncode != 0


def test_manual_pod_is_left_to_the_process_kubelet(
    control_plane: ControlPlane, kubectl: Kubectl, namespace: str
) -> None:
    apply_objects(kubectl, namespace, job("train", ["python", "-c", WRITE_OK], labels=MANUAL_LABEL))
    wait_for(
        "the pod to be scheduled",
        lambda: [p for p in job_pods(kubectl, namespace, "train") if p["spec"].get("nodeName")],
    )
    time.sleep(2)  # kwok would have made it Running by now if it were not excluded
    pod = job_pod(kubectl, namespace, "train")
    assert pod["status"]["phase"] == "Pending"
    assert not pod["status"].get("containerStatuses")

    with ProcessKubelet(
        control_plane.kubeconfig,
        selector=MANUAL_POD_SELECTOR,
        namespace=namespace,
        executables={"python": sys.executable},
    ) as kubelet:
        run = kubelet.wait_for(namespace, pod["metadata"]["name"], timeout=60)
        kubectl("wait", "-n", namespace, "--for=condition=Complete", "job/train", "--timeout=60s")
    assert run.exit_code == 0 and run.argv[0] == sys.executable
    assert kubelet.errors == []
    assert get(kubectl, "job", "train", "-n", namespace)["status"]["succeeded"] == 1
    pod = job_pod(kubectl, namespace, "train")
    assert pod["status"]["phase"] == "Succeeded"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0
    assert terminated["reason"] == "Completed"
    assert terminated["message"] == '{"ok":1}'
    assert terminated["startedAt"] and terminated["finishedAt"]


def test_failing_process_fails_the_pod_with_its_exit_code(
    process_kubelet: ProcessKubelet, kubectl: Kubectl, namespace: str
) -> None:
    script = "import sys; print('boom'); sys.exit(3)"
    manifest = job("fail", ["python", "-c", script], labels=MANUAL_LABEL)
    manifest["spec"]["template"]["spec"]["containers"][0]["terminationMessagePolicy"] = "FallbackToLogsOnError"
    apply_objects(kubectl, namespace, manifest)
    kubectl("wait", "-n", namespace, "--for=condition=Failed", "job/fail", "--timeout=60s")
    pod = job_pod(kubectl, namespace, "fail")
    assert pod["status"]["phase"] == "Failed"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 3
    assert terminated["reason"] == "Error"
    assert terminated["message"].strip() == "boom"  # FallbackToLogsOnError


def test_process_kubelet_resolves_env_and_termination_message_path_argument(
    process_kubelet: ProcessKubelet, kubectl: Kubectl, namespace: str
) -> None:
    script = textwrap.dedent(
        """
        import json, os, sys
        path = sys.argv[sys.argv.index('--termination-message-path') + 1]
        keys = ('POD_NAME', 'POD_NAMESPACE', 'GREETING', 'FROM_CM')
        json.dump({k: os.environ[k] for k in keys} | {'arg': sys.argv[-1]}, open(path, 'w'))
        """
    )
    kubectl("create", "configmap", "settings", "--from-literal=level=debug", "-n", namespace)
    manifest = job(
        "env",
        ["python", "-c", script, "--termination-message-path", "/dev/termination-log", "$(GREETING)"],
        labels=MANUAL_LABEL,
    )
    manifest["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "GREETING", "value": "hello-$(POD_NAMESPACE)"},
        {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "level"}}},
    ]
    apply_objects(kubectl, namespace, manifest)
    kubectl("wait", "-n", namespace, "--for=condition=Complete", "job/env", "--timeout=60s")
    pod = job_pod(kubectl, namespace, "env")
    message = json.loads(pod["status"]["containerStatuses"][0]["state"]["terminated"]["message"])
    assert message == {
        "POD_NAME": pod["metadata"]["name"],
        "POD_NAMESPACE": namespace,
        "GREETING": f"hello-{namespace}",
        "FROM_CM": "debug",
        "arg": f"hello-{namespace}",
    }


@pytest.mark.slow
def test_teardown_leaves_no_processes_even_on_exceptions() -> None:
    with pytest.raises(RuntimeError, match="boom"), ControlPlane(nodes=1) as cp:
        marker = str(cp.dir)
        pids = cp.pids
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
        assert set(control_plane_processes(marker)) >= set(pids.values())
        raise RuntimeError("boom")
    assert control_plane_processes(marker) == []
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids.values())
    assert not Path(marker).exists()


def test_failed_start_reports_the_failing_component_log() -> None:
    cp = ControlPlane(nodes=1, extra_apiserver_args=["--no-such-flag"])
    with pytest.raises(ControlPlaneError, match=r"kube-apiserver exited with code 1") as excinfo:
        cp.start()
    assert "unknown flag: --no-such-flag" in str(excinfo.value)
    assert control_plane_processes(str(cp.dir)) == []
    assert "--no-such-flag" in cp.log_path("kube-apiserver").read_text()
    shutil.rmtree(cp.dir)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_tear_the_control_plane_down(signum: int, tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import faulthandler, json, signal, time
        from modelops.testing import ControlPlane
        faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test asks for the stacks if it hangs
        # Ctrl-C as at a terminal: a shell's background job (CI started with `&`) inherits SIGINT
        # ignored, and Python then installs no KeyboardInterrupt handler.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with ControlPlane(nodes=1) as cp:
            print(json.dumps({"dir": str(cp.dir), "pids": cp.pids}), flush=True)
            time.sleep(300)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        started = json.loads(line)
        assert set(control_plane_processes(started["dir"])) >= set(started["pids"].values())
        proc.send_signal(signum)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)
            time.sleep(1)
            proc.kill()
            _, stderr = proc.communicate()
            pytest.fail(f"still running 30 s after the signal; its threads and output:\n{stderr[-6000:]}")
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert proc.returncode != 0
    assert control_plane_processes(started["dir"]) == []
    assert not Path(started["dir"]).exists()
