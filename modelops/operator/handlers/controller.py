"""The watch-driven loop: watch events fill the cache and queue reconciles; workers reconcile from the cache.

kopf provides the watch streams (our three kinds, and the children the operator owns, selected
on the server by our labels), login and the liveness probe; it persists nothing on our objects.
A change of a child wakes its owner when it touches what the owner's reconcile reads (a
deleted or hand-edited child is put back within a moment; a PDB's status does not wake it); a
changed Dataset wakes the TrainingRuns waiting on it, a changed TrainingRun the ModelDeployments
serving it. A reconcile may ask to look again later (a refresh, the monitoring
interval, a cron tick). A slow resync walks every object once per interval as a safety net; in
sync, it costs no API request at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import kopf

from modelops.api.objects import ModelDeployment, TrainingRun
from modelops.operator import metrics
from modelops.operator.builders.deployment import COMPONENT as SERVING
from modelops.operator.builders.deployment import OWNER_ANNOTATION
from modelops.operator.cache import Manifest
from modelops.operator.decisions import modeldeployment as md_decisions
from modelops.operator.decisions import trainingrun as tr_decisions
from modelops.operator.errors import outcomes
from modelops.operator.handlers import dataset, modeldeployment, trainingrun
from modelops.operator.handlers.context import Context
from modelops.operator.handlers.modeldeployment import selects
from modelops.operator.kube import (
    DATASETS,
    DEPLOYMENTS,
    JOBS,
    MODEL_DEPLOYMENTS,
    OWN_KINDS,
    PODS,
    SCALED_OBJECTS,
    SERVING_CHILDREN,
    TRAINING_RUNS,
    Resource,
    resource_of,
)
from modelops.operator.naming import COMPONENT_LABEL, MANAGED_BY
from modelops.operator.settings import OperatorSettings
from modelops.operator.views import DeploymentView, PodView
from modelops.operator.workqueue import WorkQueue

log = logging.getLogger("modelops.operator")
Key = tuple[str, str, str]  # (plural, namespace, name) of one of our objects
Reconcile = Callable[[Context, Any], float | None]
MANAGED = f"app.kubernetes.io/managed-by={MANAGED_BY}"
SERVING_PODS = f"{MANAGED},{COMPONENT_LABEL}={SERVING}"
CHILDREN: tuple[Resource[Any], ...] = (*SERVING_CHILDREN, JOBS)
RECONCILERS: dict[str, tuple[Resource[Any], Reconcile]] = {
    DATASETS.plural: (DATASETS, dataset.reconcile),
    TRAINING_RUNS.plural: (TRAINING_RUNS, trainingrun.reconcile),
    MODEL_DEPLOYMENTS.plural: (MODEL_DEPLOYMENTS, modeldeployment.reconcile),
}


def children(settings: OperatorSettings) -> tuple[Resource[Any], ...]:
    """The kinds of children the operator owns (ScaledObjects only where KEDA is installed)."""
    return (*CHILDREN, SCALED_OBJECTS) if settings.keda else CHILDREN


def label_selectors(settings: OperatorSettings) -> dict[Resource[Any], str]:
    """The server-side selectors of the watches of what the operator does not own by kind."""
    return {**dict.fromkeys(children(settings), MANAGED), PODS: SERVING_PODS}


def kopf_resource(resource: Resource[Any]) -> tuple[str, str] | tuple[str, str, str]:
    """(group, version, plural) as kopf's selectors take them; the core group is named by its version."""
    if resource.api_version == "v1":
        return "v1", resource.plural
    group, version = resource.api_version.split("/")
    return group, version, resource.plural


