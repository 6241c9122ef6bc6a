"""`python -m modelops.operator`: kopf embedded, with every setting that matters at scale set explicitly."""

from __future__ import annotations

import logging
import sys

import kopf

from modelops.operator import metrics
from modelops.operator.handlers import register
from modelops.operator.handlers.context import Context
from modelops.operator.handlers.controller import kopf_resource, label_selectors
from modelops.operator.kube import Kube
from modelops.operator.settings import OperatorSettings


def kopf_settings(settings: OperatorSettings) -> kopf.OperatorSettings:
    """kopf's settings from ours; kopf's defaults suit a demo, not a shared API server."""
    ks = kopf.OperatorSettings()
    # One operator replica (the Deployment uses Recreate): no peering objects, no extra RBAC for them.
    ks.peering.standalone = True
    ks.peering.mandatory = False
    # Only the kinds and namespaces known at start: no list/watch on CRDs and namespaces needed.
    ks.scanning.disabled = True
    # Watch handlers only fill the cache and the queue; the reconciles run on our own workers.
    ks.execution.max_workers = settings.executor_threads
    # Reconciles post their own Events for every transition; kopf's INFO chatter stays in the log.
    ks.posting.level = logging.getLevelName(settings.posting_level.upper())
    ks.posting.reporting_component = "modelops-operator"
    # Children are selected by our labels on the server: the operator never sees the rest.
    for resource, selector in label_selectors(settings).items():
        ks.watching.label_selectors[kopf_resource(resource)] = selector
    # kopf keeps a worker per object, holding its last event, until it has idled this long (5 s by
    # default): in a burst at thousands of objects that is tens of megabytes of parsed events, and
    # the heap keeps the peak. Our watch handlers only fill the cache and the queue.
    ks.queueing.idle_timeout = 0.5
    ks.watching.server_timeout = settings.watch_server_timeout
    ks.watching.client_timeout = settings.watch_client_timeout
    ks.watching.connect_timeout = 10
    ks.networking.request_timeout = settings.request_timeout
    ks.networking.connect_timeout = 10
    # On SIGTERM give a watch handler in flight a moment to finish.
    ks.background.instant_exit_timeout = 5.0
    return ks


def main() -> int:
    settings = OperatorSettings()
    logging.basicConfig(
        stream=sys.stderr, level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    # "Timer succeeded" per object per resync drowns the log; transitions are logged by the handlers.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    registry = kopf.OperatorRegistry()
    register(registry, Context(settings=settings, kube=Kube.from_environment(timeout=settings.request_timeout)))
    metrics.serve(settings.metrics_port)
    logging.getLogger("modelops.operator").info(
        "starting: namespaces=%s store=%s image=%s", settings.namespaces or "all", settings.store, settings.image
    )
    kopf.run(
        registry=registry,
        settings=kopf_settings(settings),
        standalone=True,
        clusterwide=settings.clusterwide,
        namespaces=settings.namespaces,
        liveness_endpoint=settings.liveness_endpoint,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
