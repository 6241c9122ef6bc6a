"""Pieces every child shares: metadata with the owner reference, security contexts, store access."""

from __future__ import annotations

from typing import Any

from modelops.operator.settings import OperatorSettings

Manifest = dict[str, Any]
TMP_VOLUME = "tmp"
STORE_VOLUME = "store"


def owner_reference(owner: Manifest) -> Manifest:
    """The controller reference that makes the garbage collector delete the child with its owner."""
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def metadata(owner: Manifest, name: str, labels: dict[str, str], annotations: dict[str, str] | None = None) -> Manifest:
    meta: Manifest = {
        "name": name,
        "namespace": owner["metadata"]["namespace"],
        "labels": dict(labels),
        "ownerReferences": [owner_reference(owner)],
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def pod_security_context() -> Manifest:
    return {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> Manifest:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def resources(spec_resources: Manifest | None, defaults: dict[str, dict[str, str]]) -> Manifest:
    """The spec's requests/limits, each falling back to the operator's defaults."""
    given = spec_resources or {}
    out: Manifest = {}
    for key in ("requests", "limits"):
        value = given.get(key) if given.get(key) is not None else defaults.get(key)
        if value:
            out[key] = dict(value)
    return out


def volumes(settings: OperatorSettings) -> list[Manifest]:
    """A writable /tmp (the root filesystem is read-only) and, for pvc:// stores, the claim."""
    out: list[Manifest] = [{"name": TMP_VOLUME, "emptyDir": {}}]
    if settings.store_scheme == "pvc":
        out.append({"name": STORE_VOLUME, "persistentVolumeClaim": {"claimName": settings.store_pvc_claim}})
    return out


def volume_mounts(settings: OperatorSettings) -> list[Manifest]:
    out: list[Manifest] = [{"name": TMP_VOLUME, "mountPath": "/tmp"}]
    if settings.store_scheme == "pvc":
        out.append({"name": STORE_VOLUME, "mountPath": settings.store_mount_path})
    return out


def store_env(settings: OperatorSettings) -> list[Manifest]:
    """How an s3:// store is reached: its endpoint; the credentials come from `store_env_from`."""
    if settings.store_scheme == "s3" and settings.store_s3_endpoint:
        return [{"name": "AWS_ENDPOINT_URL", "value": settings.store_s3_endpoint}]
    return []


def store_env_from(settings: OperatorSettings) -> list[Manifest]:
    if settings.store_scheme == "s3" and settings.store_s3_secret:
        return [{"secretRef": {"name": settings.store_s3_secret}}]
    return []