class Controller:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.queue: WorkQueue[Key] = WorkQueue(self._reconcile, workers=ctx.settings.worker_limit)
        self._stop = threading.Event()
        self._resync: threading.Thread | None = None
        self._written: dict[Key, str] = {}  # the resourceVersion of our own last write, per object
        self._guard = threading.Lock()

    # ---------------------------------------------------------------- reconciling

    def _reconcile(self, key: Key) -> None:
        plural, namespace, name = key
        resource, reconcile = RECONCILERS[plural]
        obj = self.ctx.cache.get(plural, resource.model, namespace=namespace, name=name)
        if obj is None or obj.metadata.deletion_timestamp:
            return
        try:
            with metrics.observed(resource.kind), outcomes():
                again = reconcile(self.ctx, obj)
        except kopf.TemporaryError as error:
            log.info("%s %s/%s: will retry: %s", resource.kind, namespace, name, error)
            self.queue.add(key, error.delay or 10.0)
            return
        except kopf.PermanentError as error:
            log.error("%s %s/%s: %s", resource.kind, namespace, name, error)
            return
        if again is not None:
            self.queue.add(key, again)

    # ---------------------------------------------------------------- watch events

    def own(self, plural: str) -> Callable[..., None]:
        """The watch handler of one of our kinds."""

        def handle(event: dict[str, Any], **_: Any) -> None:
            manifest = event["object"]
            meta = manifest["metadata"]
            key = (plural, meta["namespace"], meta["name"])
            if event.get("type") == "DELETED":
                # Children carry ownerReferences: the garbage collector deletes them; nothing to undo here.
                self.ctx.cache.forget(plural, *key[1:])
                metrics.forget(manifest["kind"], *key[1:])
                return
            if not self.ctx.cache.observe(plural, manifest):
                return  # older than what we already know
            # Our own status write coming back is nothing new for the object itself, but it may be
            # what its dependents wait for (a Dataset turned Ready, a TrainingRun Succeeded). An object
            # we created (a retraining's TrainingRun) still needs its first reconcile.
            if not self._is_own_write(key, meta) or event.get("type") == "ADDED":
                self.queue.add(key)
            self._wake_dependents(plural, manifest)

        return handle

    def child(self, plural: str) -> Callable[..., None]:
        """The watch handler of a kind of child: its owner reconciles when it changes or goes away."""

        def handle(event: dict[str, Any], **_: Any) -> None:
            manifest = event["object"]
            meta = manifest["metadata"]
            previous: Manifest | None = None
            if event.get("type") == "DELETED":
                self.ctx.cache.forget(plural, meta["namespace"], meta["name"])
            else:
                previous = self.ctx.cache.raw(plural, namespace=meta["namespace"], name=meta["name"])
                if not self.ctx.cache.observe(plural, manifest):
                    return
            if event.get("type") is None:
                return  # the initial listing: every owner is reconciled at start anyway
            owner = next((ref for ref in meta.get("ownerReferences", []) if ref.get("controller")), None)
            if owner is None or owner.get("kind") not in {r.kind for r in OWN_KINDS}:
                return
            if self._is_own_write((plural, meta["namespace"], meta["name"]), meta):
                return
            if previous is not None and what_owners_read(plural, previous) == what_owners_read(plural, manifest):
                return  # e.g. a PDB's or an HPA's status, a rollout condition's timestamp: nothing decided on
            self.queue.add((resource_of(owner["kind"]).plural, meta["namespace"], owner["name"]))

        return handle

    def pod(self, event: dict[str, Any], **_: Any) -> None:
        """A serving pod: remember the failing ones, and wake their ModelDeployment when that changes."""
        pod = PodView.model_validate(event["object"])
        namespace = event["object"]["metadata"]["namespace"]
        owner = event["object"]["metadata"].get("annotations", {}).get(OWNER_ANNOTATION)
        if owner is None:
            return
        version = pod.metadata.labels.get(md_decisions.VERSION_LABEL, "")
        failing = event.get("type") != "DELETED" and md_decisions.serving_failure([pod], version) is not None
        was_failing = pod.metadata.name in {p.metadata.name for p in self.ctx.failures.of(namespace, owner)}
        self.ctx.failures.record(namespace, owner, pod, failing)
        if failing != was_failing and event.get("type") is not None:
            self.queue.add((MODEL_DEPLOYMENTS.plural, namespace, owner))

    def _is_own_write(self, key: Key, meta: dict[str, Any]) -> bool:
        with self._guard:
            if self._written.get(key) == meta.get("resourceVersion"):
                del self._written[key]
                return True
            return False

    def written(self, key: Key, resource_version: str) -> None:
        """Note a write the operator made, so its watch event wakes nobody."""
        with self._guard:
            self._written[key] = resource_version

    def _wake_dependents(self, plural: str, manifest: dict[str, Any]) -> None:
        """A Dataset's TrainingRuns waiting for data; a TrainingRun's ModelDeployments."""
        meta = manifest["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        cache = self.ctx.cache
        if plural == DATASETS.plural:
            for run in cache.items(TRAINING_RUNS.plural, TrainingRun, namespace=namespace):
                if run.spec.dataset_ref.name == name and not tr_decisions.is_finished(run):
                    self.queue.add((TRAINING_RUNS.plural, namespace, run.name))
        elif plural == TRAINING_RUNS.plural:
            run = TrainingRun.model_validate(manifest)
            for md in cache.items(MODEL_DEPLOYMENTS.plural, ModelDeployment, namespace=namespace):
                if serves(md, run):
                    self.queue.add((MODEL_DEPLOYMENTS.plural, namespace, md.name))

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Fill the cache with the children that exist, then start reconciling."""
        settings = self.ctx.settings
        namespaces: list[str | None] = list(settings.namespaces) or [None]
        for resource, selector in label_selectors(settings).items():
            for namespace in namespaces:
                for manifest in self.ctx.kube.pages(resource, namespace=namespace, label_selector=selector):
                    if resource is PODS:
                        self.pod({"type": None, "object": manifest})
                    else:
                        self.ctx.cache.observe(resource.plural, manifest)
        self.queue.start()
        self._resync = threading.Thread(target=self._resync_loop, name="resync", daemon=True)
        self._resync.start()
        owned = sum(self.ctx.cache.count(r.plural) for r in children(settings))
        log.info("watch cache filled: %d children, %d KiB", owned, self.ctx.cache.stored_bytes() // 1024)

    def stop(self) -> None:
        self._stop.set()
        self.queue.stop()

    def _resync_loop(self) -> None:
        """Every resync interval, every object once, spread over the interval."""
        interval = self.ctx.settings.resync_interval
        while not self._stop.wait(interval):
            keys = [(plural, ns, name) for plural in RECONCILERS for ns, name in self.ctx.cache.names(plural)]
            for i, key in enumerate(keys):
                self.queue.add(key, interval * i / max(1, len(keys)))


# Children whose status no decision reads (kube.py: written, never read back), and the one whose
# status is read through a view: a status change outside what the view holds wakes nobody.
_STATUS_UNREAD = frozenset(r.plural for r in (*SERVING_CHILDREN, SCALED_OBJECTS) if r is not DEPLOYMENTS)
_BOOKKEEPING = frozenset({"resourceVersion", "managedFields"})


def what_owners_read(plural: str, manifest: Manifest) -> Any:
    """The part of a child that its owner's reconcile depends on: all but bookkeeping and unread status.

    A hand edit (spec, labels, annotations) or a deletion mark always counts; so does every status
    change of a kind not listed here (Jobs).
    """
    metadata = {k: v for k, v in manifest.get("metadata", {}).items() if k not in _BOOKKEEPING}
    rest = {k: v for k, v in manifest.items() if k not in ("metadata", "status")}
    if plural in _STATUS_UNREAD:
        return metadata, rest
    if plural == DEPLOYMENTS.plural:
        return metadata, rest, DeploymentView.model_validate(manifest).status
    return metadata, rest, manifest.get("status")


def serves(md: ModelDeployment, run: TrainingRun) -> bool:
    """Whether a change of `run` can change what `md` serves."""
    source = md.spec.model
    if source.training_run_ref is not None and source.training_run_ref.name == run.name:
        return True
    if source.from_latest is not None and selects(source.from_latest.match_labels, run):
        return True
    return md.status.retraining is not None and md.status.retraining.run == run.name


def register(registry: kopf.OperatorRegistry, ctx: Context) -> Controller:
    """Register the watches and the start/stop of the loop with `registry`."""
    controller = Controller(ctx)
    ctx.on_write = controller.written
    # A registry of our own does not get kopf's default login handlers: log in like the API client.
    kopf.on.login(registry=registry, id="login")(kopf.login_via_client)
    for resource in OWN_KINDS:
        watch = kopf.on.event(*kopf_resource(resource), registry=registry, id=f"watch-{resource.plural}")
        watch(controller.own(resource.plural))
    for resource in children(ctx.settings):
        watch = kopf.on.event(*kopf_resource(resource), registry=registry, id=f"watch-{resource.plural}")
        watch(controller.child(resource.plural))
    pods: Callable[..., None] = controller.pod
    kopf.on.event(*kopf_resource(PODS), registry=registry, id="watch-pods")(pods)

    def startup(**_: Any) -> None:
        controller.start()

    def cleanup(**_: Any) -> None:
        controller.stop()

    kopf.on.startup(registry=registry, id="start")(startup)
    kopf.on.cleanup(registry=registry, id="stop")(cleanup)
    return controller
