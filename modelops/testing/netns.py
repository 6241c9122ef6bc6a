"""The real node's network: a network namespace joined to this machine by one veth pair.

Cluster addresses (the pod and service CIDRs) must never leave the machine. So the node's
components and every pod live in a network namespace the harness creates, whose only links
are loopback, the node end of a veth pair on a private /30 that exists only on this machine
(``10.250.250.0/30``: host end ``.1``, node end ``.2``) and, once pods run, the CNI bridge;
it has **no default route**, so a packet to an address that is neither on the /30 nor on the
bridge is refused inside the namespace. Pods reach the host end (the API server and the S3
server listen there) through the bridge's masquerade, so the host only ever sees the node
address. The host itself gets ``unreachable`` routes for both cluster CIDRs while the node
runs: a host process that dials a cluster address (e.g. the API server's service proxy) gets
"No route to host" at once instead of sending the packet out of the default route.

Only the network namespace is entered (``nsenter --net``): kubelet and containerd must share
the host's mount namespace, or volumes the kubelet mounts are invisible to runc.
"""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NodeNetwork", "NodeNetworkError", "RouteCheck"]

NETNS_DIR = Path("/run/netns")


class NodeNetworkError(RuntimeError):
    """The node's namespace could not be made, or a cluster address could leave the machine."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise NodeNetworkError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


@dataclass(frozen=True)
class RouteCheck:
    """Where a packet to ``address`` would go: ``where`` is ``ip route get``'s answer or its refusal."""

    side: str
    address: str
    where: str
    stays: bool


@dataclass(frozen=True)
class NodeNetwork:
    name: str = "modelops-node"
    host_if: str = "mo-host0"
    node_if: str = "mo-node0"
    link_cidr: str = "10.250.250.0/30"
    # devices a packet may leave the node's namespace by: the CNI bridge (pods) and loopback
    local_devices: tuple[str, ...] = ("cni0", "lo")

    @property
    def host_ip(self) -> str:
        return str(ipaddress.ip_network(self.link_cidr)[1])

    @property
    def node_ip(self) -> str:
        return str(ipaddress.ip_network(self.link_cidr)[2])

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    def enter(self) -> list[str]:
        """The command prefix that runs a program in the node's network namespace (and nothing else's)."""
        return ["nsenter", f"--net={self.path}", "--"]

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*self.enter(), *cmd], capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise NodeNetworkError(f"{' '.join(cmd)} in {self.name}: {proc.stderr.strip()}")
        return proc

    def exists(self) -> bool:
        return self.path.exists()

    def create(self, blocked_cidrs: tuple[str, ...]) -> None:
        """The namespace, the veth pair, its addresses, and unreachable host routes for ``blocked_cidrs``."""
        if self.exists():
            raise NodeNetworkError(f"network namespace {self.name} exists already (run `make down`)")
        prefix = ipaddress.ip_network(self.link_cidr).prefixlen
        _ip("netns", "add", self.name)
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.node_if, "netns", self.name)
        _ip("addr", "add", f"{self.host_ip}/{prefix}", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        for cidr in blocked_cidrs:
            _ip("route", "add", "unreachable", cidr)
        self.run("ip", "link", "set", "lo", "up")
        self.run("ip", "addr", "add", f"{self.node_ip}/{prefix}", "dev", self.node_if)
        self.run("ip", "link", "set", self.node_if, "up")
        # Both are per network namespace: the node routes for its pods, and bridged pod-to-pod
        # traffic through a Service passes iptables (kube-proxy's DNAT) on its way back.
        self.run("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=1")

    def destroy(self, blocked_cidrs: tuple[str, ...]) -> None:
        """Undo :meth:`create`; safe to call on a half-made or absent network."""
        for cidr in blocked_cidrs:
            _ip("route", "del", "unreachable", cidr, check=False)
        _ip("link", "del", self.host_if, check=False)  # takes its peer with it
        if self.exists():
            _ip("netns", "del", self.name)

    def reach_services(self, service_cidr: str) -> None:
        """Let programs in the node's namespace (a test's load generator) call Services by ClusterIP.

        A connection needs a route before kube-proxy's DNAT picks a pod and re-routes it to the
        bridge; the namespace has none for the service CIDR. This one points at loopback, so a
        ClusterIP that no rule rewrites goes nowhere but ``lo``; the source is the node address,
        which pods answer through the bridge.
        """
        self.run("ip", "route", "add", service_cidr, "dev", "lo", "src", self.node_ip)

    def default_routes(self) -> list[str]:
        return [line for line in self.run("ip", "-4", "route", "show", "default").stdout.splitlines() if line]

    def route(self, address: str, *, on_host: bool = False) -> RouteCheck:
        """Where a packet to ``address`` goes, in the node's namespace (or on the host)."""
        cmd = ("ip", "-4", "-o", "route", "get", address)
        proc = subprocess.run(list(cmd), capture_output=True, text=True) if on_host else self.run(*cmd, check=False)
        if proc.returncode != 0:  # "Network is unreachable", "No route to host": refused here
            return RouteCheck("host" if on_host else "node", address, proc.stderr.strip(), True)
        words = proc.stdout.split()
        device = words[words.index("dev") + 1] if "dev" in words else ""
        stays = words[0] in ("unreachable", "blackhole", "prohibit") or (not on_host and device in self.local_devices)
        return RouteCheck("host" if on_host else "node", address, proc.stdout.strip(), stays)

    def check_routes(self, cidrs: tuple[str, ...]) -> list[RouteCheck]:
        """Route checks for the first, a middle and the last address of each CIDR, on both sides.

        Raises NodeNetworkError when the namespace has a default route or any of them could leave.
        """
        if defaults := self.default_routes():
            raise NodeNetworkError(f"network namespace {self.name} has a default route: {defaults}")
        checks = []
        for cidr in cidrs:
            network = ipaddress.ip_network(cidr)
            for address in (network[1], network[network.num_addresses // 2], network[-2]):
                checks.append(self.route(str(address)))
                checks.append(self.route(str(address), on_host=True))
        if leaks := [check for check in checks if not check.stays]:
            raise NodeNetworkError(f"cluster addresses could leave this machine: {leaks}")
        return checks
