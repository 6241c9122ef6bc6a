"""The whole local cluster on one machine: what `make up` runs and the e2e tests stand on.

:class:`LocalCluster` composes, in start order: the node's network namespace
(:mod:`~modelops.testing.netns`), a route check proving that no cluster address can leave
the machine (done before any pod exists, kept in :attr:`LocalCluster.route_checks`), a
control plane listening on the host end of the veth with no KWOK nodes
(:mod:`~modelops.testing.controlplane`), the real node (:mod:`~modelops.testing.node`) and
the S3 store (:mod:`~modelops.testing.artifactstore`) and the metrics pipeline (Prometheus,
prometheus-adapter, metrics-server: :mod:`~modelops.testing.metricspipeline`), processes in the
node's namespace started after the node.

The HPA controller runs with shorter timings than a production default, so that autoscaling
shows within a test's minutes (:data:`HPA_CONTROLLER_ARGS`); nothing in the product changes.

:meth:`LocalCluster.stop` (also on Ctrl-C, SIGTERM/SIGHUP and at interpreter exit) stops all
of it and undoes every host change; :attr:`LocalCluster.leftovers` then says what, if
anything, is still on the machine. A crashed run's leftovers are swept at the next start
and by ``make down``.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from modelops.testing import hostchanges
from modelops.testing.artifactstore import S3Store
from modelops.testing.controlplane import POD_CIDR, SERVICE_CIDR, ControlPlane
from modelops.testing.metricspipeline import MetricsPipeline, find_metrics_binaries
from modelops.testing.netns import NodeNetwork, RouteCheck
from modelops.testing.node import STATE_DIR, NodeImage, RealNode, find_images, find_node_binaries
from modelops.testing.processes import SignalGuard, Supervisor

__all__ = ["CLUSTER_CIDRS", "HPA_CONTROLLER_ARGS", "LocalCluster", "sweep"]

CLUSTER_CIDRS = (POD_CIDR, SERVICE_CIDR)
# The ControlPlane already syncs HPAs every 5 s (default 15 s). An HPA without `behavior` waits
# this long of lower recommendations before it scales down (default 5 minutes).
HPA_CONTROLLER_ARGS = ("--horizontal-pod-autoscaler-downscale-stabilization=20s",)


def sweep(network: NodeNetwork) -> list[str]:
    """Remove whatever a node left on this machine (a crashed run's too); returns what is still there."""
    network.destroy(CLUSTER_CIDRS)
    hostchanges.undo([STATE_DIR])
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    return hostchanges.leftovers([STATE_DIR], netns=network.name)


class LocalCluster:
    """Network + control plane + real node + S3 store + metrics pipeline. Use as a context manager or start()/stop()."""

    def __init__(self, *, keep_logs: bool = False) -> None:
        self.network = NodeNetwork()
        self.keep_logs = keep_logs
        self.route_checks: list[RouteCheck] = []
        self.images: dict[str, NodeImage] = {}
        self.timings: dict[str, float] = {}
        self.leftovers: list[str] = []
        self.log_dir = Path(tempfile.mkdtemp(prefix="modelops-node-logs-"))
        self._control_plane: ControlPlane | None = None
        self._node: RealNode | None = None
        self._s3: S3Store | None = None
        self._metrics: MetricsPipeline | None = None
        self._supervisor = Supervisor(self.log_dir)
        self._lock: IO[str] | None = None
        self._failed = False
        self._signals = SignalGuard(self.stop)

    @property
    def control_plane(self) -> ControlPlane:
        if self._control_plane is None:
            raise RuntimeError("local cluster not started")
        return self._control_plane

    @property
    def node(self) -> RealNode:
        if self._node is None:
            raise RuntimeError("local cluster not started")
        return self._node

    @property
    def s3(self) -> S3Store:
        if self._s3 is None:
            raise RuntimeError("local cluster not started")
        return self._s3

    @property
    def metrics(self) -> MetricsPipeline:
        if self._metrics is None:
            raise RuntimeError("local cluster not started")
        return self._metrics

    @property
    def image(self) -> str:
        """The modelops image as pods name it (``docker.io/library/modelops:<hash of its inputs>``)."""
        return self.images["modelops"].name

    def start(self) -> LocalCluster:
        started = time.monotonic()

        def mark(phase: str) -> None:
            self.timings[phase] = round(time.monotonic() - started, 3)

        self._lock = hostchanges.machine_lock()
        try:
            self._signals.install()
            atexit.register(self.stop)
            sweep(self.network)
            # builds first (minutes on a fresh machine): the host is changed only once they are done
            bin_dir = find_node_binaries()
            self.images = find_images()
            metrics_binaries = find_metrics_binaries()
            mark("builds")
            self.network.create(CLUSTER_CIDRS)
            self.route_checks = self.network.check_routes(CLUSTER_CIDRS)
            self._control_plane = ControlPlane(
                nodes=0,
                address=self.network.host_ip,
                keep_dir=self.keep_logs,
                extra_controller_manager_args=HPA_CONTROLLER_ARGS,
            )
            self._control_plane.start()
            mark("control-plane")
            self._node = RealNode(
                self._control_plane, self.network, list(self.images.values()), log_dir=self.log_dir, bin_dir=bin_dir
            )
            self._node.start()
            # after the route check above: it proves that nothing can leave, this adds a way to lo
            self.network.reach_services(SERVICE_CIDR)
            mark("node")
            self._s3 = S3Store(bin_dir / "versitygw", self.network.host_ip, STATE_DIR / "s3", self._supervisor)
            self._s3.start()
            mark("s3")
            self._metrics = MetricsPipeline(
                self._control_plane, self.network, self._supervisor, STATE_DIR / "metrics", metrics_binaries
            )
            self._metrics.start()
            mark("metrics")
        except BaseException:
            self._failed = True
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop everything and undo every host change. Idempotent."""
        if self._lock is None:
            return
        with self._signals.blocked():
            self._supervisor.stop()
            if self._node is not None:
                self._node.stop()
            if self._control_plane is not None:
                self._control_plane.keep_dir |= self._failed  # keep its logs beside ours
                self._control_plane.stop()
            self.leftovers = sweep(self.network)
            if not (self._failed or self.keep_logs):
                shutil.rmtree(self.log_dir, ignore_errors=True)
            self._signals.restore()
            atexit.unregister(self.stop)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
