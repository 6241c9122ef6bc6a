"""Test harness: a real control plane on loopback and a kubelet that runs pods as processes.

See :mod:`modelops.testing.controlplane` and :mod:`modelops.testing.kubelet`.
"""

from modelops.testing.controlplane import ControlPlane, ControlPlaneError, KubectlError, find_binaries
from modelops.testing.kubelet import DEFAULT_SELECTOR, PodRun, ProcessKubelet

__all__ = [
    "DEFAULT_SELECTOR",
    "ControlPlane",
    "ControlPlaneError",
    "KubectlError",
    "PodRun",
    "ProcessKubelet",
    "find_binaries",
]
