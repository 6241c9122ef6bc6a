"""A real Kubernetes control plane on this machine, for integration and end-to-end tests.

Like controller-runtime's *envtest* this runs the upstream binaries as local
processes, but it runs more of them, so that the cluster *behaves* like one a
user points ``kubectl`` at instead of being a bare API server. Nothing here
fakes the API: every request goes through a real kube-apiserver backed by etcd.
Why each piece is there:

etcd
    The only storage kube-apiserver supports. Plain HTTP on 127.0.0.1 (only the
    API server talks to it) and ``--unsafe-no-fsync``: the data dies with the
    test session and fsync dominates start-up on small machines.

kube-apiserver
    The thing the operator talks to, with the security posture that matters for
    an operator: TLS everywhere with client-certificate authentication,
    ``--authorization-mode=Node,RBAC`` and NodeRestriction admission (so
    least-privilege tests of the operator's ClusterRole mean something), a
    service-account issuer and signing key (ServiceAccount tokens, the
    TokenRequest API and bound tokens work), a ``--service-cluster-ip-range``
    (Services get ClusterIPs) and the front-proxy / request-header settings that
    aggregated APIs (the custom metrics API behind an HPA) need. Only API
    Priority and Fairness is switched off, to keep it light on two cores. It
    listens on ``address`` (loopback by default); on loopback it maintains no
    ``kubernetes`` Service endpoints (they may not point at loopback, and no
    pod needs them), elsewhere (a real node's side of a veth, see
    :mod:`modelops.testing.node`) it does, so pods reach it at its ClusterIP. It
    reaches kubelets by their InternalIP with a client certificate of its own.

kube-controller-manager
    Turns the API into a cluster: Deployment -> ReplicaSet -> Pod, Job -> Pod
    and Job completion, garbage collection through ownerReferences (an
    operator's children die with their owner), the HPA controller, namespace
    deletion, the service-account and token controllers. Every controller runs
    with its own service-account credentials (``--use-service-account-credentials``),
    as in kubeadm clusters, and a CSR signer is configured with the test CA.

kube-scheduler
    Binds pods to nodes; without it every pod stays Pending forever.

kwok (when ``nodes`` > 0)
    Plays the kubelet of a few fake nodes (``--manage-all-nodes=false``: only
    nodes annotated ``kwok.x-k8s.io/node=fake`` are managed) through the Stages
    of :mod:`modelops.testing.kwok`.

Certificates come from :mod:`modelops.testing.pki` (one CA for the cluster, a
separate front-proxy CA, the service-account signing key); :attr:`ControlPlane.ca`
issues more, e.g. a real node's kubelet certificates.

Binaries come from ``hack/build-controlplane.sh``, which builds them once per
version from the Go module proxy and prints their directory (a cached run
takes milliseconds). ``MODELOPS_CONTROLPLANE_BIN_DIR`` points at a directory of
ready binaries instead, and the script itself honours ``ETCD_BIN``,
``KUBE_APISERVER_BIN`` and friends.

Processes are run by :class:`modelops.testing.processes.Supervisor`.
:meth:`ControlPlane.stop` runs on leaving the ``with`` block (also on exceptions
and Ctrl-C, which arrives as KeyboardInterrupt), from a SIGTERM/SIGHUP handler
and at interpreter exit. A failed start raises :class:`ControlPlaneError` whose
message ends with the tail of the failing component's log (the logs stay in the
temp dir after a failed start). Set ``MODELOPS_KEEP_CONTROLPLANE=1`` (or
``keep_dir=True``) to keep the whole temp dir (logs, certificates, etcd data)
after a successful run too.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from modelops.testing.kwok import NODE_ANNOTATION, kwok_stages, parse_selector
from modelops.testing.pki import CertificateAuthority, key_pem, new_key, public_key_pem, write_secret
from modelops.testing.processes import SignalGuard, Supervisor, free_ports

__all__ = [
    "POD_CIDR",
    "REQUIRED_BINARIES",
    "SERVICE_CIDR",
    "ControlPlane",
    "ControlPlaneError",
    "KubectlError",
    "find_binaries",
]

REQUIRED_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok")
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
REPO_ROOT = Path(__file__).resolve().parents[2]
_BUILD_SCRIPT = REPO_ROOT / "hack" / "build-controlplane.sh"


class ControlPlaneError(RuntimeError):
    """The control plane failed to start or a component died."""


class KubectlError(subprocess.CalledProcessError):
    """A failed kubectl call; unlike CalledProcessError its message shows stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr: {(self.stderr or '').strip()}"


