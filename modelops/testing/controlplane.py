"""A real Kubernetes control plane on loopback, for integration tests.

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
    Priority and Fairness is switched off, to keep it light on two cores.

kube-controller-manager
    Turns the API into a cluster: Deployment -> ReplicaSet -> Pod, Job -> Pod
    and Job completion, garbage collection through ownerReferences (an
    operator's children die with their owner), the HPA controller, namespace
    deletion, the service-account and token controllers. Every controller runs
    with its own service-account credentials (``--use-service-account-credentials``),
    as in kubeadm clusters, and a CSR signer is configured with the test CA.

kube-scheduler
    Binds pods to nodes; without it every pod stays Pending forever.

kwok
    Plays the kubelet of a few fake nodes (``--manage-all-nodes=false``: only
    nodes annotated ``kwok.x-k8s.io/node=fake`` are managed). It keeps the nodes
    Ready through node leases and moves their pods through *Stages*
    (``kind: Stage, apiVersion: kwok.x-k8s.io/v1alpha1``, written to
    ``kwok.yaml`` in the temp dir): scheduled pods become Running and Ready,
    pods owned by a Job then Succeed, deleted pods are removed. Pods matching
    ``manual_pod_selector`` are excluded from the first two stages: after the
    scheduler binds them nothing touches them, so a test can "be the kubelet"
    for them (see :class:`modelops.testing.kubelet.ProcessKubelet`). Deletion
    still applies to them, so namespaces always finish terminating.

Certificates (one ECDSA P-256 CA signing the API server's serving certificate
and a client certificate per component, a separate front-proxy CA, and the
service-account signing key) are generated at start-up with ``cryptography``;
ECDSA keys take microseconds, so nothing needs caching.

Binaries come from ``hack/build-controlplane.sh``, which builds them once per
version from the Go module proxy and prints their directory (a cached run
takes milliseconds). ``MODELOPS_CONTROLPLANE_BIN_DIR`` points at a directory of
ready binaries instead, and the script itself honours ``ETCD_BIN``,
``KUBE_APISERVER_BIN`` and friends.

Process hygiene: every component runs in its own session (process group) with
``PR_SET_PDEATHSIG=SIGKILL`` when started from the main thread, logs to
``<dir>/logs/<component>.log``, and :meth:`ControlPlane.stop` SIGTERMs every
group, waits, then SIGKILLs what is left. ``stop`` runs on leaving the ``with``
block (also on exceptions and Ctrl-C, which arrives as KeyboardInterrupt), from
a SIGTERM/SIGHUP handler (after which the signal's previous disposition is
applied, so the process still dies) and at interpreter exit. A failed start
raises :class:`ControlPlaneError` whose message ends with the tail of the
failing component's log (the logs stay in the temp dir after a failed start). Set
``MODELOPS_KEEP_CONTROLPLANE=1`` (or ``keep_dir=True``) to keep the whole temp dir
(logs, certificates, etcd data) after a successful run too.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import socket
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
from types import FrameType, TracebackType
from typing import IO, Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "KWOK_NODE_ANNOTATION",
    "REQUIRED_BINARIES",
    "ControlPlane",
    "ControlPlaneError",
    "KubectlError",
    "find_binaries",
    "kwok_stages",
    "selector_to_jq",
]

REQUIRED_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok")
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
_BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "hack" / "build-controlplane.sh"
_LOG_TAIL_LINES = 40
_STOP_GRACE_SECONDS = 5.0


class ControlPlaneError(RuntimeError):
    """The control plane failed to start or a component died."""


class KubectlError(subprocess.CalledProcessError):
    """A failed kubectl call; unlike CalledProcessError its message shows stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr: {(self.stderr or '').strip()}"


# --------------------------------------------------------------------------- binaries


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


# --------------------------------------------------------------------------- PKI


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _cert_builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, *, ca: bool
) -> x509.CertificateBuilder:
    """What the CA and the certificates it issues share: a month's validity (from an hour ago,
    against clock skew) and key usages that only a CA may sign certificates with."""
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )


