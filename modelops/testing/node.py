"""A real Kubernetes node beside a :class:`~modelops.testing.controlplane.ControlPlane`.

containerd (Debian's, with runc and the CNI bridge plugin), a kubelet registered as a real
Node, kube-proxy (iptables mode) and CoreDNS, all built or installed by the project's own
scripts (``hack/install-node-packages.sh``, ``hack/build-node.sh``), run as processes in the
node's network namespace (:mod:`modelops.testing.netns`), so pods and cluster addresses stay
on this machine. What each needs on this kind of machine (cgroup v1, no CAP_SYS_RESOURCE in
the bounding set, no registry) is set where it is configured, with the reason beside it.

Cluster DNS is CoreDNS as a process on the node address, behind the ``kube-system/kube-dns``
Service (ClusterIP ``10.96.0.10``) through an EndpointSlice the harness writes; it answers
for ``cluster.local`` only and forwards nothing, so no name lookup leaves the machine.

The node is one per machine (fixed namespace, cgroup and state directory names): its owner
holds :func:`modelops.testing.hostchanges.machine_lock`. :meth:`RealNode.stop` stops every
process (kubelet first, so nothing restarts) and kills what is left in the node's cgroup
(containers, shims); its owner then undoes the host changes (:func:`hostchanges.undo`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from modelops.testing import hostchanges
from modelops.testing.controlplane import POD_CIDR, REPO_ROOT, SERVICE_CIDR, ControlPlane
from modelops.testing.netns import NodeNetwork
from modelops.testing.processes import Supervisor

__all__ = ["CLUSTER_DNS_IP", "NODE_NAME", "STATE_DIR", "NodeError", "NodeImage", "RealNode", "find_node_binaries"]

NODE_NAME = "modelops-node"
STATE_DIR = Path("/var/lib/modelops-node")
CLUSTER_DNS_IP = str(ipaddress.ip_network(SERVICE_CIDR)[10])
NODE_POD_SUBNET = str(next(ipaddress.ip_network(POD_CIDR).subnets(new_prefix=24)))
CNI_BIN_DIR = "/usr/lib/cni"
NODE_BINARIES = ("kubelet", "kube-proxy", "coredns", "versitygw", "pause")


class NodeError(RuntimeError):
    """The node failed to start, or its machine is not fit for one."""


@dataclass(frozen=True)
class NodeImage:
    """An image archive to import into the node's containerd, and the name it is imported under."""

    name: str
    archive: Path


