"""Operator benchmark: N ModelDeployments applied at once vs kubectl creating the same children (the floor).

One real control plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK nodes that make
pods Running/Ready), one run, cases side by side:

* floor: the children the operator would build for N ModelDeployments (the operator's own
  builder functions, with the chart's settings) go to namespace ``floor-<r>`` in one
  ``kubectl apply --server-side -f`` of a multi-document file; time from the start of that
  command until every Deployment is Available;
* operator: ``python -m modelops.operator`` as the Helm chart's ServiceAccount (the chart's RBAC
  and environment, scoped to namespace ``op-<r>``); once it is up, N ModelDeployments go in one
  ``kubectl apply``; time until every ModelDeployment has ``status.phase`` Ready (then every
  child is checked to exist).

Cases alternate round by round (``--rounds``) and each uses fresh namespaces that are deleted
(and waited for) before the next case. The operator's RSS (VmRSS of it and its descendants,
from /proc) is read idle, and after the N objects settled, at each of ``--rss-counts``.

    .venv/bin/python bench/operator/run.py --count 200 --rss-counts 200 --json bench/operator/results-200.json
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from modelops.api.objects import ModelDeployment
from modelops.operator.builders.deployment import serving_deployment
from modelops.operator.builders.hpa import serving_hpa
from modelops.operator.builders.pdb import serving_pdb
from modelops.operator.builders.secret import serving_secret
from modelops.operator.builders.service import serving_service
from modelops.operator.decisions.modeldeployment import from_uri
from modelops.operator.settings import OperatorSettings
from modelops.testing import ControlPlane
from modelops.testing.chart import operator_environment, rbac_documents, render_chart, service_account_name

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchlib import cpu_seconds, machine, publish

ROOT = Path(__file__).resolve().parents[2]
CRDS_DIR = ROOT / "crds"
Manifest = dict[str, Any]
# Room for every pod of every case at once (10000+ serving pods of 100m / 256Mi each, two nodes).
NODE_CAPACITY = {"cpu": "20000", "memory": "40Ti", "pods": "12000", "ephemeral-storage": "100Ti"}
# The same control plane for both cases, set for thousands of objects: more client QPS for the
# controller-manager (its default 20/s would pace both cases alike at 10,000 objects), and no HPA
# controller (no metrics pipeline here: every HPA would fail its metrics read on every sync, at
# 10,000 HPAs taking the controller-manager's whole request budget from the controllers measured).
CONTROLLER_MANAGER_ARGS = (
    "--kube-api-qps=100",
    "--kube-api-burst=200",
    "--controllers=*,-horizontal-pod-autoscaler-controller",
)
CHILD_KINDS = ("deployments", "services", "horizontalpodautoscalers", "poddisruptionbudgets")
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})


# --------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def model_deployment(name: str, namespace: str, settings: OperatorSettings) -> Manifest:
    """A ModelDeployment with a `uri` model source: no TrainingRun needed (as examples/model-sources/uri.yaml)."""
    version = hashlib.sha256(name.encode()).hexdigest()[:16]
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "model": {"uri": f"{settings.models_prefix(namespace)}bench/{version}"},
            "replicas": {"min": 1, "max": 3},
            "autoscaling": {"metric": "cpu", "target": 70},
        },
    }


def names(count: int) -> list[str]:
    return [f"md-{i:04d}" for i in range(count)]


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def floor_children(count: int, namespace: str, settings: OperatorSettings) -> list[Manifest]:
    """What the operator's reconcile applies for each ModelDeployment, from the same builders.

    The owner reference is dropped: the owner does not exist in the floor's namespace and the
    garbage collector would delete the children. Nothing else differs.
    """
    docs: list[Manifest] = []
    for name in names(count):
        manifest = model_deployment(name, namespace, settings)
        manifest["metadata"]["uid"] = str(uuid.uuid4())
        owner = ModelDeployment.model_validate(manifest)
        assert owner.spec.model.uri is not None
        model = from_uri(owner.spec.model.uri)
        for child in (
            serving_secret(owner, secrets.token_hex(32)),  # the operator makes it once per ModelDeployment
            serving_deployment(owner, model, settings),
            serving_service(owner),
            serving_hpa(owner),
            serving_pdb(owner),
        ):
            child["metadata"].pop("ownerReferences", None)
            docs.append(child)
    return docs


def deployment_available(deployment: Manifest) -> bool:
    """Available, its current generation observed, at least one replica available (what makes an MD Ready)."""
    status = deployment.get("status") or {}
    return (
        int(status.get("observedGeneration") or 0) >= int(deployment["metadata"].get("generation") or 1)
        and int(status.get("availableReplicas") or 0) >= 1
        and any(c.get("type") == "Available" and c.get("status") == "True" for c in status.get("conditions") or [])
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_tree_rss_kb(pid: int) -> int:
    """VmRSS of `pid` and of all its descendants, in kB (0 for processes that are gone)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += status_kb(current, "VmRSS")
        todo.extend(children.get(current, []))
    return total


