"""The artifact stores a real node's pods use: a real S3 server and hostPath PersistentVolumes.

S3: versitygw (built from its Go module by ``hack/build-node.sh``) with its posix backend, a
real gateway that keeps objects as files under the node's state directory. It listens on the
host end of the node's veth, the one host address pods can reach, so Jobs and serving pods
talk to it as they would to any in-cluster S3 endpoint, and nothing of it is reachable from
outside this machine.

pvc://: :func:`pvc_store` makes a hostPath PersistentVolume (a folder under the state
directory, writable by the pods' non-root user) pre-bound to a claim in one namespace.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import yaml

from modelops.testing.controlplane import ControlPlane
from modelops.testing.processes import Supervisor, free_ports

__all__ = ["S3Store", "pvc_store"]


@dataclass
class S3Store:
    """versitygw on ``address``; :meth:`start` also creates ``bucket``."""

    binary: Path
    address: str
    root: Path
    supervisor: Supervisor
    bucket: str = "modelops-artifacts"
    access_key: str = "modelops-e2e"
    secret_key: str = "modelops-e2e-secret"
    port: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def credentials(self) -> dict[str, str]:
        """The keys pods get from the Secret the chart's ``artifactStore.s3.credentialsSecret`` names."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def start(self, timeout: float = 30.0) -> S3Store:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_ports(1, self.address)[0]
        env = {"ROOT_ACCESS_KEY": self.access_key, "ROOT_SECRET_KEY": self.secret_key}
        command = [str(self.binary), "--port", f"{self.address}:{self.port}", "--quiet", "posix", str(self.root)]
        component = self.supervisor.spawn("versitygw", command, cwd=self.root, env=env)
        deadline = time.monotonic() + timeout
        while True:
            if component.proc.poll() is not None:
                raise RuntimeError(component.failure("versitygw exited during start-up"))
            try:
                with socket.create_connection((self.address, self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(component.failure(f"versitygw not listening within {timeout}s")) from None
                time.sleep(0.1)
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def client(self) -> Any:
        session = botocore.session.get_session()
        return session.create_client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )

    def secret(self, name: str, namespace: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": self.credentials,
        }


def pvc_store(control_plane: ControlPlane, root: Path, namespace: str, claim: str, size: str = "2Gi") -> Path:
    """A hostPath PersistentVolume under ``root`` bound to claim ``namespace/claim``; returns its folder."""
    folder = root / namespace / claim
    folder.mkdir(parents=True, exist_ok=True)
    # the pods run as a non-root user, and hostPath volumes get no fsGroup ownership change
    folder.chmod(0o777)
    pv_name = f"{namespace}-{claim}"
    objects = [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv_name, "labels": {"modelops.io/store": "e2e"}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": ["ReadWriteMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "",
                "hostPath": {"path": str(folder), "type": "Directory"},
                "claimRef": {"namespace": namespace, "name": claim},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": namespace},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "volumeName": pv_name,
                "resources": {"requests": {"storage": size}},
            },
        },
    ]
    control_plane.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))
    return folder