@dataclass(frozen=True)
class _CA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, common_name: str) -> _CA:
        key = _new_key()
        subject = _name(common_name)
        cert = (
            _cert_builder(subject, subject, key, ca=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def issue(
        self,
        common_name: str,
        organizations: Sequence[str] = (),
        *,
        server: bool = False,
        dns_names: Sequence[str] = (),
        ips: Sequence[str] = (),
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = _new_key()
        builder = (
            _cert_builder(_name(common_name, organizations), self.cert.subject, key, ca=False)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH] if server else [ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if dns_names or ips:
            sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
            sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, builder.sign(self.key, hashes.SHA256())


# --------------------------------------------------------------------------- kwok stages


def _parse_selector(selector: str) -> list[tuple[str, str, str]]:
    """Parse an equality-based label selector into (key, op, value), op in =, !=, exists, !exists."""
    terms: list[tuple[str, str, str]] = []
    for raw in selector.split(","):
        term = raw.strip()
        if not term:
            continue
        if "!=" in term:
            key, value = term.split("!=", 1)
            terms.append((key.strip(), "!=", value.strip()))
        elif "==" in term:
            key, value = term.split("==", 1)
            terms.append((key.strip(), "=", value.strip()))
        elif "=" in term:
            key, value = term.split("=", 1)
            terms.append((key.strip(), "=", value.strip()))
        elif term.startswith("!"):
            terms.append((term[1:].strip(), "!exists", ""))
        elif " " in term or "(" in term:
            raise ValueError(f"only equality-based label selectors are supported, not {term!r}")
        else:
            terms.append((term, "exists", ""))
    if not terms:
        raise ValueError(f"empty label selector {selector!r}")
    return terms


def selector_to_jq(selector: str) -> str:
    """A jq expression (kwok's selector language) that is ``true`` for objects matching the selector."""
    parts = []
    for key, op, value in _parse_selector(selector):
        label = f".metadata.labels[{json.dumps(key)}]"
        if op == "=":
            parts.append(f"({label} == {json.dumps(value)})")
        elif op == "!=":
            parts.append(f"({label} != {json.dumps(value)})")
        elif op == "exists":
            parts.append(f"({label} != null)")
        else:
            parts.append(f"({label} == null)")
    return " and ".join(parts)


_NODE_CONDITIONS_TEMPLATE = """{{ $now := Now }}
{{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
conditions:
{{ range NodeConditions }}
- lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $lastTransitionTime | Quote }}
  message: {{ .message | Quote }}
  reason: {{ .reason | Quote }}
  status: {{ .status | Quote }}
  type: {{ .type | Quote }}
{{ end }}
addresses:
{{ with .status.addresses }}
{{ YAML . 0 }}
{{ else }}
- address: {{ NodeIP | Quote }}
  type: InternalIP
- address: {{ .metadata.name | Quote }}
  type: Hostname
{{ end }}
"""

_NODE_INIT_TEMPLATE = (
    _NODE_CONDITIONS_TEMPLATE
    + """allocatable:
{{ with .status.allocatable }}
{{ YAML . 1 }}
{{ else }}
  cpu: "8"
  memory: 32Gi
  pods: "110"
{{ end }}
capacity:
{{ with .status.capacity }}
{{ YAML . 1 }}
{{ else }}
  cpu: "8"
  memory: 32Gi
  pods: "110"
{{ end }}
{{ $info := .status.nodeInfo }}
{{ $kwok := printf "kwok-%s" Version }}
nodeInfo:
  architecture: {{ or $info.architecture "amd64" }}
  bootID: {{ or $info.bootID `""` }}
  containerRuntimeVersion: {{ or $info.containerRuntimeVersion $kwok }}
  kernelVersion: {{ or $info.kernelVersion $kwok }}
  kubeProxyVersion: {{ or $info.kubeProxyVersion $kwok }}
  kubeletVersion: {{ or $info.kubeletVersion $kwok }}
  machineID: {{ or $info.machineID `""` }}
  operatingSystem: {{ or $info.operatingSystem "linux" }}
  osImage: {{ or $info.osImage `""` }}
  systemUUID: {{ or $info.systemUUID `""` }}
phase: Running
"""
)

_POD_READY_TEMPLATE = """{{ $now := Now }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: PodReadyToStartContainers
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Initialized
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Ready
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: ContainersReady
{{ range .spec.readinessGates }}
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: {{ .conditionType | Quote }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
initContainerStatuses:
{{ range .spec.initContainers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  restartCount: 0
  {{ if eq .restartPolicy "Always" }}
  started: true
  state:
    running:
      startedAt: {{ $now | Quote }}
  {{ else }}
  state:
    terminated:
      exitCode: 0
      finishedAt: {{ $now | Quote }}
      reason: Completed
      startedAt: {{ $now | Quote }}
  {{ end }}
{{ end }}
{{ with NodeIPsWith .spec.nodeName }}
hostIP: {{ index . 0 | Quote }}
hostIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
{{ $uid := or .metadata.uid "" }}
{{ $name := or .metadata.name "" }}
{{ $namespace := or .metadata.namespace "" }}
{{ with PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) $uid $name $namespace }}
podIP: {{ index . 0 | Quote }}
podIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
phase: Running
startTime: {{ $now | Quote }}
"""

_POD_COMPLETE_TEMPLATE = """{{ $now := Now }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  reason: PodCompleted
  status: "False"
  type: Ready
- lastTransitionTime: {{ $now | Quote }}
  reason: PodCompleted
  status: "False"
  type: ContainersReady
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  started: false
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      finishedAt: {{ $now | Quote }}
      reason: Completed
      startedAt: {{ $now | Quote }}
{{ end }}
phase: Succeeded
"""


def _stage(
    name: str, kind: str, expressions: list[dict[str, Any]], next_: dict[str, Any], **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": kind},
            "selector": {"matchExpressions": expressions},
            "next": next_,
            **spec,
        },
    }


def kwok_stages(manual_pod_selector: str | None = None) -> list[dict[str, Any]]:
    """The Stage objects kwok runs: nodes Ready; pods Running+Ready, Job pods Succeeded, deletion.

    Pods matching ``manual_pod_selector`` get no Running/Succeeded stage.
    """
    alive = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}
    automatic = []
    if manual_pod_selector:
        automatic = [{"key": selector_to_jq(manual_pod_selector), "operator": "In", "values": ["false"]}]
    ready = '.status.conditions.[] | select( .type == "Ready" ) | .status'
    return [
        _stage(
            "node-initialize",
            "Node",
            [{"key": ready, "operator": "NotIn", "values": ["True"]}],
            {"statusTemplate": _NODE_INIT_TEMPLATE},
        ),
        _stage(
            "node-heartbeat-with-lease",
            "Node",
            [
                {"key": ".status.phase", "operator": "In", "values": ["Running"]},
                {"key": ready, "operator": "In", "values": ["True"]},
            ],
            {"statusTemplate": _NODE_CONDITIONS_TEMPLATE},
            delay={"durationMilliseconds": 60000, "jitterDurationMilliseconds": 65000},
        ),
        _stage(
            "pod-ready",
            "Pod",
            [
                alive,
                {"key": ".status.phase", "operator": "In", "values": ["Pending"]},
                {"key": ready, "operator": "NotIn", "values": ["True"]},
                *automatic,
            ],
            {"statusTemplate": _POD_READY_TEMPLATE},
        ),
        _stage(
            "pod-complete",
            "Pod",
            [
                alive,
                {"key": ".status.phase", "operator": "In", "values": ["Running"]},
                {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]},
                *automatic,
            ],
            {"statusTemplate": _POD_COMPLETE_TEMPLATE},
        ),
        _stage(
            "pod-delete",
            "Pod",
            [{"key": ".metadata.deletionTimestamp", "operator": "Exists"}],
            {"finalizers": {"empty": True}, "delete": True},
        ),
    ]


# --------------------------------------------------------------------------- processes


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all bound at once, so no duplicates)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        data = path.read_bytes()[-64 * 1024 :]
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


