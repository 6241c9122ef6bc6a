"""The operator's few API calls, over the `kubernetes` client's authenticated REST layer.

Children are written with server-side apply (field manager `modelops`, forced: the operator
owns the fields it sets and takes them back after a hand edit). Jobs are created, not applied:
their pod template is immutable, and a restarted operator must find, not rewrite, the Job
it made before. Reads of our own kinds come back parsed into the API models; reads of other
kinds as the small views of `modelops.operator.views`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from pydantic import BaseModel

from modelops.api.objects import Dataset, ModelDeployment, TrainingRun
from modelops.operator.views import DeploymentView, JobView, PodView

FIELD_MANAGER = "modelops"
Manifest = dict[str, Any]
T = TypeVar("T", bound=BaseModel)


class KubeError(Exception):
    """A non-2xx answer of the API server."""

    status = 0

    def __init__(self, reason: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{status or self.status} {reason}: {message}")
        if status is not None:
            self.status = status
        self.reason = reason
        self.message = message


class BadRequestError(KubeError):
    """400: the request is malformed (a bug of ours)."""

    status = 400


class ForbiddenError(KubeError):
    """403: RBAC refuses it; the chart's rules and the handlers disagree."""

    status = 403


class NotFoundError(KubeError):
    """404: no such object (or namespace)."""

    status = 404


class ConflictError(KubeError):
    """409: a create raced another, or an object is being deleted."""

    status = 409


class InvalidError(KubeError):
    """422: the API server's validation refused the object."""

    status = 422


class TooManyRequestsError(KubeError):
    """429: throttled by API priority and fairness."""

    status = 429


class ServerError(KubeError):
    """5xx: the API server (or etcd behind it) is in trouble."""

    status = 500


_BY_STATUS: dict[int, type[KubeError]] = {
    cls.status: cls
    for cls in (BadRequestError, ForbiddenError, NotFoundError, ConflictError, InvalidError, TooManyRequestsError)
}


def error_for(status: int, reason: str, message: str) -> KubeError:
    """The exception class of an HTTP status (the generic one for statuses we do not single out)."""
    if status >= 500:
        return ServerError(reason, message, status=status)
    cls = _BY_STATUS.get(status)
    return cls(reason, message) if cls else KubeError(reason, message, status=status)


@dataclass(frozen=True)
class Resource(Generic[T]):
    """A namespaced kind: where it lives in the API and the model its objects are read into."""

    api_version: str
    plural: str
    kind: str
    model: type[T]

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        prefix = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        path = f"{prefix}/namespaces/{quote(namespace)}/{self.plural}"
        if name:
            path += f"/{quote(name)}"
        if subresource:
            path += f"/{subresource}"
        return path


DATASETS = Resource("modelops.io/v1alpha1", "datasets", "Dataset", Dataset)
TRAINING_RUNS = Resource("modelops.io/v1alpha1", "trainingruns", "TrainingRun", TrainingRun)
MODEL_DEPLOYMENTS = Resource("modelops.io/v1alpha1", "modeldeployments", "ModelDeployment", ModelDeployment)
JOBS = Resource("batch/v1", "jobs", "Job", JobView)
PODS = Resource("v1", "pods", "Pod", PodView)
DEPLOYMENTS = Resource("apps/v1", "deployments", "Deployment", DeploymentView)
# Written, never read back: applied children whose answers the operator does not need.
SERVICES = Resource("v1", "services", "Service", BaseModel)
HPAS = Resource("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", BaseModel)
PDBS = Resource("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", BaseModel)
SCALED_OBJECTS = Resource("keda.sh/v1alpha1", "scaledobjects", "ScaledObject", BaseModel)
SECRETS = Resource("v1", "secrets", "Secret", BaseModel)
OWN_KINDS = (DATASETS, TRAINING_RUNS, MODEL_DEPLOYMENTS)
SERVING_CHILDREN = (DEPLOYMENTS, SERVICES, HPAS, PDBS)
_BY_KIND: dict[str, Resource[Any]] = {
    r.kind: r for r in (*OWN_KINDS, *SERVING_CHILDREN, JOBS, PODS, SCALED_OBJECTS, SECRETS)
}


def resource_of(kind: str) -> Resource[Any]:
    """The resource of a kind the operator reads or writes."""
    return _BY_KIND[kind]