def find_binaries(build_script: Path | None = None) -> Path:
    """Directory holding the control-plane binaries, building them if needed.

    ``MODELOPS_CONTROLPLANE_BIN_DIR`` wins; otherwise ``hack/build-controlplane.sh``
    (or ``MODELOPS_BUILD_CONTROLPLANE``) is run and its last output line is the
    directory. Its progress goes to this process's stderr.
    """
    env_dir = os.environ.get("MODELOPS_CONTROLPLANE_BIN_DIR")
    if env_dir:
        bin_dir = Path(env_dir)
    else:
        script = build_script or Path(os.environ.get("MODELOPS_BUILD_CONTROLPLANE", _BUILD_SCRIPT))
        if not script.is_file():
            raise ControlPlaneError(
                f"build script {script} not found; set MODELOPS_CONTROLPLANE_BIN_DIR to a directory "
                f"holding {', '.join(REQUIRED_BINARIES)}"
            )
        proc = subprocess.run(["bash", str(script)], stdout=subprocess.PIPE, text=True, check=False)
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        if proc.returncode != 0 or not lines:
            raise ControlPlaneError(f"{script} failed with exit code {proc.returncode}")
        bin_dir = Path(lines[-1].strip())
    missing = [name for name in REQUIRED_BINARIES if not os.access(bin_dir / name, os.X_OK)]
    if missing:
        raise ControlPlaneError(f"{bin_dir} lacks executable {', '.join(missing)}")
    return bin_dir


def write_kubeconfig(
    path: Path, *, server: str, ca_file: Path, user: str, credentials: dict[str, str], namespace: str = "default"
) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "modelops-test", "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [
            {"name": "modelops-test", "context": {"cluster": "modelops-test", "user": user, "namespace": namespace}}
        ],
        "current-context": "modelops-test",
    }
    return write_secret(path, yaml.safe_dump(config, sort_keys=False).encode())


