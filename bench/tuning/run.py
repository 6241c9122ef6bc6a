"""Tuning benchmark: a 16-trial search with `spec.tuning.parallelism` 1 against 2, end to end.

One real control plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK nodes), the
operator as the Helm chart's ServiceAccount with the chart's environment, and a ProcessKubelet
that runs the Job pods as local processes, so the trainer runs for real exactly as the Jobs'
command lines say (one BLAS/OpenMP thread per pod, as a pod with one CPU would). A Dataset
(builtin `digits`) is prepared first; then each case applies one TrainingRun (random forest, 16
of the 72 points of its space, 3-fold cross-validation) and is timed from `kubectl apply` until
its `status.phase` is Succeeded: with parallelism 1 one train Job tunes, refits and saves; with 2
an Indexed Job of two pods scores the trials, then the train Job picks, refits and saves. Cases
alternate in order round by round; both must find the same best parameters and model version.

    .venv/bin/python bench/tuning/run.py --rounds 2 --json bench/tuning/results.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from modelops.testing import ControlPlane, ProcessKubelet
from modelops.testing.chart import operator_environment, rbac_documents, render_chart, service_account_name

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchlib import machine, publish

ROOT = Path(__file__).resolve().parents[2]
CRDS_DIR = ROOT / "crds"
NAMESPACE = "bench"
RUN_LOCALLY = "modelops.io/run-locally"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
DATASET = {
    "apiVersion": "modelops.io/v1alpha1",
    "kind": "Dataset",
    "metadata": {"name": "digits"},
    "spec": {"source": {"builtin": {"name": "digits"}}, "target": "target"},
}
SEARCH = {
    "strategy": "random",
    "parameters": {
        "n_estimators": [200, 300, 400, 500],
        "max_depth": [None, 10, 20],
        "max_features": ["sqrt", 0.2, 0.35],
        "min_samples_leaf": [1, 2],
    },
    "maxTrials": 16,
    "cvFolds": 3,
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def training_run(name: str, parallelism: int) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": name},
        "spec": {
            "datasetRef": {"name": "digits"},
            "model": {"algorithm": "random_forest"},
            "tuning": {**SEARCH, "parallelism": parallelism},
        },
    }


class Bench:
    def __init__(self, cp: ControlPlane, work: Path, timeout: float) -> None:
        self.cp, self.work, self.timeout = cp, work, timeout
        api_client = k8s_config.new_client_from_config(config_file=str(cp.kubeconfig))  # type: ignore[no-untyped-call]
        self.api = k8s_client.CustomObjectsApi(api_client)

    def status(self, plural: str, name: str) -> dict[str, Any]:
        try:
            obj = self.api.get_namespaced_custom_object("modelops.io", "v1alpha1", NAMESPACE, plural, name)
        except k8s_client.ApiException as e:
            if e.status == 404:
                return {}
            raise
        return dict(cast("dict[str, Any]", obj).get("status") or {})

    def until(self, plural: str, name: str, phase: str) -> dict[str, Any]:
        """Poll (0.2 s) until the object reaches `phase`; its status. Fails on a terminal other phase."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            status = self.status(plural, name)
            if status.get("phase") == phase:
                return status
            if status.get("phase") in ("Failed", "Rejected"):
                raise SystemExit(f"{plural}/{name} is {status['phase']}: {status.get('message')}")
            time.sleep(0.2)
        raise SystemExit(f"{plural}/{name} not {phase} after {self.timeout}s")

    def apply(self, obj: dict[str, Any]) -> None:
        self.cp.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=yaml.safe_dump(obj))

    def case(self, round_: int, parallelism: int) -> dict[str, Any]:
        name = f"digits-p{parallelism}-r{round_}"
        log(f"round {round_}: parallelism {parallelism} ({name})")
        started = time.monotonic()
        self.apply(training_run(name, parallelism))
        status = self.until("trainingruns", name, "Succeeded")
        seconds = time.monotonic() - started
        log(f"round {round_}: parallelism {parallelism}: {seconds:.1f}s, best {status.get('bestHyperparameters')}")
        return {
            "round": round_,
            "parallelism": parallelism,
            "seconds": round(seconds, 2),
            "trials": status.get("trials"),
            "best_hyperparameters": status.get("bestHyperparameters"),
            "model_version": (status.get("model") or {}).get("version"),
            "score": status.get("score"),
        }


