"""What every handler shares: settings, the API client, per-object locks, status and Event writes."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import kopf

from modelops.operator import metrics
from modelops.operator.decisions import Plan, changed
from modelops.operator.errors import outcomes
from modelops.operator.kube import Kube, Resource
from modelops.operator.settings import OperatorSettings

Manifest = dict[str, Any]
log = logging.getLogger("modelops.operator")


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

    def write(self, resource: Resource, obj: Manifest, plan: Plan) -> None:
        """Write the plan's status (when it changes anything) and post its Events."""
        meta = obj["metadata"]
        if plan.status and changed(obj.get("status") or {}, plan.status):
            self.kube.patch_status(resource, meta["namespace"], meta["name"], plan.status)
        for event in plan.events:
            self.event(obj, event.type, event.reason, event.message)

    def event(self, obj: Manifest, type_: str, reason: str, message: str) -> None:
        """A Kubernetes Event on `obj` (what `kubectl describe` shows), and the same line in the log."""
        meta = obj["metadata"]
        log.info("%s %s/%s: %s: %s", obj.get("kind"), meta["namespace"], meta["name"], reason, message)
        kopf.event(kopf.Body(cast(kopf.RawBody, obj)), type=type_, reason=reason, message=message[:1024])


def reconciler(
    ctx: Context, resource: Resource, kind: str, reconcile: Callable[[Context, Manifest], None]
) -> Callable[..., None]:
    """A kopf handler that reconciles the object's fresh state, level-triggered.

    Every trigger (create, update, resume, timer) re-reads the object: the body a handler
    gets can be older than the status the previous reconcile wrote.
    """

    def handler(namespace: str, name: str, uid: str, **_: Any) -> None:
        with ctx.exclusive(uid), metrics.observed(kind), outcomes():
            obj = ctx.kube.get(resource, namespace, name)
            if obj is None or obj["metadata"].get("deletionTimestamp"):
                return
            obj.setdefault("apiVersion", resource.api_version)
            obj.setdefault("kind", kind)
            reconcile(ctx, obj)

    return handler


def register_kind(
    registry: kopf.OperatorRegistry,
    ctx: Context,
    resource: Resource,
    kind: str,
    reconcile: Callable[[Context, Manifest], None],
) -> None:
    group, version = resource.api_version.split("/")
    plural = resource.plural
    handler = reconciler(ctx, resource, kind, reconcile)
    for decorator in (kopf.on.create, kopf.on.update, kopf.on.resume):
        decorator(group, version, plural, registry=registry, id=f"reconcile-{decorator.__name__}")(handler)
    kopf.timer(group, version, plural, registry=registry, id="resync", interval=ctx.settings.resync_interval,
               initial_delay=ctx.settings.resync_interval)(handler)  # fmt: skip

    def deleted(body: kopf.Body, uid: str, **_: Any) -> None:
        # Children carry ownerReferences: the garbage collector deletes them; nothing to undo here.
        ctx.forget(uid)
        log.info("%s %s/%s deleted; its children go with it", kind, body.metadata.namespace, body.metadata.name)

    # optional=True: no finalizer, so deletion never waits for the operator.
    kopf.on.delete(group, version, plural, registry=registry, id="forget", optional=True)(deleted)