class Kube:
    """get / list / create / apply / patch-status of namespaced objects."""

    def __init__(self, api_client: Any, *, timeout: float = 60.0) -> None:
        self._api = api_client
        self._timeout = timeout

    @classmethod
    def from_environment(cls, *, timeout: float = 60.0) -> Kube:
        """In-cluster config inside a pod, else KUBECONFIG / ~/.kube/config."""
        try:
            k8s_config.load_incluster_config()  # type: ignore[no-untyped-call]
        except k8s_config.ConfigException:
            k8s_config.load_kube_config()  # type: ignore[no-untyped-call]
        return cls(k8s_client.ApiClient(), timeout=timeout)

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Manifest:
        request = self._api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self._api.call_api(*request, _request_timeout=self._timeout)
        response.read()
        data = response.data or b"{}"
        try:
            payload: Manifest = json.loads(data)
        except ValueError:
            payload = {"message": data.decode("utf-8", "replace")}
        if not 200 <= response.status <= 299:
            raise error_for(response.status, str(payload.get("reason", response.reason)), str(payload.get("message")))
        return payload

    def get(self, resource: Resource[T], *, namespace: str, name: str) -> T | None:
        """The object, parsed into the resource's model; None when it does not exist."""
        try:
            return resource.model.model_validate(self._call("GET", resource.path(namespace, name)))
        except NotFoundError:
            return None

    def list(self, resource: Resource[T], *, namespace: str, label_selector: str | None = None) -> list[T]:
        query = [("labelSelector", label_selector)] if label_selector else []
        items = self._call("GET", resource.path(namespace), query=query).get("items", [])
        # List items carry no apiVersion/kind of their own.
        return [resource.model.model_validate({"kind": resource.kind, **item}) for item in items]

    def pages(
        self, resource: Resource[Any], *, namespace: str | None, label_selector: str | None = None, limit: int = 500
    ) -> Iterator[Manifest]:
        """Every object of a kind (in a namespace, or in all), as stored, fetched `limit` at a time."""
        prefix = "/api/v1" if resource.api_version == "v1" else f"/apis/{resource.api_version}"
        path = resource.path(namespace) if namespace else f"{prefix}/{resource.plural}"
        query = [("limit", str(limit)), *([("labelSelector", label_selector)] if label_selector else [])]
        token = ""
        while True:
            page = self._call("GET", path, query=[*query, *([("continue", token)] if token else [])])
            for item in page.get("items", []):
                yield {"apiVersion": resource.api_version, "kind": resource.kind, **item}
            token = page.get("metadata", {}).get("continue") or ""
            if not token:
                return

    def create_if_absent(self, manifest: Manifest) -> bool:
        """Create the object; one of that name already there is fine (and is not read). Whether it was made."""
        resource = _BY_KIND[manifest["kind"]]
        try:
            self._call("POST", resource.path(manifest["metadata"]["namespace"]), body=manifest)
        except ConflictError:
            return False
        return True

    def create_or_get(self, manifest: Manifest) -> tuple[Manifest, bool]:
        """(the object, whether this call created it). An existing object of that name is returned as is."""
        resource = _BY_KIND[manifest["kind"]]
        namespace, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
        try:
            query = [("fieldManager", FIELD_MANAGER)]
            return self._call("POST", resource.path(namespace), query=query, body=manifest), True
        except ConflictError:
            pass
        try:
            return self._call("GET", resource.path(namespace, name)), False
        except NotFoundError:
            # Deleted between the two calls; the next reconcile creates it.
            raise ConflictError("Conflict", f"{manifest['kind']} {name} is being deleted") from None

    def apply(self, manifest: Manifest) -> Manifest:
        """Server-side apply, forced: fields the operator sets are the operator's. The stored object."""
        resource = _BY_KIND[manifest["kind"]]
        meta = manifest["metadata"]
        return self._call(
            "PATCH",
            resource.path(meta["namespace"], meta["name"]),
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            body=manifest,
            content_type="application/apply-patch+yaml",
        )

    def delete(self, resource: Resource[Any], *, namespace: str, name: str) -> None:
        """Delete the object (its children go with it, in the background); gone already is fine."""
        try:
            self._call("DELETE", resource.path(namespace, name), body={"propagationPolicy": "Background"})
        except NotFoundError:
            pass

    def post_event(
        self, involved: Manifest, *, type_: str, reason: str, message: str, component: str, time: str
    ) -> None:
        """A core/v1 Event about `involved` (what `kubectl describe` lists under Events)."""
        meta = involved["metadata"]
        namespace = meta["namespace"]
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": meta["name"],
                "namespace": namespace,
                "uid": meta["uid"],
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "reportingComponent": component,
            "firstTimestamp": time,
            "lastTimestamp": time,
            "count": 1,
        }
        self._call("POST", f"/api/v1/namespaces/{quote(namespace)}/events", body=event)

    def patch_status(self, resource: Resource[Any], *, namespace: str, name: str, patch: Manifest) -> Manifest:
        """A JSON merge patch of the status subresource (`patch` is the diff, see `status.merge_patch`)."""
        return self._call(
            "PATCH",
            resource.path(namespace, name, "status"),
            body={"status": patch},
            content_type="application/merge-patch+json",
        )