def start_operator(cp: ControlPlane, work: Path) -> subprocess.Popen[bytes]:
    """The operator as the chart installs it (its RBAC, ServiceAccount and environment), for NAMESPACE."""
    store = work / "store"
    store.mkdir()
    values = {
        "artifactStore.uri": f"file://{store}",
        "image.repository": "modelops",
        "image.tag": "bench",
        "watchNamespaces": f"{{{NAMESPACE}}}",
    }
    docs = render_chart(cp.bin_dir / "helm", NAMESPACE, NAMESPACE, values)
    cp.kubectl("apply", "--server-side", "-n", NAMESPACE, "-f", "-", input=yaml.safe_dump_all(rbac_documents(docs)))
    env = {
        **os.environ,
        **operator_environment(docs),
        "KUBECONFIG": str(cp.kubeconfig_as(service_account_name(docs), NAMESPACE)),
        # KWOK runs no containers: the ProcessKubelet runs the Job pods carrying this label.
        "MODELOPS_JOB_POD_LABELS": json.dumps({RUN_LOCALLY: "true"}),
        "MODELOPS_METRICS_PORT": "0",
        "MODELOPS_LIVENESS_ENDPOINT": "",
    }
    with (work / "operator.log").open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "modelops.operator"], env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip


def summarize(cases: list[dict[str, Any]]) -> dict[str, Any]:
    one = [c["seconds"] for c in cases if c["parallelism"] == 1]
    two = [c["seconds"] for c in cases if c["parallelism"] == 2]
    found = {(json.dumps(c["best_hyperparameters"], sort_keys=True), c["model_version"]) for c in cases}
    return {
        "parallelism_1_s": statistics.median(one),
        "parallelism_2_s": statistics.median(two),
        "speedup": round(statistics.median(one) / statistics.median(two), 2),
        "same_best_and_version": len(found) == 1,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="pairs of cases, alternating order (median)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per case")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="modelops-bench-tuning-"))
    log(f"work dir {work}")
    load_before = os.getloadavg()
    cases: list[dict[str, Any]] = []
    with ControlPlane(manual_pod_selector=f"{RUN_LOCALLY}=true") as cp:
        crds = [arg for crd in sorted(CRDS_DIR.glob("*.yaml")) for arg in ("-f", str(crd))]
        cp.kubectl("apply", "--server-side", "--force-conflicts", *crds)
        cp.kubectl("wait", "--for", "condition=Established", "crd", "--all", "--timeout=60s")
        cp.kubectl("create", "namespace", NAMESPACE)
        operator = start_operator(cp, work)
        kubelet = ProcessKubelet(
            cp.kubeconfig,
            selector=f"{RUN_LOCALLY}=true",
            namespace=NAMESPACE,
            executables={"python": sys.executable, "python3": sys.executable},
            overrides=ONE_THREAD,
            timeout=args.timeout,
            max_concurrent=4,
        )
        try:
            with kubelet:
                bench = Bench(cp, work, args.timeout)
                bench.apply(DATASET)
                bench.until("datasets", "digits", "Ready")
                for round_ in range(args.rounds):
                    for parallelism in (1, 2) if round_ % 2 == 0 else (2, 1):
                        cases.append(bench.case(round_, parallelism))
                failed = [f"{r.name}: {r.exit_code}" for r in kubelet.runs.values() if r.exit_code != 0]
        finally:
            operator.terminate()
            operator.wait(timeout=15)
    summary = summarize(cases)
    summary["machine"] = machine(load_before)
    summary["failed_pods"] = failed
    summary["command"] = shlex.join(["python", "bench/tuning/run.py", *(argv if argv is not None else sys.argv[1:])])
    publish({"summary": summary, "search": SEARCH, "cases": cases}, args.json)
    return 0 if summary["same_best_and_version"] and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
