"""Every change a real node makes to this machine, recorded so that it can be undone — also
after a crash, by a later process (``make down``) that never saw the node start.

What a node changes outside its own state directory, and how each is undone:

* sysctls the kubelet sets machine-wide (``kernel.panic``, ``kernel.panic_on_oops``,
  ``vm.overcommit_memory``): their values before the node are saved in :data:`LEDGER_DIR`
  (once: a crashed run's saved originals are kept) and written back.
* cgroups: the kubelet's ``cgroupRoot`` and the runtime's cgroup live under one name
  (``/modelops-node``) in every hierarchy; every process in it is killed (containers,
  containerd's shims), then the folders are removed, deepest first.
* mounts under the state directory (pod volumes, container root filesystems, sandbox
  ``/dev/shm``) and the pods' network namespaces (``/run/netns/cni-*``): unmounted, deepest first.
* folders that fixed paths of containerd, runc and the CNI plugins create when absent
  (``/run/containerd``, ``/var/lib/cni``, ``/run/netns``...): removed if the node made them,
  which the ledger records before the node starts.

:func:`leftovers` lists what is still there; a clean machine gives an empty list.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

__all__ = [
    "CGROUP_NAME",
    "LEDGER_DIR",
    "MACHINE_SYSCTLS",
    "cgroup_pids",
    "hierarchies",
    "kill_cgroup",
    "leftovers",
    "machine_lock",
    "mounts_under",
    "record",
    "remove_cgroups",
    "undo",
    "unmount_under",
]

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_NAME = "modelops-node"
LEDGER_DIR = Path("/run/modelops-node")
MACHINE_SYSCTLS = ("kernel.panic", "kernel.panic_on_oops", "vm.overcommit_memory")
# made by containerd, runc, CNI plugins, `ip netns` and the kubelet at fixed paths when absent
FIXED_DIRS = (
    Path("/run/containerd"),
    Path("/run/netns"),
    Path("/var/lib/cni"),
    Path("/var/log/containers"),
    Path("/var/log/pods"),
    Path("/run/runc"),
    Path("/var/lib/containers"),
)
POD_NETNS_GLOB = "cni-*"


def machine_lock() -> IO[str]:
    """Hold this (closing the file releases it) while a node runs: its names are fixed, so one per machine."""
    LEDGER_DIR.mkdir(parents=True, exist_ok=True)
    lock = (LEDGER_DIR / "lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise RuntimeError("a real node is already running on this machine (stop it with `make down`)") from None
    return lock


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def record() -> None:
    """Save what :func:`undo` restores, unless a previous (crashed) run's record is still there."""
    LEDGER_DIR.mkdir(parents=True, exist_ok=True)
    ledger = LEDGER_DIR / "ledger.json"
    if ledger.exists():
        return
    state = {
        "sysctls": {name: _sysctl_path(name).read_text().strip() for name in MACHINE_SYSCTLS},
        "absent_dirs": [str(path) for path in FIXED_DIRS if not path.exists()],
    }
    ledger.write_text(json.dumps(state, indent=2))


def hierarchies() -> list[Path]:
    return sorted(path for path in CGROUP_ROOT.iterdir() if (path / "cgroup.procs").exists())


def cgroup_pids(name: str = CGROUP_NAME) -> set[int]:
    """Every process in the cgroup ``name`` or below, in any hierarchy."""
    pids: set[int] = set()
    for hierarchy in hierarchies():
        top = hierarchy / name
        if not top.is_dir():
            continue
        for procs in top.rglob("cgroup.procs"):
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(line) for line in procs.read_text().split())
    return pids


def kill_cgroup(name: str = CGROUP_NAME, timeout: float = 20.0) -> None:
    """SIGKILL every process in the cgroup tree until it is empty (containers do not restart:
    the kubelet and containerd are in it too, or already stopped)."""
    deadline = time.monotonic() + timeout
    while pids := cgroup_pids(name):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {sorted(pids)} in cgroup {name} survive SIGKILL")
        time.sleep(0.1)


def remove_cgroups(name: str = CGROUP_NAME) -> None:
    for hierarchy in hierarchies():
        top = hierarchy / name
        if not top.is_dir():
            continue
        for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


def mounts_under(prefixes: Iterable[Path]) -> list[str]:
    """Mount points at or below any of ``prefixes``, deepest first."""
    roots = [str(prefix).rstrip("/") for prefix in prefixes]
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == root or point.startswith(root + "/") for root in roots):
            points.append(point)
    return sorted(set(points), key=lambda p: p.count("/"), reverse=True)


def unmount_under(prefixes: Iterable[Path]) -> None:
    prefixes = list(prefixes)
    for _ in range(5):  # stacked mounts come off one layer per pass
        points = mounts_under(prefixes)
        if not points:
            return
        for point in points:
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _pod_netns() -> list[Path]:
    return sorted(Path("/run/netns").glob(POD_NETNS_GLOB))


def undo(state_dirs: Iterable[Path] = ()) -> None:
    """Kill the node's processes, unmount, remove its cgroups and pod namespaces, restore sysctls
    and remove the folders the node created. Idempotent; safe when nothing was changed."""
    state_dirs = list(state_dirs)
    kill_cgroup()
    unmount_under([*state_dirs, *_pod_netns()])
    for netns in _pod_netns():
        with contextlib.suppress(OSError):
            netns.unlink()
    remove_cgroups()
    ledger = LEDGER_DIR / "ledger.json"
    if ledger.exists():
        state = json.loads(ledger.read_text())
        for name, value in state["sysctls"].items():
            _sysctl_path(name).write_text(value)
        for folder in state["absent_dirs"]:
            if Path(folder) == Path("/run/netns") and any(Path(folder).iterdir()):
                continue  # a namespace that is not ours is still there
            subprocess.run(["rm", "-rf", "--one-file-system", folder], check=False)
        ledger.unlink()
    with contextlib.suppress(OSError):
        (LEDGER_DIR / "lock").unlink()
        LEDGER_DIR.rmdir()


def _host_chains() -> list[str]:
    """The host's own iptables chains a node could leave: kube-proxy's, the CNI plugins', netavark's."""
    proc = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False)
    return sorted(
        {
            line[1:].split()[0]
            for line in proc.stdout.splitlines()
            if line.startswith(":") and line[1:].startswith(("KUBE-", "CNI-", "NETAVARK"))
        }
    )


def _host_links(names: Iterable[str]) -> list[str]:
    proc = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False)
    present = {line.split(":")[1].strip().split("@")[0] for line in proc.stdout.splitlines() if ":" in line}
    return sorted(present & set(names))


def leftovers(state_dirs: Iterable[Path] = (), links: Iterable[str] = ("cni0",), netns: str = "") -> list[str]:
    """What a node left on this machine; empty when it left nothing."""
    state_dirs = list(state_dirs)
    found = [f"process {pid} in cgroup {CGROUP_NAME}" for pid in sorted(cgroup_pids())]
    found += [f"cgroup {h / CGROUP_NAME}" for h in hierarchies() if (h / CGROUP_NAME).exists()]
    found += [f"mount {point}" for point in mounts_under(state_dirs)]
    found += [f"pod network namespace {path}" for path in _pod_netns()]
    if netns and (Path("/run/netns") / netns).exists():
        found.append(f"network namespace {netns}")
    found += [f"link {name}" for name in _host_links(links)]
    found += [f"iptables chain {chain}" for chain in _host_chains()]
    found += [f"state directory {path}" for path in state_dirs if path.exists()]
    if (LEDGER_DIR / "ledger.json").exists():
        found.append(f"unrestored ledger {LEDGER_DIR / 'ledger.json'}")
    return found
