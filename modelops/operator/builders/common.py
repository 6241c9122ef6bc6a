"""Pieces every child shares: metadata with the owner reference, security contexts, store access."""

from __future__ import annotations

from typing import Any

from modelops.api.common import ResourceRequirements
from modelops.api.objects import ApiObject
from modelops.operator.settings import OperatorSettings

Manifest = dict[str, Any]
TMP_VOLUME = "tmp"
STORE_VOLUME = "store"
# The Dockerfile's USER: the image's own files belong to it.
IMAGE_UID = 10001


def metadata(
    owner: ApiObject[Any, Any], name: str, labels: dict[str, str], annotations: dict[str, str] | None = None
) -> Manifest:
    meta: Manifest = {
        "name": name,
        "namespace": owner.namespace,
        "labels": dict(labels),
        "ownerReferences": [owner.owner_reference()],
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def pod_security_context() -> Manifest:
    return {
        "runAsNonRoot": True,
        "runAsUser": IMAGE_UID,
        "runAsGroup": IMAGE_UID,
        "fsGroup": IMAGE_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> Manifest:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def resources(given: ResourceRequirements | None, defaults: ResourceRequirements) -> Manifest:
    """The spec's requests/limits, each falling back to the operator's defaults."""
    out: Manifest = {}
    for key in ("requests", "limits"):
        value = getattr(given, key, None) if given is not None else None
        value = value if value is not None else getattr(defaults, key)
        if value:
            out[key] = dict(value)
    return out


def volumes(settings: OperatorSettings, *, tmp_bytes: int | None = None) -> list[Manifest]:
    """A writable /tmp (the root filesystem is read-only; `tmp_bytes` caps it) and, for pvc:// stores, the claim."""
    tmp: Manifest = {"sizeLimit": str(tmp_bytes)} if tmp_bytes else {}
    out: list[Manifest] = [{"name": TMP_VOLUME, "emptyDir": tmp}]
    if settings.store_scheme == "pvc":
        out.append({"name": STORE_VOLUME, "persistentVolumeClaim": {"claimName": settings.store_pvc_claim}})
    return out


def volume_mounts(settings: OperatorSettings) -> list[Manifest]:
    out: list[Manifest] = [{"name": TMP_VOLUME, "mountPath": "/tmp"}]
    if settings.store_scheme == "pvc":
        out.append({"name": STORE_VOLUME, "mountPath": settings.store_mount_path})
    return out


def env(variables: dict[str, str]) -> list[Manifest]:
    return [{"name": name, "value": value} for name, value in variables.items()]


def store_env(settings: OperatorSettings) -> dict[str, str]:
    """How an s3:// store is reached: its endpoint; the credentials come from `store_env_from`."""
    if settings.store_scheme == "s3" and settings.store_s3_endpoint:
        return {"AWS_ENDPOINT_URL": settings.store_s3_endpoint}
    return {}


def store_env_from(settings: OperatorSettings) -> list[Manifest]:
    if settings.store_scheme == "s3" and settings.store_s3_secret:
        return [{"secretRef": {"name": settings.store_s3_secret}}]
    return []
