"""What every reconcile shares: settings, the API client, the watch cache, and the few writes it makes.

Reads come from the cache (`ObjectCache`, filled by the watches); writes go to the API server
only when they change something: a child is applied only when the cached one differs from the
desired one, a status only with the fields that changed. Every answer of the API server goes
back into the cache.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from modelops.api.objects import ApiObject
from modelops.operator import metrics
from modelops.operator.cache import Manifest, ObjectCache
from modelops.operator.clock import now_iso
from modelops.operator.kube import Kube, Resource, resource_of
from modelops.operator.observing import MetricsSource, ReadSchedule, source_for
from modelops.operator.settings import OperatorSettings
from modelops.operator.status import READY, Plan, condition_is, merge_patch
from modelops.operator.views import PodView

log = logging.getLogger("modelops.operator")
COMPONENT = "modelops-operator"
ObjectT = TypeVar("ObjectT", bound=ApiObject[Any, Any])


def contains(actual: Any, desired: Any) -> bool:
    """Whether `actual` holds every field of `desired` with the same value (what the API server added aside)."""
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(desired)
            and all(contains(a, d) for a, d in zip(actual, desired, strict=True))
        )
    return bool(actual == desired)


class PodFailures:
    """Serving pods whose container cannot run, by owning ModelDeployment: what a Degraded status reports.

    Kept from the pod watch, so no reconcile lists pods; only failing pods are remembered.
    """

    def __init__(self) -> None:
        self._failing: dict[tuple[str, str], dict[str, PodView]] = {}
        self._guard = threading.Lock()

    def record(self, namespace: str, owner: str, pod: PodView, failing: bool) -> None:
        with self._guard:
            pods = self._failing.setdefault((namespace, owner), {})
            if failing:
                pods[pod.metadata.name] = pod
            else:
                pods.pop(pod.metadata.name, None)
            if not pods:
                del self._failing[(namespace, owner)]

    def of(self, namespace: str, owner: str) -> list[PodView]:
        with self._guard:
            return list(self._failing.get((namespace, owner), {}).values())


@dataclass
class Context:
    settings: OperatorSettings
    kube: Kube
    cache: ObjectCache = field(default_factory=ObjectCache)
    failures: PodFailures = field(default_factory=PodFailures)
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    reads: ReadSchedule = field(default_factory=ReadSchedule)
    # ModelDeployments whose serving Secret this process made or found (by uid).
    secrets_made: set[str] = field(default_factory=set)
    # Told of every write (object key, its new resourceVersion), so its watch event wakes nobody.
    on_write: Callable[[tuple[str, str, str], str], None] = field(default=lambda key, version: None)

    def __post_init__(self) -> None:
        self.metrics_source: MetricsSource = source_for(self.settings)

    def _stored(self, plural: str, stored: Manifest) -> Manifest:
        meta = stored["metadata"]
        self.cache.observe(plural, stored)
        self.on_write((plural, meta["namespace"], meta["name"]), str(meta.get("resourceVersion", "")))
        return stored

    def write(self, resource: Resource[ObjectT], obj: ObjectT, plan: Plan[Any]) -> ObjectT:
        """Write the plan's status (only what changed, as one merge patch) and post its Events.

        Returns the object as it is now, so a caller can go on deciding on it.
        """
        patch = merge_patch(obj.status.wire(), plan.status.wire())
        if patch:
            self._stored(
                resource.plural, self.kube.patch_status(resource, namespace=obj.namespace, name=obj.name, patch=patch)
            )
        for event in plan.events:
            self.event(obj, event.type, event.reason, event.message)
        metrics.READY.labels(kind=obj.kind, namespace=obj.namespace, name=obj.name).set(
            1 if condition_is(plan.status.conditions, READY) else 0
        )
        return obj.model_copy(update={"status": plan.status})

    def apply(self, manifest: Manifest) -> Manifest:
        """The child as stored after making it what `manifest` says; applied only when it differs."""
        resource = resource_of(manifest["kind"])
        meta = manifest["metadata"]
        cached = self.cache.raw(resource.plural, namespace=meta["namespace"], name=meta["name"])
        if cached is not None and contains(cached, manifest):
            return cached
        return self._stored(resource.plural, self.kube.apply(manifest))

    def apply_all(self, manifests: Sequence[Manifest]) -> list[Manifest]:
        return [self.apply(manifest) for manifest in manifests]

    def delete(self, resource: Resource[Any], *, namespace: str, name: str) -> None:
        """Delete a child the operator no longer wants, if it is there."""
        if self.cache.raw(resource.plural, namespace=namespace, name=name) is not None:
            self.kube.delete(resource, namespace=namespace, name=name)
            self.cache.forget(resource.plural, namespace, name)

    def create(self, manifest: Manifest) -> bool:
        """Create the object unless one of that (deterministic) name exists; whether this call created it."""
        stored, created = self.kube.create_or_get(manifest)
        self._stored(resource_of(manifest["kind"]).plural, stored)
        return created

    def event(self, obj: ApiObject[Any, Any], type_: str, reason: str, message: str) -> None:
        """A Kubernetes Event on `obj` (what `kubectl describe` shows), and the same line in the log."""
        log.info("%s %s/%s: %s: %s", obj.kind, obj.namespace, obj.name, reason, message)
        involved = {"apiVersion": obj.api_version, "kind": obj.kind, "metadata": obj.metadata.model_dump(by_alias=True)}
        self.kube.post_event(
            involved,
            type_=type_,
            reason=reason,
            message=message[:1024],
            component=COMPONENT,
            time=now_iso(self.clock()),
        )
