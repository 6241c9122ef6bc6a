"""The operator's few API calls, over the `kubernetes` client's authenticated REST layer.

Children are written with server-side apply (field manager `modelops`, forced: the operator
owns the fields it sets and takes them back after a hand edit). Jobs are created, not applied:
their pod template is immutable, and a restarted operator must find, not rewrite, the Job
it made before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

FIELD_MANAGER = "modelops"
Manifest = dict[str, Any]


class KubeError(Exception):
    """A non-2xx answer of the API server."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Resource:
    api_version: str
    plural: str

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        prefix = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        path = f"{prefix}/namespaces/{quote(namespace)}/{self.plural}"
        if name:
            path += f"/{quote(name)}"
        if subresource:
            path += f"/{subresource}"
        return path


DATASETS = Resource("modelops.io/v1alpha1", "datasets")
TRAINING_RUNS = Resource("modelops.io/v1alpha1", "trainingruns")
MODEL_DEPLOYMENTS = Resource("modelops.io/v1alpha1", "modeldeployments")
JOBS = Resource("batch/v1", "jobs")
PODS = Resource("v1", "pods")
SERVICES = Resource("v1", "services")
DEPLOYMENTS = Resource("apps/v1", "deployments")
HPAS = Resource("autoscaling/v2", "horizontalpodautoscalers")
PDBS = Resource("policy/v1", "poddisruptionbudgets")
BY_KIND = {
    "Job": JOBS,
    "Service": SERVICES,
    "Deployment": DEPLOYMENTS,
    "HorizontalPodAutoscaler": HPAS,
    "PodDisruptionBudget": PDBS,
    "TrainingRun": TRAINING_RUNS,
}


class Kube:
    """get / list / create / apply / patch-status of namespaced objects, as plain dicts."""

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
            reason = str(payload.get("reason", response.reason))
            raise KubeError(response.status, reason, str(payload.get("message", "")))
        return payload

    def get(self, resource: Resource, namespace: str, name: str) -> Manifest | None:
        try:
            return self._call("GET", resource.path(namespace, name))
        except KubeError as e:
            if e.status == 404:
                return None
            raise

    def list(self, resource: Resource, namespace: str, label_selector: str | None = None) -> list[Manifest]:
        query = [("labelSelector", label_selector)] if label_selector else []
        items: list[Manifest] = self._call("GET", resource.path(namespace), query=query).get("items", [])
        return items

    def create_or_get(self, manifest: Manifest) -> tuple[Manifest, bool]:
        """(the object, whether this call created it). An existing object of that name is returned as is."""
        resource = BY_KIND[manifest["kind"]]
        namespace = manifest["metadata"]["namespace"]
        try:
            query = [("fieldManager", FIELD_MANAGER)]
            return self._call("POST", resource.path(namespace), query=query, body=manifest), True
        except KubeError as e:
            if e.status != 409:
                raise
        existing = self.get(resource, namespace, manifest["metadata"]["name"])
        if existing is None:  # deleted between the two calls; the next reconcile creates it
            raise KubeError(409, "Conflict", f"{manifest['kind']} {manifest['metadata']['name']} is being deleted")
        return existing, False

    def apply(self, manifest: Manifest) -> Manifest:
        """Server-side apply, forced: fields the operator sets are the operator's."""
        resource = BY_KIND[manifest["kind"]]
        meta = manifest["metadata"]
        return self._call(
            "PATCH",
            resource.path(meta["namespace"], meta["name"]),
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            body=manifest,
            content_type="application/apply-patch+yaml",
        )

    def patch_status(self, resource: Resource, namespace: str, name: str, status: Manifest) -> Manifest:
        return self._call(
            "PATCH",
            resource.path(namespace, name, "status"),
            body={"status": status},
            content_type="application/merge-patch+json",
        )