@dataclass
class _Component:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def error(self, message: str) -> ControlPlaneError:
        return ControlPlaneError(
            f"{message}\n--- last {_LOG_TAIL_LINES} lines of {self.log_path} ---\n{_tail(self.log_path)}"
        )


@dataclass
class _Timings:
    phases: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def mark(self, phase: str) -> None:
        self.phases[phase] = round(time.monotonic() - self.started, 3)


# --------------------------------------------------------------------------- the control plane


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok on loopback.

    Use as a context manager (``with ControlPlane() as cp: cp.kubectl("get", "nodes")``)
    or call :meth:`start` / :meth:`stop`. Several can run at once: every port is free-picked.

    Args:
        nodes: number of kwok nodes to register (``kwok-node-0`` ...).
        manual_pod_selector: equality-based label selector (e.g. ``"modelops.io/run-locally=true"``);
            matching pods are scheduled but never started/completed by kwok.
        bin_dir: directory with the binaries; default :func:`find_binaries`.
        node_capacity: capacity and allocatable of every node.
        start_timeout: seconds for the whole start-up.
        keep_dir: keep the temp dir (logs, certs) after stop; default from ``MODELOPS_KEEP_CONTROLPLANE``.
        extra_apiserver_args: appended to kube-apiserver's command line (e.g. ``--feature-gates=...``).
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
    ) -> None:
        if nodes < 1:
            raise ValueError("at least one node is needed")
        if manual_pod_selector:
            _parse_selector(manual_pod_selector)  # fail early on unsupported syntax
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
        self.node_names = [f"kwok-node-{i}" for i in range(nodes)]
        self.startup_seconds: float | None = None
        self.timings: dict[str, float] = {}
        self._dir: Path | None = None
        self._components: list[_Component] = []
        self._ports: dict[str, int] = {}
        self._lock = threading.Lock()
        self._started = False
        self._stopped = False
        self._failed = False
        self._ssl: ssl.SSLContext | None = None
        self._prev_handlers: dict[int, Any] = {}
        self._sa_kubeconfigs: dict[tuple[str, str], Path] = {}

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
        return f"https://127.0.0.1:{self._ports['apiserver']}"

    @property
    def ca_file(self) -> Path:
        return self.dir / "pki" / "ca.crt"

    @property
    def pids(self) -> dict[str, int]:
        """Process id (= process group id) of each running component."""
        return {c.name: c.proc.pid for c in self._components}

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
        self._write_kubeconfig(path, user, {"token": token}, namespace=namespace)
        self._sa_kubeconfigs[(namespace, service_account)] = path
        return path

    def start(self) -> ControlPlane:
        with self._lock:
            if self._started:
                raise ControlPlaneError("a ControlPlane can be started only once")
            self._started = True
        timings = _Timings()
        try:
            self._install_signal_handlers()
            atexit.register(self.stop)
            bin_dir = self.bin_dir
            timings.mark("binaries")
            self._dir = Path(tempfile.mkdtemp(prefix="modelops-cp-"))
            (self._dir / "logs").mkdir()
            (self._dir / "kubeconfigs").mkdir()
            names = ["etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok"]
            self._ports = dict(zip(names, _free_ports(len(names)), strict=True))
            self._write_pki()
            timings.mark("pki")
            self._start_etcd(bin_dir)
            self._wait("etcd", self._etcd_healthy, timings)
            self._start_apiserver(bin_dir)
            self._wait("kube-apiserver", self._apiserver_ready, timings)
            self._start_controller_manager(bin_dir)
            self._start_scheduler(bin_dir)
            self._start_kwok(bin_dir)
            self._register_nodes()
            timings.mark("nodes-registered")
            self._wait("kube-scheduler", lambda: self._healthz("scheduler"), timings)
            self._wait("kube-controller-manager", lambda: self._healthz("controller-manager"), timings)
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
        in_main = threading.current_thread() is threading.main_thread()
        blocked = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked) if in_main else None
        try:
            # etcd last: kube-apiserver shuts down in about a second while etcd answers, but
            # hangs in retries when both get SIGTERM together.
            clients = [c for c in reversed(self._components) if c.name != "etcd"]
            for tier in (clients, [c for c in self._components if c.name == "etcd"]):
                for comp in tier:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(comp.proc.pid, signal.SIGTERM)
                deadline = time.monotonic() + _STOP_GRACE_SECONDS
                for comp in tier:
                    try:
                        comp.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.killpg(comp.proc.pid, signal.SIGKILL)
                        comp.proc.wait()
                    # anything the component left behind in its process group
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(comp.proc.pid, signal.SIGKILL)
                    comp.log_file.close()
            self._restore_signal_handlers()
            atexit.unregister(self.stop)
            if self._dir is not None and not self.keep_dir:
                if self._failed:
                    for sub in ("etcd", "pki", "kubeconfigs"):
                        shutil.rmtree(self._dir / sub, ignore_errors=True)
                else:
                    shutil.rmtree(self._dir, ignore_errors=True)
        finally:
            if old_mask is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ signals

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGHUP):
            prev = signal.getsignal(signum)
            self._prev_handlers[signum] = prev

            def handler(num: int, frame: FrameType | None, prev: Any = prev) -> None:
                self.stop()
                signal.signal(num, prev if prev is not None else signal.SIG_DFL)
                if callable(prev):
                    prev(num, frame)
                elif prev != signal.SIG_IGN:
                    os.kill(os.getpid(), num)  # the default action: die, now without orphans

            signal.signal(signum, handler)

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, prev in self._prev_handlers.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, prev if prev is not None else signal.SIG_DFL)
        self._prev_handlers.clear()

    # ------------------------------------------------------------------ files

    def _write(self, relative: str, data: bytes | str, mode: int = 0o600) -> Path:
        path = self.dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        path.chmod(mode)
        return path

    def _write_pki(self) -> None:
        ca = _CA.create("modelops-test-ca")
        self._write("pki/ca.crt", _cert_pem(ca.cert), 0o644)
        self._write("pki/ca.key", _key_pem(ca.key))
        service_ip = str(next(ipaddress.ip_network(SERVICE_CIDR).hosts()))
        key, cert = ca.issue(
            "kube-apiserver",
            server=True,
            dns_names=[
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            ips=["127.0.0.1", service_ip],
        )
        self._write("pki/apiserver.crt", _cert_pem(cert), 0o644)
        self._write("pki/apiserver.key", _key_pem(key))
        clients = {
            "admin": ("modelops-admin", ["system:masters"]),
            "controller-manager": ("system:kube-controller-manager", []),
            "scheduler": ("system:kube-scheduler", []),
            "kwok": ("kwok-controller", ["system:masters"]),
        }
        for name, (common_name, orgs) in clients.items():
            key, cert = ca.issue(common_name, orgs)
            crt_path = self._write(f"pki/{name}.crt", _cert_pem(cert), 0o644)
            key_path = self._write(f"pki/{name}.key", _key_pem(key))
            self._write_kubeconfig(
                self.dir / f"{name}.kubeconfig",
                common_name,
                {"client-certificate": str(crt_path), "client-key": str(key_path)},
            )
        front_ca = _CA.create("modelops-front-proxy-ca")
        self._write("pki/front-proxy-ca.crt", _cert_pem(front_ca.cert), 0o644)
        key, cert = front_ca.issue("front-proxy-client")
        self._write("pki/front-proxy-client.crt", _cert_pem(cert), 0o644)
        self._write("pki/front-proxy-client.key", _key_pem(key))
        sa_key = _new_key()
        self._write("pki/sa.key", _key_pem(sa_key))
        self._write(
            "pki/sa.pub",
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            0o644,
        )
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.load_cert_chain(str(self.dir / "pki/admin.crt"), str(self.dir / "pki/admin.key"))
        self._ssl = ctx

    def _write_kubeconfig(self, path: Path, user: str, credentials: dict[str, str], namespace: str = "default") -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "modelops-test",
                    "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": user, "user": credentials}],
            "contexts": [
                {
                    "name": "modelops-test",
                    "context": {"cluster": "modelops-test", "user": user, "namespace": namespace},
                }
            ],
            "current-context": "modelops-test",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)

    # ------------------------------------------------------------------ components

    def _spawn(self, bin_dir: Path, name: str, args: list[str]) -> None:
        """Start component ``name``: the binary of that name in ``bin_dir`` with ``args``."""
        cmd = [str(bin_dir / name), *args]
        log_path = self.log_path(name)
        log_file = log_path.open("ab")
        log_file.write(f"$ {' '.join(cmd)}\n".encode())
        log_file.flush()
        preexec: Callable[[], None] | None = None
        if threading.current_thread() is threading.main_thread():
            preexec = _die_with_parent
        env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "ETCDCTL_API")}
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                env=env,
                start_new_session=True,
                preexec_fn=preexec,
            )
        except OSError:
            log_file.close()
            raise
        self._components.append(_Component(name, proc, log_path, log_file))

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
        self._spawn(
            bin_dir,
            "kube-apiserver",
            [
                f"--etcd-servers=http://127.0.0.1:{self._ports['etcd']}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
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
                # the default/kubernetes Endpoints may not point at loopback, and nothing in-cluster
                # needs them (pods are kwok's or local processes): don't maintain them.
                "--endpoint-reconciler-type=none",
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
        config = self._write(
            "kwok.yaml", yaml.safe_dump_all(kwok_stages(self.manual_pod_selector), sort_keys=False), 0o644
        )
        key, value = KWOK_NODE_ANNOTATION
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
        key, value = KWOK_NODE_ANNOTATION
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
        for comp in self._components:
            code = comp.proc.poll()
            if code is not None:
                raise comp.error(f"{comp.name} exited with code {code} during start-up")

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
                comp = next(c for c in self._components if c.name == component)
                raise comp.error(f"{component}: {what or 'readiness'} not reached within {self.start_timeout:.0f}s")
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

    def iter_logs(self) -> Iterator[tuple[str, Path]]:
        """(component, log path) of every started component."""
        for comp in self._components:
            yield comp.name, comp.log_path
