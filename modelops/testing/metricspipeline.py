"""The local cluster's metrics pipeline: Prometheus, prometheus-adapter and metrics-server, wired as a user would.

* Prometheus finds the serving pods by Kubernetes service discovery, with the scrape job the
  Prometheus Operator makes of the chart's own PodMonitor (:mod:`~modelops.testing.podmonitor`),
  so the series carry ``namespace``, ``pod`` and ``modeldeployment`` exactly as on a user's cluster.
* prometheus-adapter serves ``custom.metrics.k8s.io`` from that Prometheus with the rules the chart
  ships (``prometheus.adapterRules``): what an HPA on ``requestsPerSecond``, ``latencyP95`` or
  ``inflight`` asks for.
* metrics-server serves ``metrics.k8s.io`` from the kubelet: pod CPU for ``autoscaling.metric: cpu``.

All three are built from their Go modules (``hack/build-metrics.sh``; Debian's Prometheus has no
Kubernetes discovery) and run as processes in the node's network namespace, where pod addresses are
routed, listening on the node address: the API server on the host end of the veth reaches the two aggregated APIs there
(``--enable-aggregator-routing`` dials a Service's endpoints, which point at that address), and pods
reach Prometheus through the ``monitoring/prometheus`` Service. Each authenticates with a client
certificate of the cluster CA bound to the rights its upstream chart grants, and serves a
certificate of that CA, which the APIServices trust by ``caBundle``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from modelops.testing.chart import OPERATOR_NAMESPACE, RELEASE, render_chart
from modelops.testing.controlplane import REPO_ROOT, ControlPlane
from modelops.testing.netns import NodeNetwork
from modelops.testing.podmonitor import scrape_jobs
from modelops.testing.processes import Supervisor

__all__ = ["MetricsPipeline", "MetricsPipelineError", "PipelineSettings", "find_metrics_binaries"]

NAMESPACE = "monitoring"
PROMETHEUS_PORT = 9090
ADAPTER_PORT = 6443
METRICS_SERVER_PORT = 4443
METRICS_BINARIES = ("prometheus", "prometheus-adapter", "metrics-server")
RBAC_GROUP = "rbac.authorization.k8s.io"
# (API group, version, Service, port on the node address)
API_SERVICES = (
    ("custom.metrics.k8s.io", "v1beta1", "prometheus-adapter", ADAPTER_PORT),
    ("metrics.k8s.io", "v1beta1", "metrics-server", METRICS_SERVER_PORT),
)


class MetricsPipelineError(RuntimeError):
    """A part of the metrics pipeline failed to start or to serve."""


@dataclass(frozen=True)
class PipelineSettings:
    """The pipeline's timings: what a user sets in their chart values, shortened for a test cluster.

    ``scrape_interval`` is the chart's ``prometheus.podMonitor.interval``; ``relist_interval`` is how
    often the adapter looks for new series (its own default is 10 minutes); ``metric_resolution`` is
    metrics-server's scrape period of the kubelets.
    """

    scrape_interval: str = "5s"
    relist_interval: str = "15s"
    metric_resolution: str = "15s"


def find_metrics_binaries() -> Path:
    """The directory of prometheus, prometheus-adapter and metrics-server, built on first use."""
    script = REPO_ROOT / "hack" / "build-metrics.sh"
    proc = subprocess.run(["bash", str(script)], stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        raise MetricsPipelineError(f"{script} failed with exit code {proc.returncode}")
    bin_dir = Path(lines[-1])
    if missing := [name for name in METRICS_BINARIES if not os.access(bin_dir / name, os.X_OK)]:
        raise MetricsPipelineError(f"{bin_dir} lacks {', '.join(missing)}")
    return bin_dir


class MetricsPipeline:
    """Prometheus + prometheus-adapter + metrics-server for ``control_plane``, run by ``supervisor`` in ``network``."""

    def __init__(
        self,
        control_plane: ControlPlane,
        network: NodeNetwork,
        supervisor: Supervisor,
        state_dir: Path,
        bin_dir: Path,
        settings: PipelineSettings = PipelineSettings(),
    ) -> None:
        self.control_plane = control_plane
        self.network = network
        self.supervisor = supervisor
        self.dir = state_dir
        self.bin_dir = bin_dir
        self.settings = settings

    @property
    def url(self) -> str:
        """Prometheus as pods reach it (the operator's ``prometheus.url``)."""
        return f"http://prometheus.{NAMESPACE}.svc.cluster.local:{PROMETHEUS_PORT}"

    @property
    def host_url(self) -> str:
        """Prometheus as this machine reaches it: the node address, through the veth."""
        return f"http://{self.network.node_ip}:{PROMETHEUS_PORT}"

    def start(self, timeout: float = 120.0) -> MetricsPipeline:
        self.dir.mkdir(parents=True, exist_ok=True)
        chart = render_chart(
            self.control_plane.bin_dir / "helm",
            RELEASE,
            OPERATOR_NAMESPACE,
            {
                "prometheus.podMonitor.enabled": "true",
                "prometheus.podMonitor.interval": self.settings.scrape_interval,
                "prometheus.adapterRules.enabled": "true",
            },
        )
        self.control_plane.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(self._objects()))
        self._start_prometheus(chart)
        self._start_adapter(chart)
        self._start_metrics_server()
        self._wait("prometheus", self._prometheus_ready, timeout)
        for group, version, service, _ in API_SERVICES:
            self._wait(service, self._api_available(f"{version}.{group}"), timeout)
        return self

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant PromQL query; the result's series (``metric``, ``value``)."""
        url = f"{self.host_url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            result: list[dict[str, Any]] = json.load(answer)["data"]["result"]
        return result

    # ------------------------------------------------------------------ processes

    def _identity(self, name: str) -> Path:
        """A kubeconfig of user ``modelops:<name>`` (bound below), and a serving certificate for ``name``."""
        cp = self.control_plane
        pki = self.dir / "pki"
        cp.ca.issue(
            pki, f"{name}-serving", name, server=True, dns_names=[f"{name}.{NAMESPACE}.svc"], ips=[self.network.node_ip]
        )
        pair = cp.ca.issue(pki, name, f"modelops:{name}")
        credentials = {"client-certificate": str(pair.cert), "client-key": str(pair.key)}
        return cp.write_kubeconfig(self.dir / f"{name}.kubeconfig", f"modelops:{name}", credentials)

    def _spawn(self, name: str, cmd: list[str]) -> None:
        self.supervisor.spawn(name, [*self.network.enter(), *cmd], cwd=self.dir)

    def _start_prometheus(self, chart: list[dict[str, Any]]) -> None:
        self._identity("prometheus")
        pki = self.dir / "pki"
        (monitor,) = [doc for doc in chart if doc["kind"] == "PodMonitor"]
        reach = {
            "api_server": self.control_plane.server,
            "tls_config": {
                "ca_file": str(self.control_plane.ca_file),
                "cert_file": str(pki / "prometheus.crt"),
                "key_file": str(pki / "prometheus.key"),
            },
        }
        config = {
            "global": {"scrape_interval": self.settings.scrape_interval},
            "scrape_configs": scrape_jobs(monitor, reach),
        }
        path = self.dir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        self._spawn(
            "prometheus",
            [
                str(self.bin_dir / "prometheus"),
                f"--config.file={path}",
                f"--storage.tsdb.path={self.dir / 'prometheus-data'}",
                f"--web.listen-address={self.network.node_ip}:{PROMETHEUS_PORT}",
                "--log.level=warn",
            ],
        )

    def _delegated_auth(self, name: str, port: int) -> list[str]:
        """The flags an aggregated API server needs: its certificate, its identity, whom to trust."""
        kubeconfig = self._identity(name)
        pki, cp_pki = self.dir / "pki", self.control_plane.dir / "pki"
        return [
            f"--bind-address={self.network.node_ip}",
            f"--secure-port={port}",
            f"--tls-cert-file={pki / f'{name}-serving.crt'}",
            f"--tls-private-key-file={pki / f'{name}-serving.key'}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            # the API server proxies as front-proxy-client with the caller in X-Remote-* headers
            f"--client-ca-file={cp_pki / 'ca.crt'}",
            f"--requestheader-client-ca-file={cp_pki / 'front-proxy-ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
        ]

    def _start_adapter(self, chart: list[dict[str, Any]]) -> None:
        (rules,) = [
            doc for doc in chart if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].endswith("-adapter-rules")
        ]
        path = self.dir / "adapter-rules.yaml"
        path.write_text(rules["data"]["config.yaml"])
        self._spawn(
            "prometheus-adapter",
            [
                str(self.bin_dir / "prometheus-adapter"),
                *self._delegated_auth("prometheus-adapter", ADAPTER_PORT),
                f"--lister-kubeconfig={self.dir / 'prometheus-adapter.kubeconfig'}",
                f"--prometheus-url=http://{self.network.node_ip}:{PROMETHEUS_PORT}/",
                f"--metrics-relist-interval={self.settings.relist_interval}",
                f"--config={path}",
                "--v=1",
            ],
        )

    def _start_metrics_server(self) -> None:
        self._spawn(
            "metrics-server",
            [
                str(self.bin_dir / "metrics-server"),
                *self._delegated_auth("metrics-server", METRICS_SERVER_PORT),
                f"--kubeconfig={self.dir / 'metrics-server.kubeconfig'}",
                "--kubelet-preferred-address-types=InternalIP",
                # the kubelet's serving certificate is the cluster CA's, for the node address
                f"--kubelet-certificate-authority={self.control_plane.ca_file}",
                f"--metric-resolution={self.settings.metric_resolution}",
                # metrics-server refuses a resolution not larger than this timeout (10s by default)
                "--kubelet-request-timeout=5s",
                "--v=1",
            ],
        )

    def _wait(self, component: str, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if (dead := self.supervisor.dead()) is not None:
                raise MetricsPipelineError(dead.failure(f"{dead.name} exited with code {dead.proc.returncode}"))
            with contextlib.suppress(OSError, ValueError):
                if ready():
                    return
            if time.monotonic() > deadline:
                message = f"{component} not ready within {timeout:.0f}s"
                raise MetricsPipelineError(self.supervisor.get(component).failure(message))
            time.sleep(0.5)

    def _prometheus_ready(self) -> bool:
        with urllib.request.urlopen(f"{self.host_url}/-/ready", timeout=2) as answer:
            return bool(answer.status == 200)

    def _api_available(self, name: str) -> Callable[[], bool]:
        def available() -> bool:
            proc = self.control_plane.kubectl("get", "apiservice", name, "-o", "json", check=False, timeout=10)
            conditions = json.loads(proc.stdout).get("status", {}).get("conditions", []) if proc.returncode == 0 else []
            return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)

        return available

    # ------------------------------------------------------------------ objects

    def _objects(self) -> list[dict[str, Any]]:
        """RBAC as the upstream charts grant it, Services with endpoints on the node address, APIServices."""
        names = ("prometheus", "prometheus-adapter", "metrics-server")
        users = [{"apiGroup": RBAC_GROUP, "kind": "User", "name": f"modelops:{name}"} for name in names]
        servers = users[1:]
        read = ["get", "list", "watch"]
        objects: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "modelops:metrics-pipeline"},
                "rules": [
                    {"apiGroups": [""], "resources": ["pods", "nodes", "namespaces"], "verbs": read},
                    {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
                ],
            },
            _binding("ClusterRole", "modelops:metrics-pipeline", users),
            # delegated authentication and authorization of the callers (TokenReview, SubjectAccessReview)
            _binding("ClusterRole", "system:auth-delegator", servers, name="modelops:metrics-apis:auth-delegator"),
            _binding(
                "Role",
                "extension-apiserver-authentication-reader",
                servers,
                name="modelops:metrics-apis:auth-reader",
                namespace="kube-system",
            ),
            *self._service("prometheus", "http", PROMETHEUS_PORT, PROMETHEUS_PORT),
        ]
        ca_bundle = base64.b64encode(self.control_plane.ca_file.read_bytes()).decode()
        for group, version, service, port in API_SERVICES:
            objects += self._service(service, "https", 443, port)
            objects.append(
                {
                    "apiVersion": "apiregistration.k8s.io/v1",
                    "kind": "APIService",
                    "metadata": {"name": f"{version}.{group}"},
                    "spec": {
                        "group": group,
                        "version": version,
                        "service": {"name": service, "namespace": NAMESPACE, "port": 443},
                        "caBundle": ca_bundle,
                        "groupPriorityMinimum": 100,
                        "versionPriority": 100,
                    },
                }
            )
        return objects

    def _service(self, name: str, port_name: str, port: int, target: int) -> list[dict[str, Any]]:
        """A Service without selector and its Endpoints on the node address (mirrored into an EndpointSlice)."""
        meta = {"name": name, "namespace": NAMESPACE}
        return [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta,
                "spec": {"ports": [{"name": port_name, "port": port, "targetPort": target, "protocol": "TCP"}]},
            },
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": meta,
                "subsets": [
                    {
                        "addresses": [{"ip": self.network.node_ip}],
                        "ports": [{"name": port_name, "port": target, "protocol": "TCP"}],
                    }
                ],
            },
        ]


def _binding(
    role_kind: str, role: str, subjects: list[dict[str, str]], *, name: str = "", namespace: str = ""
) -> dict[str, Any]:
    """A ClusterRoleBinding of a ClusterRole, or (with ``namespace``) a RoleBinding of a Role, named as the role."""
    meta = {"name": name or role, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": role},
        "subjects": subjects,
    }
