"""What every handler shares: settings, the API client, per-object locks, status and Event writes.

A handler is registered per kind; it reads the object fresh, parses it into the kind's API
model once (`reconciler`) and hands the typed object to the kind's `reconcile`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import kopf

from modelops.api.objects import ApiObject
from modelops.operator import metrics
from modelops.operator.errors import outcomes
from modelops.operator.kube import Kube, Resource
from modelops.operator.settings import OperatorSettings
from modelops.operator.status import READY, Plan, condition_is, merge_patch

log = logging.getLogger("modelops.operator")
ObjectT = TypeVar("ObjectT", bound=ApiObject[Any, Any])


@dataclass
class Context:
    settings: OperatorSettings
    kube: Kube
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def exclusive(self, uid: str) -> Iterator[None]:
        """One reconcile per object at a time: change handlers and timers run concurrently in kopf."""
        with self._guard:
            lock = self._locks.setdefault(uid, threading.Lock())
        with lock:
            yield

    def forget(self, uid: str) -> None:
        with self._guard:
            self._locks.pop(uid, None)

    def write(self, resource: Resource[ObjectT], obj: ObjectT, plan: Plan[Any]) -> ObjectT:
        """Write the plan's status (only what changed, as one merge patch) and post its Events.

        Returns the object as it is now, so a caller can go on deciding on it.
        """
        patch = merge_patch(obj.status.wire(), plan.status.wire())
        if patch:
            self.kube.patch_status(resource, namespace=obj.namespace, name=obj.name, patch=patch)
        for event in plan.events:
            self.event(obj, event.type, event.reason, event.message)
        metrics.READY.labels(kind=obj.kind, namespace=obj.namespace, name=obj.name).set(
            1 if condition_is(plan.status.conditions, READY) else 0
        )
        return obj.model_copy(update={"status": plan.status})

    def event(self, obj: ApiObject[Any, Any], type_: str, reason: str, message: str) -> None:
        """A Kubernetes Event on `obj` (what `kubectl describe` shows), and the same line in the log."""
        log.info("%s %s/%s: %s: %s", obj.kind, obj.namespace, obj.name, reason, message)
        body = {"apiVersion": obj.api_version, "kind": obj.kind, "metadata": obj.metadata.model_dump(by_alias=True)}
        kopf.event(kopf.Body(cast(kopf.RawBody, body)), type=type_, reason=reason, message=message[:1024])


def reconciler(
    ctx: Context, resource: Resource[ObjectT], reconcile: Callable[[Context, ObjectT], None]
) -> Callable[..., None]:
    """A kopf handler that reconciles the object's fresh state, level-triggered.

    Every trigger (create, update, resume, timer) re-reads the object: the body a handler
    gets can be older than the status the previous reconcile wrote.
    """

    def handler(namespace: str, name: str, uid: str, **_: Any) -> None:
        with ctx.exclusive(uid), metrics.observed(resource.kind), outcomes():
            obj = ctx.kube.get(resource, namespace=namespace, name=name)
            if obj is None or obj.metadata.deletion_timestamp:
                return
            reconcile(ctx, obj)

    return handler


def register_kind(
    registry: kopf.OperatorRegistry,
    ctx: Context,
    resource: Resource[ObjectT],
    reconcile: Callable[[Context, ObjectT], None],
) -> None:
    group, version = resource.api_version.split("/")
    plural = resource.plural
    handler = reconciler(ctx, resource, reconcile)
    for decorator in (kopf.on.create, kopf.on.update, kopf.on.resume):
        decorator(group, version, plural, registry=registry, id=f"reconcile-{decorator.__name__}")(handler)
    kopf.timer(group, version, plural, registry=registry, id="resync", interval=ctx.settings.resync_interval,
               initial_delay=ctx.settings.resync_interval)(handler)  # fmt: skip

    def deleted(body: kopf.Body, uid: str, **_: Any) -> None:
        # Children carry ownerReferences: the garbage collector deletes them; nothing to undo here.
        ctx.forget(uid)
        metrics.forget(resource.kind, body.metadata.namespace or "", body.metadata.name or "")
        log.info(
            "%s %s/%s deleted; its children go with it", resource.kind, body.metadata.namespace, body.metadata.name
        )

    # optional=True: no finalizer, so deletion never waits for the operator.
    kopf.on.delete(group, version, plural, registry=registry, id="forget", optional=True)(deleted)