def status_kb(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    return 0


def mb(kb: int) -> float:
    return round(kb / 1024, 1)


def parse_time(stamp: str | None) -> float | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() if stamp else None


def latest_condition(items: list[Manifest], type_: str, started_wall: float) -> float | None:
    """Seconds from `started_wall` to the newest lastTransitionTime of condition `type_` (1 s resolution)."""
    stamps = [
        parse_time(c.get("lastTransitionTime"))
        for item in items
        for c in (item.get("status") or {}).get("conditions") or []
        if c.get("type") == type_ and c.get("status") == "True"
    ]
    found = [s for s in stamps if s is not None]
    return round(max(found) - started_wall, 1) if found else None


def latest_creation(items: list[Manifest], started_wall: float) -> float | None:
    stamps = [parse_time(item["metadata"].get("creationTimestamp")) for item in items]
    found = [s for s in stamps if s is not None]
    return round(max(found) - started_wall, 1) if found else None


def request_counts(cp: ControlPlane) -> Counter[str]:
    """The API server's `apiserver_request_total`, summed by "VERB resource[/subresource]"."""
    text = cp.kubectl("get", "--raw", "/metrics", timeout=120).stdout
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "apiserver_request_total":
                labels = sample.labels
                resource = labels.get("resource", "") + (
                    f"/{labels['subresource']}" if labels.get("subresource") else ""
                )
                counts[f"{labels.get('verb', '')} {resource}".strip()] += int(sample.value)
    return counts


def writes_since(cp: ControlPlane, before: Counter[str]) -> dict[str, int]:
    """The write requests the API server answered since `before`, by verb and resource, most first."""
    delta = request_counts(cp) - before
    writes = {key: count for key, count in delta.items() if key.split(" ")[0] in WRITE_VERBS}
    return dict(sorted(writes.items(), key=lambda item: -item[1]))


def idle_rates(cp: ControlPlane, seconds: float) -> dict[str, float]:
    """Requests per second the API server answered during `seconds` of quiet, by verb and resource."""
    before = request_counts(cp)
    time.sleep(seconds)
    delta = request_counts(cp) - before
    return {key: round(count / seconds, 3) for key, count in sorted(delta.items()) if count}


# --------------------------------------------------------------------------- the bench


@dataclass
class CaseResult:
    case: str
    round: int
    count: int
    seconds: float
    apply_seconds: float
    children_created_s: float | None = None
    all_ready_transition_s: float | None = None
    rss_idle_mb: float | None = None
    rss_settled_mb: float | None = None
    rss_peak_mb: float | None = None
    idle_requests_per_s: dict[str, float] = field(default_factory=dict)
    writes_until_ready: dict[str, int] = field(default_factory=dict)  # from the apply until all Ready/Available
    operator_cpu_s_until_ready: float | None = None
    restore_s: float | None = None
    children_ok: bool = True
    notes: dict[str, Any] = field(default_factory=dict)


class Bench:
    def __init__(self, cp: ControlPlane, args: argparse.Namespace, work: Path) -> None:
        self.cp, self.args, self.work = cp, args, work

    def objects(self, plural: str, namespace: str) -> list[Manifest]:
        """Every object of a kind in the namespace, as the API server stores it."""
        done = self.cp.kubectl("get", plural, "-n", namespace, "-o", "json", timeout=300)
        items: list[Manifest] = json.loads(done.stdout)["items"]
        return items

    # ---- namespaces

    def create_namespace(self, name: str) -> None:
        self.cp.kubectl("create", "namespace", name)
        self.wait(lambda: self.cp.kubectl("get", "sa", "default", "-n", name, check=False).returncode == 0, 60, name)

    def delete_namespace(self, name: str, wait: bool = True) -> None:
        started = time.monotonic()
        self.cp.kubectl("delete", "namespace", name, f"--wait={str(wait).lower()}", "--timeout=600s", timeout=660)
        if wait:
            log(f"namespace {name} deleted in {time.monotonic() - started:.1f}s")

    @staticmethod
    def wait(ready: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not ready within {timeout:.0f}s")
            time.sleep(interval)

    def poll(self, done: Callable[[], bool], what: str) -> None:
        self.wait(done, self.args.timeout, what, interval=self.args.poll)

    # ---- chart

    def chart(self, namespace: str) -> tuple[list[Manifest], dict[str, str]]:
        store = self.work / f"store-{namespace}"
        store.mkdir(exist_ok=True)
        values = {
            "artifactStore.uri": f"file://{store}",
            "image.repository": "modelops",
            "image.tag": "bench",
            "watchNamespaces": f"{{{namespace}}}",
        }
        docs = render_chart(self.cp.bin_dir / "helm", namespace, namespace, values)
        return docs, operator_environment(docs)

    def settings(self, namespace: str) -> OperatorSettings:
        """The operator's settings as the chart configures it, for the floor's builders."""
        _, env = self.chart(namespace)
        with environment(env):
            return OperatorSettings()

    # ---- cases

    def floor(self, round_: int, count: int) -> CaseResult:
        ns = f"floor-{round_}"
        self.create_namespace(ns)
        docs = floor_children(count, ns, self.settings(ns))
        log(f"floor round {round_}: applying {len(docs)} children of {count} ModelDeployments")
        path = self.work / f"{ns}.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        before = request_counts(self.cp)
        started, started_wall = time.monotonic(), time.time()
        self.cp.kubectl("apply", "--server-side", "-n", ns, "-f", str(path), timeout=self.args.timeout)
        apply_seconds = time.monotonic() - started
        items: list[Manifest] = []

        def available() -> bool:
            nonlocal items
            items = self.objects("deployments", ns)
            return len(items) == count and all(deployment_available(i) for i in items)

        self.poll(available, f"floor {ns}")
        seconds = time.monotonic() - started
        writes = writes_since(self.cp, before)
        log(
            f"floor round {round_}: {seconds:.1f}s (kubectl apply {apply_seconds:.1f}s), "
            f"API writes until Available {sum(writes.values())}"
        )
        time.sleep(self.args.settle_seconds)
        idle = idle_rates(self.cp, self.args.idle_window)
        log(f"floor round {round_}: idle API requests/s without an operator {sum(idle.values()):.2f}")
        result = CaseResult(
            "floor",
            round_,
            count,
            round(seconds, 2),
            round(apply_seconds, 2),
            children_created_s=latest_creation(items, started_wall),
            all_ready_transition_s=latest_condition(items, "Available", started_wall),
            idle_requests_per_s=idle,
            writes_until_ready=writes,
        )
        self.delete_namespace(ns)
        return result

    def operator(self, round_: int, count: int, label: str = "operator") -> CaseResult:
        ns = f"op-{round_}" if label == "operator" else f"rss-{count}"
        self.create_namespace(ns)
        docs, chart_env = self.chart(ns)
        self.cp.kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=yaml.safe_dump_all(rbac_documents(docs)))
        kubeconfig = self.cp.kubeconfig_as(service_account_name(docs), ns)
        port = free_port()
        env = {
            **os.environ,
            **chart_env,
            "KUBECONFIG": str(kubeconfig),
            "MODELOPS_METRICS_PORT": "0",
            "MODELOPS_LIVENESS_ENDPOINT": f"http://127.0.0.1:{port}/healthz",
            **dict(item.split("=", 1) for item in self.args.operator_env),
        }
        log_path = self.work / f"operator-{ns}.log"
        with log_path.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "modelops.operator"], env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        try:
            return self._operator_case(proc, port, ns, round_, count, label, log_path)
        finally:
            # The operator puts no finalizer on anything: stop it, then the namespace goes with everything in it.
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self.cp.kubectl("delete", "clusterrole,clusterrolebinding", "-l", f"app.kubernetes.io/instance={ns}")
            self.delete_namespace(ns, wait=not self.args.no_cleanup_wait or label == "operator")

    def _operator_case(
        self, proc: subprocess.Popen[bytes], port: int, ns: str, round_: int, count: int, label: str, log_path: Path
    ) -> CaseResult:
        def healthy() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"operator exited with {proc.returncode}; see {log_path}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    return bool(response.status == 200)
            return False

        self.wait(healthy, 120, "operator liveness")
        time.sleep(self.args.idle_seconds)  # watches established, start-up garbage settled
        rss_idle = process_tree_rss_kb(proc.pid)
        settings = self.settings(ns)
        mds = [model_deployment(name, ns, settings) for name in names(count)]
        path = self.work / f"{ns}-mds.yaml"
        path.write_text(yaml.safe_dump_all(mds, sort_keys=False))
        log(f"{label} round {round_}: applying {count} ModelDeployments (operator idle RSS {mb(rss_idle)} MB)")
        before = request_counts(self.cp)
        cpu_before = cpu_seconds(proc.pid)
        started, started_wall = time.monotonic(), time.time()
        self.cp.kubectl("apply", "--server-side", "-n", ns, "-f", str(path), timeout=self.args.timeout)
        apply_seconds = time.monotonic() - started
        items: list[Manifest] = []
        peak_rss = 0

        def ready() -> bool:
            nonlocal items, peak_rss
            if proc.poll() is not None:
                raise RuntimeError(f"operator exited with {proc.returncode}; see {log_path}")
            peak_rss = max(peak_rss, process_tree_rss_kb(proc.pid))
            items = self.objects("modeldeployments", ns)
            if len(items) != count:
                return False
            if self.args.until == "created":
                return all(len(self.objects(kind, ns)) == count for kind in CHILD_KINDS)
            return all((i.get("status") or {}).get("phase") == "Ready" for i in items)

        self.poll(ready, f"{label} {ns}")
        seconds = time.monotonic() - started
        operator_cpu = cpu_seconds(proc.pid) - cpu_before
        writes = writes_since(self.cp, before)
        counts = {kind: len(self.objects(kind, ns)) for kind in CHILD_KINDS}
        deployments = self.objects("deployments", ns)
        log(
            f"{label} round {round_}: {seconds:.1f}s (kubectl apply {apply_seconds:.1f}s), children {counts}, "
            f"API writes until Ready {sum(writes.values())}, operator CPU {operator_cpu:.1f}s"
        )
        # Settled: the last status writes and rollouts are done; then a quiet window spanning resyncs.
        time.sleep(self.args.settle_seconds)
        idle = idle_rates(self.cp, self.args.idle_window)
        rss_settled = process_tree_rss_kb(proc.pid)
        peak_rss = max(peak_rss, rss_settled, status_kb(proc.pid, "VmHWM"))
        log(f"{label} round {round_}: RSS settled {mb(rss_settled)} MB, peak {mb(peak_rss)} MB")
        log(f"{label} round {round_}: idle API requests/s with the operator {sum(idle.values()):.2f}")
        restore = self.restore_seconds(ns, names(count)[count // 2])
        log(f"{label} round {round_}: a deleted Deployment was back after {restore:.2f}s")
        return CaseResult(
            label,
            round_,
            count,
            round(seconds, 2),
            round(apply_seconds, 2),
            children_created_s=latest_creation(deployments, started_wall),
            all_ready_transition_s=latest_condition(items, "Ready", started_wall),
            rss_idle_mb=mb(rss_idle),
            rss_settled_mb=mb(rss_settled),
            rss_peak_mb=mb(peak_rss),
            idle_requests_per_s=idle,
            writes_until_ready=writes,
            operator_cpu_s_until_ready=round(operator_cpu, 2),
            restore_s=round(restore, 2),
            children_ok=all(n == count for n in counts.values()),
            notes={"children": counts, "log": str(log_path), "until": self.args.until},
        )

    def restore_seconds(self, ns: str, name: str) -> float:
        """Seconds from deleting one serving Deployment by hand until the operator has made a new one."""
        old = json.loads(self.cp.kubectl("get", "deployment", name, "-n", ns, "-o", "json").stdout)["metadata"]["uid"]
        self.cp.kubectl("delete", "deployment", name, "-n", ns, "--wait=false")
        started = time.monotonic()

        def back() -> bool:
            found = self.cp.kubectl("get", "deployment", name, "-n", ns, "-o", "jsonpath={.metadata.uid}", check=False)
            return found.returncode == 0 and found.stdout.strip() not in ("", old)

        self.wait(back, 60, f"deployment {name} back", interval=0.05)
        return time.monotonic() - started


# --------------------------------------------------------------------------- main


def operator_settings_used(args: argparse.Namespace) -> dict[str, Any]:
    """Settings that decide the operator's pace, as it runs them (chart env + --operator-env)."""
    overrides = dict(item.split("=", 1) for item in args.operator_env)
    with environment({"MODELOPS_STORE": "file:///tmp", **overrides}):
        settings = OperatorSettings()
    keys = ("resync_interval", "worker_limit", "executor_threads")
    return {key: getattr(settings, key) for key in keys}


def mean_rates(cases: list[CaseResult]) -> Counter[str]:
    """Idle requests/s by verb and resource, averaged over `cases` (empty: none)."""
    total: Counter[str] = Counter()
    for case in cases:
        total.update({key: rate / len(cases) for key, rate in case.idle_requests_per_s.items()})
    return total


def summarize(results: list[CaseResult], args: argparse.Namespace) -> dict[str, Any]:
    floors = [r.seconds for r in results if r.case == "floor"]
    ops = [r.seconds for r in results if r.case == "operator"]
    per_round = [
        round(o.seconds / f.seconds, 2)
        for f in results
        if f.case == "floor"
        for o in results
        if o.case == "operator" and o.round == f.round
    ]
    rss: dict[str, Any] = {}
    idle = [r.rss_idle_mb for r in results if r.rss_idle_mb is not None]
    if idle:
        rss["0"] = max(idle)
    for count in sorted({r.count for r in results if r.case != "floor"}):
        settled = [r.rss_settled_mb for r in results if r.case != "floor" and r.count == count and r.rss_settled_mb]
        peak = [r.rss_peak_mb for r in results if r.case != "floor" and r.count == count and r.rss_peak_mb]
        rss[str(count)] = {"settled": max(settled), "peak": max(peak)}
    # `--rounds 0`: the RSS cases alone, no floor to compare with (no ratio, idle traffic not attributed).
    floor_s = statistics.median(floors) if floors else None
    op_s = statistics.median(ops) if ops else None
    ratio = round(op_s / floor_s, 2) if op_s is not None and floor_s is not None else None
    # The operator's share of the idle traffic: what the API server answered with it, minus without it.
    baseline = mean_rates([r for r in results if r.case == "floor"])
    with_operator = mean_rates([r for r in results if r.case == ("operator" if ops else "rss")])
    attributed = {key: round(with_operator[key] - baseline[key], 3) for key in with_operator.keys() | baseline.keys()}
    idle_total = round(sum(v for v in attributed.values() if v > 0), 3)
    restores = [r.restore_s for r in results if r.restore_s is not None]
    return {
        "count": args.count,
        "rounds": args.rounds,
        "floor_s_median": floor_s and round(floor_s, 2),
        "operator_s_median": op_s and round(op_s, 2),
        "ratio": ratio,
        "ratio_per_round": per_round,
        "rss_mb": rss,
        "idle_requests_per_s_attributed": {k: v for k, v in sorted(attributed.items()) if abs(v) >= 0.01},
        "idle_requests_per_s_total": idle_total,
        "restore_s_max": max(restores) if restores else None,
        "goals": {
            "ratio": ratio <= (1.3 if args.count <= 1000 else 1.5) if ratio is not None else None,
            "idle_requests_le_1_per_s": idle_total <= 1.0,
            "restore_le_2s": bool(restores) and max(restores) <= 2.0,
            "rss_le_300mb": all(v["peak"] <= 300 for k, v in rss.items() if k != "0"),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="ModelDeployments in the timed cases")
    parser.add_argument("--rounds", type=int, default=1, help="floor/operator pairs, alternating order")
    parser.add_argument("--rss-counts", default="200,1000", help="object counts at which the RSS is read")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between status polls")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per case")
    parser.add_argument("--idle-seconds", type=float, default=3.0, help="wait after the operator is up")
    parser.add_argument("--settle-seconds", type=float, default=15.0, help="wait after all Ready before measuring")
    parser.add_argument(
        "--idle-window", type=float, default=None, help="seconds of quiet measured (default: two resync intervals)"
    )
    parser.add_argument(
        "--operator-env", action="append", default=[], metavar="KEY=VALUE", help="extra MODELOPS_* for the operator"
    )
    parser.add_argument("--no-cleanup-wait", action="store_true", help="do not wait for the RSS cases' namespaces")
    parser.add_argument(
        "--until",
        choices=("ready", "created"),
        default="ready",
        help="operator cases: wait until every ModelDeployment is Ready, or only until all their children exist "
        "(with the deployment controller left out by --controller-manager-arg, the idle operator at a count "
        "whose rollouts this machine cannot finish)",
    )
    parser.add_argument(
        "--controller-manager-arg",
        action="append",
        default=None,
        metavar="FLAG",
        help=f"kube-controller-manager flags for both cases (default: {' '.join(CONTROLLER_MANAGER_ARGS)})",
    )
    args = parser.parse_args(argv)
    rss_counts = [int(c) for c in args.rss_counts.split(",") if c.strip()]
    pace = operator_settings_used(args)
    if args.idle_window is None:
        args.idle_window = 2 * float(pace["resync_interval"])
    work = Path(tempfile.mkdtemp(prefix="modelops-bench-operator-"))
    log(f"work dir {work}; operator settings {pace}")
    results: list[CaseResult] = []
    load_before = os.getloadavg()
    controller_manager = args.controller_manager_arg or list(CONTROLLER_MANAGER_ARGS)
    with ControlPlane(nodes=2, node_capacity=NODE_CAPACITY, extra_controller_manager_args=controller_manager) as cp:
        crds = [arg for crd in sorted(CRDS_DIR.glob("*.yaml")) for arg in ("-f", str(crd))]
        cp.kubectl("apply", "--server-side", "--force-conflicts", *crds)
        cp.kubectl("wait", "--for", "condition=Established", "crd", "--all", "--timeout=60s")
        bench = Bench(cp, args, work)
        for round_ in range(args.rounds):
            cases = [bench.floor, bench.operator] if round_ % 2 == 0 else [bench.operator, bench.floor]
            for case in cases:
                results.append(case(round_, args.count))
        for count in rss_counts:
            if count != args.count or not args.rounds:
                results.append(bench.operator(0, count, label="rss"))
    summary = summarize(results, args)
    summary["operator_settings"] = pace
    summary["controller_manager_args"] = controller_manager
    summary["machine"] = machine(load_before)
    summary["command"] = shlex.join(["python", "bench/operator/run.py", *(argv or sys.argv[1:])])
    publish({"summary": summary, "cases": [asdict(r) for r in results]}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