@dataclass
class _Timings:
    phases: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def mark(self, phase: str) -> None:
        self.phases[phase] = round(time.monotonic() - self.started, 3)


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler (+ kwok).

    Use as a context manager (``with ControlPlane() as cp: cp.kubectl("get", "nodes")``)
    or call :meth:`start` / :meth:`stop`. Several can run at once: every port is free-picked.

    Args:
        nodes: number of kwok nodes to register (``kwok-node-0`` ...); 0 runs no kwok.
        manual_pod_selector: equality-based label selector (e.g. ``"modelops.io/run-locally=true"``);
            matching pods are scheduled but never started/completed by kwok.
        bin_dir: directory with the binaries; default :func:`find_binaries`.
        node_capacity: capacity and allocatable of every node.
        start_timeout: seconds for the whole start-up.
        keep_dir: keep the temp dir (logs, certs) after stop; default from ``MODELOPS_KEEP_CONTROLPLANE``.
        extra_apiserver_args: appended to kube-apiserver's command line (e.g. ``--feature-gates=...``).
        extra_controller_manager_args: appended to kube-controller-manager's (e.g. ``--kube-api-qps=...``).
        address: the IPv4 address kube-apiserver listens on and advertises (an address of this machine).
    """

    def __init__(
        self,
        *,
        nodes: int = 2,
        manual_pod_selector: str | None = None,
        bin_dir: Path | str | None = None,
        node_capacity: dict[str, str] | None = None,
        start_timeout: float = 120.0,
        keep_dir: bool | None = None,
        extra_apiserver_args: Sequence[str] = (),
        extra_controller_manager_args: Sequence[str] = (),
        address: str = "127.0.0.1",
    ) -> None:
        if nodes < 0:
            raise ValueError("the number of kwok nodes cannot be negative")
        if manual_pod_selector:
            parse_selector(manual_pod_selector)  # fail early on unsupported syntax
        self.nodes = nodes
        self.manual_pod_selector = manual_pod_selector
        self._bin_dir = Path(bin_dir) if bin_dir else None
        self.node_capacity = node_capacity or {
            "cpu": "8",
            "memory": "32Gi",
            "pods": "110",
            "ephemeral-storage": "100Gi",
        }
        self.start_timeout = start_timeout
        self.keep_dir = keep_dir if keep_dir is not None else bool(os.environ.get("MODELOPS_KEEP_CONTROLPLANE"))
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.extra_controller_manager_args = list(extra_controller_manager_args)
        self.address = address
        self.node_names = [f"kwok-node-{i}" for i in range(nodes)]
        self.startup_seconds: float | None = None
        self.timings: dict[str, float] = {}
        self._dir: Path | None = None
        self._supervisor: Supervisor | None = None
        self._ca: CertificateAuthority | None = None
        self._ports: dict[str, int] = {}
        self._lock = threading.Lock()
        self._started = False
        self._stopped = False
        self._failed = False
        self._ssl: ssl.SSLContext | None = None
        self._signals = SignalGuard(self.stop)

    # ------------------------------------------------------------------ public API

    @property
    def dir(self) -> Path:
        """The temp dir: certs, kubeconfigs, ``logs/<component>.log``, etcd data."""
        if self._dir is None:
            raise ControlPlaneError("control plane not started")
        return self._dir

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = find_binaries()
        return self._bin_dir

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig (client certificate in group system:masters)."""
        return self.dir / "admin.kubeconfig"

    @property
    def server(self) -> str:
        if "apiserver" not in self._ports:
            raise ControlPlaneError("control plane not started")
        return f"https://{self.address}:{self._ports['apiserver']}"

    @property
    def ca_file(self) -> Path:
        return self.dir / "pki" / "ca.crt"

    @property
    def ca(self) -> CertificateAuthority:
        """The cluster CA: API clients and kubelets present certificates it issued."""
        if self._ca is None:
            raise ControlPlaneError("control plane not started")
        return self._ca

    @property
    def pids(self) -> dict[str, int]:
        """Process id (= process group id) of each running component."""
        return self._supervisor.pids if self._supervisor else {}

    def log_path(self, component: str) -> Path:
        return self.dir / "logs" / f"{component}.log"

    def kubectl(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = 120.0,
        kubeconfig: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl against this cluster (admin unless ``kubeconfig`` is given)."""
        cmd = [str(self.bin_dir / "kubectl"), f"--kubeconfig={kubeconfig or self.kubeconfig}", *args]
        env = {**os.environ, "KUBECACHEDIR": str(self.dir / "kubectl-cache")}
        env.pop("KUBECONFIG", None)
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=env, check=False)
        if check and proc.returncode != 0:
            raise KubectlError(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc

    def client_kubeconfig(self, name: str, common_name: str, organizations: Sequence[str] = ()) -> Path:
        """``<dir>/<name>.kubeconfig`` authenticating with a new client certificate for that user and groups."""
        pair = self.ca.issue(self.dir / "pki", name, common_name, organizations)
        return self.write_kubeconfig(
            self.dir / f"{name}.kubeconfig",
            common_name,
            {"client-certificate": str(pair.cert), "client-key": str(pair.key)},
        )

    def write_kubeconfig(self, path: Path, user: str, credentials: dict[str, str], namespace: str = "default") -> Path:
        return write_kubeconfig(
            path, server=self.server, ca_file=self.ca_file, user=user, credentials=credentials, namespace=namespace
        )

    def kubeconfig_as(self, service_account: str, namespace: str, *, duration: str = "24h") -> Path:
        """A kubeconfig that authenticates *as* ``system:serviceaccount:<namespace>:<service_account>``.

        Token based: a bound token from the TokenRequest API (``kubectl create token``), exactly
        what a pod running under that service account presents, so RBAC decides every request
        with no impersonation rights involved. The service account must exist.
        """
        token = self.kubectl(
            "create", "token", service_account, "-n", namespace, f"--duration={duration}"
        ).stdout.strip()
        path = self.dir / "kubeconfigs" / f"sa-{namespace}-{service_account}.kubeconfig"
        user = f"system:serviceaccount:{namespace}:{service_account}"
        return self.write_kubeconfig(path, user, {"token": token}, namespace=namespace)

    def start(self) -> ControlPlane:
        with self._lock:
            if self._started:
                raise ControlPlaneError("a ControlPlane can be started only once")
            self._started = True
        timings = _Timings()
        try:
            self._signals.install()
            atexit.register(self.stop)
            bin_dir = self.bin_dir
            timings.mark("binaries")
            self._dir = Path(tempfile.mkdtemp(prefix="modelops-cp-"))
            (self._dir / "kubeconfigs").mkdir()
            self._supervisor = Supervisor(self._dir / "logs")
            names = ["etcd", "etcd-peer", "controller-manager", "scheduler", "kwok"]
            self._ports = dict(zip(names, free_ports(len(names)), strict=True))
            self._ports["apiserver"] = free_ports(1, self.address)[0]
            self._write_pki()
            timings.mark("pki")
            self._start_etcd(bin_dir)
            self._wait("etcd", self._etcd_healthy, timings)
            self._start_apiserver(bin_dir)
            self._wait("kube-apiserver", self._apiserver_ready, timings)
            self._start_controller_manager(bin_dir)
            self._start_scheduler(bin_dir)
            if self.nodes:
                self._start_kwok(bin_dir)
                self._register_nodes()
                timings.mark("nodes-registered")
            self._wait("kube-scheduler", lambda: self._healthz("scheduler"), timings)
            self._wait("kube-controller-manager", lambda: self._healthz("controller-manager"), timings)
            if self.nodes:
                self._wait("kwok", self._nodes_ready, timings, what="nodes Ready")
            self._wait("kube-controller-manager", self._default_service_account, timings, what="default/default SA")
        except BaseException:
            self._failed = True  # keep the logs the error message points at
            self.stop()
            raise
        self.timings = timings.phases
        self.startup_seconds = round(time.monotonic() - timings.started, 3)
        return self

    def stop(self) -> None:
        """Stop every component (SIGTERM, then SIGKILL after a grace period). Idempotent."""
        with self._lock:
            if self._stopped or not self._started:
                self._stopped = True
                return
            self._stopped = True
        with self._signals.blocked():
            # etcd last: kube-apiserver shuts down in about a second while etcd answers, but
            # hangs in retries when both get SIGTERM together.
            if self._supervisor is not None:
                self._supervisor.stop(last={"etcd"})
            self._signals.restore()
            atexit.unregister(self.stop)
            if self._dir is not None and not self.keep_dir:
                if self._failed:
                    for sub in ("etcd", "pki", "kubeconfigs"):
                        shutil.rmtree(self._dir / sub, ignore_errors=True)
                else:
                    shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def iter_logs(self) -> Iterator[tuple[str, Path]]:
        """(component, log path) of every started component."""
        for comp in self._supervisor.components if self._supervisor else []:
            yield comp.name, comp.log_path

    # ------------------------------------------------------------------ files

    def _write_pki(self) -> None:
        pki = self.dir / "pki"
        self._ca = ca = CertificateAuthority.create("modelops-test-ca")
        ca.write(pki / "ca.crt", pki / "ca.key")
        service_ip = str(next(ipaddress.ip_network(SERVICE_CIDR).hosts()))
        ca.issue(
            pki,
            "apiserver",
            "kube-apiserver",
            server=True,
            dns_names=[
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            ips=sorted({"127.0.0.1", self.address, service_ip}),
        )
        # what kube-apiserver presents to kubelets (logs, exec, port-forward)
        ca.issue(pki, "apiserver-kubelet-client", "kube-apiserver-kubelet-client", ["system:masters"])
        self.client_kubeconfig("admin", "modelops-admin", ["system:masters"])
        self.client_kubeconfig("controller-manager", "system:kube-controller-manager")
        self.client_kubeconfig("scheduler", "system:kube-scheduler")
        self.client_kubeconfig("kwok", "kwok-controller", ["system:masters"])
        front_ca = CertificateAuthority.create("modelops-front-proxy-ca")
        front_ca.write(pki / "front-proxy-ca.crt", pki / "front-proxy-ca.key")
        front_ca.issue(pki, "front-proxy-client", "front-proxy-client")
        sa_key = new_key()
        write_secret(pki / "sa.key", key_pem(sa_key))
        write_secret(pki / "sa.pub", public_key_pem(sa_key), 0o644)
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self._ssl = ctx

    # ------------------------------------------------------------------ components

    def _spawn(self, bin_dir: Path, name: str, args: list[str]) -> None:
        """Start component ``name``: the binary of that name in ``bin_dir`` with ``args``."""
        assert self._supervisor is not None
        env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "ETCDCTL_API")}
        self._supervisor.spawn(name, [str(bin_dir / name), *args], cwd=self.dir, env=env)

    def _start_etcd(self, bin_dir: Path) -> None:
        client = f"http://127.0.0.1:{self._ports['etcd']}"
        peer = f"http://127.0.0.1:{self._ports['etcd-peer']}"
        self._spawn(
            bin_dir,
            "etcd",
            [
                "--name=modelops",
                f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=modelops={peer}",
                "--initial-cluster-state=new",
                "--unsafe-no-fsync=true",
                "--quota-backend-bytes=2147483648",
                "--log-level=warn",
            ],
        )

    def _start_apiserver(self, bin_dir: Path) -> None:
        pki = self.dir / "pki"
        # The default/kubernetes endpoints may not point at loopback, and nothing in-cluster needs
        # them there (pods are kwok's or local processes): maintain them only on a real address.
        reconciler = "none" if ipaddress.ip_address(self.address).is_loopback else "lease"
        self._spawn(
            bin_dir,
            "kube-apiserver",
            [
                f"--etcd-servers=http://127.0.0.1:{self._ports['etcd']}",
                f"--bind-address={self.address}",
                f"--advertise-address={self.address}",
                f"--secure-port={self._ports['apiserver']}",
                f"--cert-dir={self.dir / 'apiserver'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                f"--service-account-issuer={SA_ISSUER}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allow-privileged=true",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
                f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
                f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
                "--enable-aggregator-routing=true",
                # kubelets are dialled by address (node names resolve nowhere) and verified by the CA
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
                f"--kubelet-certificate-authority={pki / 'ca.crt'}",
                f"--endpoint-reconciler-type={reconciler}",
                "--v=1",
                *self.extra_apiserver_args,
            ],
        )

    def _start_controller_manager(self, bin_dir: Path) -> None:
        pki = self.dir / "pki"
        self._spawn(
            bin_dir,
            "kube-controller-manager",
            [
                *self._loopback_component_args("controller-manager"),
                f"--cert-dir={self.dir / 'controller-manager'}",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                "--horizontal-pod-autoscaler-sync-period=5s",
                *self.extra_controller_manager_args,
            ],
        )

    def _start_scheduler(self, bin_dir: Path) -> None:
        self._spawn(bin_dir, "kube-scheduler", self._loopback_component_args("scheduler"))

    def _loopback_component_args(self, component: str) -> list[str]:
        """The flags kube-controller-manager and kube-scheduler share.

        Each talks to the API server with its own kubeconfig (``<component>.kubeconfig``,
        also used to delegate authentication and authorization of its /healthz), serves
        /healthz on loopback at the port picked for it, and runs alone: no leader election.
        """
        kubeconfig = self.dir / f"{component}.kubeconfig"
        return [
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self._ports[component]}",
            "--leader-elect=false",
            "--profiling=false",
            "--v=1",
        ]

    def _start_kwok(self, bin_dir: Path) -> None:
        config = write_secret(
            self.dir / "kwok.yaml",
            yaml.safe_dump_all(kwok_stages(self.manual_pod_selector), sort_keys=False).encode(),
            0o644,
        )
        key, value = NODE_ANNOTATION
        self._spawn(
            bin_dir,
            "kwok",
            [
                f"--kubeconfig={self.dir / 'kwok.kubeconfig'}",
                f"--config={config}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={key}={value}",
                f"--server-address=127.0.0.1:{self._ports['kwok']}",
                "--node-ip=127.0.0.1",
                f"--cidr={POD_CIDR}",
                "--node-lease-duration-seconds=40",
            ],
        )

    def _register_nodes(self) -> None:
        key, value = NODE_ANNOTATION
        items: list[dict[str, Any]] = []
        for i, name in enumerate(self.node_names):
            items.append(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": name,
                        "annotations": {key: value, "node.alpha.kubernetes.io/ttl": "0"},
                        "labels": {
                            "kubernetes.io/hostname": name,
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                            "node-role.kubernetes.io/agent": "",
                            "topology.kubernetes.io/zone": f"zone-{'abc'[i % 3]}",
                            "type": "kwok",
                        },
                    },
                    "status": {
                        "capacity": dict(self.node_capacity),
                        "allocatable": dict(self.node_capacity),
                        "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux"},
                    },
                }
            )
        for node in items:
            status, body = self._api("POST", "/api/v1/nodes", node)
            if status not in (200, 201, 409):
                raise ControlPlaneError(f"creating node {node['metadata']['name']}: HTTP {status}: {body!r}")

    # ------------------------------------------------------------------ readiness

    def _api(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=5) as resp:
                return int(resp.status), bytes(resp.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())

    def _check_alive(self) -> None:
        dead = self._supervisor.dead() if self._supervisor else None
        if dead is not None:
            message = f"{dead.name} exited with code {dead.proc.returncode} during start-up"
            raise ControlPlaneError(dead.failure(message))

    def _wait(self, component: str, ready: Callable[[], bool], timings: _Timings, what: str = "") -> None:
        deadline = timings.started + self.start_timeout
        delay = 0.05
        while True:
            self._check_alive()
            with contextlib.suppress(OSError, ValueError):
                if ready():
                    timings.mark(what or component)
                    return
            if time.monotonic() > deadline:
                assert self._supervisor is not None
                comp = self._supervisor.get(component)
                message = f"{component}: {what or 'readiness'} not reached within {self.start_timeout:.0f}s"
                raise ControlPlaneError(comp.failure(message))
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def _etcd_healthy(self) -> bool:
        url = f"http://127.0.0.1:{self._ports['etcd']}/health"
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(json.loads(resp.read()).get("health") == "true")

    def _apiserver_ready(self) -> bool:
        status, body = self._api("GET", "/readyz")
        return status == 200 and body.strip() == b"ok"

    def _healthz(self, component: str) -> bool:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # self-signed serving cert of a loopback component
        url = f"https://127.0.0.1:{self._ports[component]}/healthz"
        with urllib.request.urlopen(url, context=ctx, timeout=2) as resp:
            return bool(resp.status == 200)

    def _nodes_ready(self) -> bool:
        status, body = self._api("GET", "/api/v1/nodes?labelSelector=type%3Dkwok")
        if status != 200:
            return False
        ready = {
            item["metadata"]["name"]
            for item in json.loads(body)["items"]
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in item.get("status", {}).get("conditions") or []
            )
        }
        return ready >= set(self.node_names)

    def _default_service_account(self) -> bool:
        status, _ = self._api("GET", "/api/v1/namespaces/default/serviceaccounts/default")
        return status == 200