def _run_script(script: str) -> list[str]:
    path = REPO_ROOT / "hack" / script
    proc = subprocess.run(["bash", str(path)], stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise NodeError(f"{path} failed with exit code {proc.returncode}")
    return [line for line in proc.stdout.splitlines() if line.strip()]


def find_node_binaries() -> Path:
    """The directory of the node's binaries, installing packages and building them on first use."""
    _run_script("install-node-packages.sh")
    bin_dir = Path(_run_script("build-node.sh")[-1])
    missing = [name for name in NODE_BINARIES if not os.access(bin_dir / name, os.X_OK)]
    if missing:
        raise NodeError(f"{bin_dir} lacks {', '.join(missing)}")
    return bin_dir


def find_images() -> dict[str, NodeImage]:
    """The modelops image and the pause image (``hack/build-images.sh``), by their short name."""
    images = {}
    for line in _run_script("build-images.sh"):
        name, archive = line.split()
        short = name.rsplit("/", 1)[-1].split(":")[0]
        images[short] = NodeImage(name, Path(archive))
    return images


class RealNode:
    """containerd + kubelet + kube-proxy + CoreDNS for ``control_plane``, in ``network``.

    ``images`` are imported into containerd before the kubelet starts; the one named
    ``modelops-pause`` is the pod sandbox image.
    """

    def __init__(
        self,
        control_plane: ControlPlane,
        network: NodeNetwork,
        images: Sequence[NodeImage],
        *,
        log_dir: Path,
        bin_dir: Path | None = None,
        start_timeout: float = 120.0,
    ) -> None:
        self.control_plane = control_plane
        self.network = network
        self.images = list(images)
        self._bin_dir = bin_dir
        self.start_timeout = start_timeout
        self.dir = STATE_DIR
        self.timings: dict[str, float] = {}
        self._supervisor = Supervisor(log_dir)

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = find_node_binaries()
        return self._bin_dir

    @property
    def containerd_socket(self) -> Path:
        return self.dir / "containerd" / "containerd.sock"

    @property
    def pause_image(self) -> str:
        (pause,) = [image.name for image in self.images if "modelops-pause" in image.name]
        return pause

    @property
    def pids(self) -> dict[str, int]:
        return self._supervisor.pids

    # ------------------------------------------------------------------ life

    def start(self) -> RealNode:
        started = time.monotonic()

        def mark(phase: str) -> None:
            self.timings[phase] = round(time.monotonic() - started, 3)

        try:
            bin_dir = self.bin_dir
            hostchanges.record()
            self.dir.mkdir(parents=True, exist_ok=True)
            self._make_cgroups()
            self._write_pki()
            self._start_containerd()
            self._wait("containerd", self._containerd_ready)
            mark("containerd")
            self._import_images()
            mark("images")
            self._start_kubelet(bin_dir)
            self._wait("kubelet", self._node_ready, what="Node Ready")
            mark("node-ready")
            self._start_kube_proxy(bin_dir)
            self._start_coredns(bin_dir)
            self._wait("coredns", self._dns_ready, what="serving cluster DNS")
            mark("dns")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the node and undo its host changes; the network is its owner's to destroy."""
        # the kubelet first, so that nothing restarts the containers killed next
        self._supervisor.terminate("kubelet")
        hostchanges.kill_cgroup()
        self._supervisor.stop()
        hostchanges.unmount_under([self.dir])

    def _wait(self, component: str, ready: Callable[[], bool], *, what: str = "ready") -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            dead = self._supervisor.dead()
            if dead is not None:
                raise NodeError(dead.failure(f"{dead.name} exited with code {dead.proc.returncode} during start-up"))
            with contextlib.suppress(OSError, ValueError, subprocess.SubprocessError):
                if ready():
                    return
            if time.monotonic() > deadline:
                message = f"{component}: {what} not reached within {self.start_timeout:.0f}s"
                raise NodeError(self._supervisor.get(component).failure(message))
            time.sleep(0.2)

    def _spawn(self, name: str, cmd: list[str], cgroup: str) -> None:
        """Start ``cmd`` in the node's network namespace, in cgroup ``<node>/<cgroup>`` of every hierarchy."""
        component = self._supervisor.spawn(name, [*self.network.enter(), *cmd], cwd=self.dir)
        # moved before it starts children: containerd's shims and their containers follow it
        for hierarchy in hostchanges.hierarchies():
            with contextlib.suppress(OSError):
                (hierarchy / hostchanges.CGROUP_NAME / cgroup / "cgroup.procs").write_text(str(component.proc.pid))

    def _make_cgroups(self) -> None:
        """The kubelet's cgroup root and the runtime's cgroup, in every hierarchy."""
        for hierarchy in hostchanges.hierarchies():
            for sub in ("", "runtime"):
                folder = hierarchy / hostchanges.CGROUP_NAME / sub
                folder.mkdir(exist_ok=True)
                if hierarchy.name == "cpuset":  # an empty cpuset admits no process
                    for knob in ("cpuset.cpus", "cpuset.mems"):
                        (folder / knob).write_text((folder.parent / knob).read_text())

    # ------------------------------------------------------------------ certificates

    def _write_pki(self) -> None:
        cp = self.control_plane
        pki = self.dir / "pki"
        cp.ca.issue(pki, "kubelet-serving", NODE_NAME, server=True, dns_names=[NODE_NAME], ips=[self.network.node_ip])
        # the Node authorizer and NodeRestriction know a kubelet by this name and group
        self._kubeconfig("kubelet", f"system:node:{NODE_NAME}", ["system:nodes"])
        # bound to the system:node-proxier ClusterRole by the API server's default policy
        self._kubeconfig("kube-proxy", "system:kube-proxy")
        self._kubeconfig("coredns", "modelops:coredns")

    def _kubeconfig(self, name: str, user: str, groups: Sequence[str] = ()) -> Path:
        pair = self.control_plane.ca.issue(self.dir / "pki", name, user, groups)
        return self.control_plane.write_kubeconfig(
            self.dir / f"{name}.kubeconfig", user, {"client-certificate": str(pair.cert), "client-key": str(pair.key)}
        )

    # ------------------------------------------------------------------ containerd

    def _start_containerd(self) -> None:
        root = self.dir / "containerd"
        cni_conf = self.dir / "cni" / "net.d"
        cni_conf.mkdir(parents=True)
        (cni_conf / "10-modelops.conflist").write_text(json.dumps(self._cni_config(), indent=2))
        config = f"""version = 2
root = "{root}/root"
state = "{root}/state"
[grpc]
  address = "{self.containerd_socket}"
[ttrpc]
  address = "{root}/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{self.pause_image}"
  # The VM's capability bounding set lacks CAP_SYS_RESOURCE: the pause container's
  # oom_score_adj of -998 fails runc with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{root}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{cni_conf}"
"""
        path = root / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config)
        self._spawn("containerd", ["containerd", f"--config={path}", "--log-level=warn"], "runtime")

    def _cni_config(self) -> dict[str, Any]:
        return {
            "cniVersion": "0.4.0",
            "name": "modelops",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": "cni0",
                    "isGateway": True,
                    # pods reach the host end of the veth as the node address: the host has no
                    # route back to pod addresses, and must not
                    "ipMasq": True,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": NODE_POD_SUBNET}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.dir / "cni" / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }

    def ctr(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ctr", f"--address={self.containerd_socket}", "--namespace=k8s.io", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )

    def _containerd_ready(self) -> bool:
        return self.containerd_socket.exists() and self.ctr("version", timeout=5).returncode == 0

    def _import_images(self) -> None:
        for image in self.images:
            try:
                self.ctr("images", "import", "--no-unpack=false", str(image.archive), timeout=600)
            except subprocess.CalledProcessError as exc:
                raise NodeError(f"importing {image.archive}: {exc.stderr}") from exc

    # ------------------------------------------------------------------ kubelet

    def _start_kubelet(self, bin_dir: Path) -> None:
        pki = self.dir / "pki"
        resolv = self.dir / "resolv.conf"
        # pods' upstream resolvers: none, so no lookup leaves the machine
        resolv.write_text("# no upstream nameserver: cluster DNS only\n")
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            # 1.35+ refuses cgroup v1 unless told; this machine has only v1 controllers
            "failCgroupV1": False,
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": f"/{hostchanges.CGROUP_NAME}",
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(self.control_plane.ca_file)},
            },
            "authorization": {"mode": "Webhook"},
            "tlsCertFile": str(pki / "kubelet-serving.crt"),
            "tlsPrivateKeyFile": str(pki / "kubelet-serving.key"),
            "address": self.network.node_ip,
            "healthzBindAddress": "127.0.0.1",
            "clusterDNS": [CLUSTER_DNS_IP],
            "clusterDomain": "cluster.local",
            "resolvConf": str(resolv),
            "podLogsDir": str(self.dir / "pod-logs"),
            "failSwapOn": False,
            "serializeImagePulls": False,
            "imageGCHighThresholdPercent": 100,
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "syncFrequency": "10s",
            "nodeStatusReportFrequency": "10s",
            "fileCheckFrequency": "10s",
        }
        path = self.dir / "kubelet-config.yaml"
        path.write_text(yaml.safe_dump(config))
        self._spawn(
            "kubelet",
            [
                str(bin_dir / "kubelet"),
                f"--config={path}",
                f"--kubeconfig={self.dir / 'kubelet.kubeconfig'}",
                f"--root-dir={self.dir / 'kubelet'}",
                f"--cert-dir={pki}",
                f"--node-ip={self.network.node_ip}",
                f"--hostname-override={NODE_NAME}",
                "--v=1",
            ],
            "runtime",
        )

    def _node_ready(self) -> bool:
        proc = self.control_plane.kubectl("get", "node", NODE_NAME, "-o", "json", check=False, timeout=10)
        if proc.returncode != 0:
            return False
        conditions = json.loads(proc.stdout).get("status", {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    # ------------------------------------------------------------------ kube-proxy and DNS

    def _start_kube_proxy(self, bin_dir: Path) -> None:
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self.dir / "kube-proxy.kubeconfig")},
            "mode": "iptables",
            "clusterCIDR": POD_CIDR,
            "hostnameOverride": NODE_NAME,
            "bindAddress": self.network.node_ip,
            "healthzBindAddress": "127.0.0.1:10256",
            "metricsBindAddress": "127.0.0.1:10249",
            # conntrack limits are machine-wide knobs: leave them alone
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        }
        path = self.dir / "kube-proxy-config.yaml"
        path.write_text(yaml.safe_dump(config))
        self._spawn("kube-proxy", [str(bin_dir / "kube-proxy"), f"--config={path}", "--v=1"], "runtime")

    def _start_coredns(self, bin_dir: Path) -> None:
        cp = self.control_plane
        cp.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(self._dns_objects()))
        corefile = self.dir / "Corefile"
        corefile.write_text(
            f""".:53 {{
    bind {self.network.node_ip}
    errors
    ready {self.network.node_ip}:8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {self.dir / "coredns.kubeconfig"}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
}}
"""
        )
        self._spawn("coredns", [str(bin_dir / "coredns"), "-conf", str(corefile)], "runtime")

    def _dns_objects(self) -> list[dict[str, Any]]:
        """RBAC for CoreDNS, the kube-dns Service and its EndpointSlice on the node address."""
        labels = {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}
        return [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "modelops:coredns"},
                "rules": [
                    {"apiGroups": [""], "resources": ["services", "namespaces", "pods"], "verbs": ["list", "watch"]},
                    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "modelops:coredns"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "modelops:coredns"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "modelops:coredns"}],
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
                "spec": {
                    "clusterIP": CLUSTER_DNS_IP,
                    "ports": [
                        {"name": "dns", "port": 53, "protocol": "UDP"},
                        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                    ],
                },
            },
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": "kube-dns-node",
                    "namespace": "kube-system",
                    "labels": {
                        "kubernetes.io/service-name": "kube-dns",
                        "endpointslice.kubernetes.io/managed-by": "modelops-node-harness",
                    },
                },
                "addressType": "IPv4",
                "endpoints": [{"addresses": [self.network.node_ip], "conditions": {"ready": True}}],
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                ],
            },
        ]

    def _dns_ready(self) -> bool:
        """CoreDNS's ``ready`` plugin answers 200 once the kubernetes plugin has synced."""
        probe = f"import urllib.request as u; u.urlopen('http://{self.network.node_ip}:8181/ready', timeout=2)"
        return self.network.run("python3", "-c", probe, check=False).returncode == 0
