"""A kubelet that runs pods' containers as local processes, for integration tests.

KWOK (see :mod:`modelops.testing.controlplane`) fakes every pod's life without
running anything. Pods matching the control plane's ``manual_pod_selector`` are
left alone by KWOK after scheduling, and :class:`ProcessKubelet` plays their
kubelet for real: it runs the pod's container as a subprocess of the test and
reports to the API server through the pod's ``status`` subresource, the way the
kubelet does, so the Job controller, the operator and ``kubectl`` see a real
Running -> Succeeded/Failed life with exit codes and termination messages.

What it does with a scheduled, matching pod (single container, no init
containers):

* argv = ``command + args`` with the kubelet's ``$(VAR)`` expansion. ``argv[0]``
  goes through ``executables`` (exact match first, then its basename: e.g.
  ``{"python": sys.executable}`` makes the image's ``python`` or
  ``/usr/local/bin/python`` the test's interpreter). A container without a
  ``command`` needs ``entrypoints[image]``.
* environment = ``env`` (default: this process's environment, so the venv
  works) + the container's ``envFrom`` and ``env`` (``value``; ``valueFrom``
  ``fieldRef`` for metadata.name/namespace/uid/labels/annotations,
  spec.nodeName/serviceAccountName, status.podIP/hostIP; ``configMapKeyRef``
  and ``secretKeyRef`` read through the API) + ``HOSTNAME`` = ``spec.hostname``, else the pod
  name. An Indexed Job's pods thus get what a kubelet gives them: ``JOB_COMPLETION_INDEX`` (the Job
  controller adds it to the pod spec as a ``fieldRef`` of the index label) and ``<job>-<index>``.
* Termination message: each pod gets its own file; its path is put in the env
  var ``TERMINATION_MESSAGE_PATH``, and every argv element equal to the
  container's ``terminationMessagePath`` (``/dev/termination-log`` by default),
  or ending in ``=<that path>``, is rewritten to it. So a program writes its
  result to ``$TERMINATION_MESSAGE_PATH`` (the trainer CLI's default for
  ``--termination-message-path``) or receives the path as an argument. Like the
  kubelet, at most 4096 bytes are reported, and with
  ``terminationMessagePolicy: FallbackToLogsOnError`` a failed container without
  a message reports the tail of its output.
* Status: Running (Ready, ``containerID: process://<pid>``, podIP 127.0.0.1)
  when the process starts; then Succeeded (exit 0, reason ``Completed``) or
  Failed (reason ``Error``) with ``state.terminated`` {exitCode, reason,
  message, startedAt, finishedAt}. A container that cannot start (unknown
  executable, missing ConfigMap, unsupported pod) fails with exit code 128 and
  reason ``StartError``. ``restartPolicy: Always`` restarts the process (1 s
  back-off, ``restartCount``/``lastState`` updated); ``Never`` and ``OnFailure``
  run it once.
* Working directory: ``cwd`` if given, else a fresh directory per pod. Output
  (stdout+stderr) goes to ``<dir>/<namespace>_<pod>/output.log``
  (:attr:`PodRun.log_path`).

Bounded: at most ``max_concurrent`` processes at once, each killed after
``timeout`` seconds (or ``activeDeadlineSeconds``), killed when its pod is
deleted; :meth:`ProcessKubelet.stop` (also on leaving ``with``) stops watching,
kills every process group and joins every thread. Readiness probes, volumes
and resource limits are not implemented.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

__all__ = ["DEFAULT_SELECTOR", "PodRun", "ProcessKubelet"]

DEFAULT_SELECTOR = "modelops.io/run-locally=true"
MESSAGE_LIMIT = 4096
_FALLBACK_LINES = 80
_FALLBACK_BYTES = 2048
_SMP = "application/strategic-merge-patch+json"
log = logging.getLogger(__name__)


class _StartError(Exception):
    """The container cannot be started (kubelet: CreateContainerConfigError / StartError)."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_VAR_REF = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


def expand(value: str, env: Mapping[str, str]) -> str:
    """The kubelet's ``$(VAR)`` expansion: defined vars are replaced, ``$$`` escapes ``$``."""

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(repl, value)


@dataclass
class PodRun:
    """One run of one pod's container."""

    namespace: str
    name: str
    uid: str
    log_path: Path
    message_path: Path
    argv: list[str] = field(default_factory=list)
    exit_code: int | None = None
    reason: str = ""
    message: str = ""
    restarts: int = 0
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    deleted: threading.Event = field(default_factory=threading.Event, repr=False)

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class ProcessKubelet:
    """Runs matching pods' containers as local processes and reports their status.

    Args:
        kubeconfig: kubeconfig of a user allowed to read pods, ConfigMaps, Secrets and
            patch ``pods/status`` (the control plane's admin kubeconfig).
        selector: label selector of the pods to run (the control plane's ``manual_pod_selector``).
        namespace: only this namespace (default: all).
        executables: ``argv[0]`` substitutions, e.g. ``{"python": sys.executable}``.
        entrypoints: image -> entrypoint argv, for containers without ``command``.
        env: base environment of every process (default: ``os.environ``).
        overrides: set over every container's own environment (processes share the loopback
            address, so e.g. two server pods need their own ports).
        cwd: working directory of every process (default: a fresh one per pod).
        timeout: seconds a process may run before it is killed (exit code 137).
        max_concurrent: processes running at once; further pods wait their turn.
        keep_dir: keep the per-pod directories (output, termination message) after :meth:`stop`.
    """

    def __init__(
        self,
        kubeconfig: Path | str,
        *,
        selector: str = DEFAULT_SELECTOR,
        namespace: str | None = None,
        executables: Mapping[str, str] | None = None,
        entrypoints: Mapping[str, Sequence[str]] | None = None,
        env: Mapping[str, str] | None = None,
        overrides: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        timeout: float = 300.0,
        max_concurrent: int = 4,
        keep_dir: bool = False,
    ) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.selector = selector
        self.namespace = namespace
        self.executables = dict(executables or {})
        self.entrypoints = {k: list(v) for k, v in (entrypoints or {}).items()}
        self.base_env = dict(env if env is not None else os.environ)
        self.overrides = dict(overrides or {})
        self.cwd = Path(cwd) if cwd is not None else None
        self.timeout = timeout
        self.keep_dir = keep_dir
        self.errors: list[str] = []
        self.runs: dict[str, PodRun] = {}  # by pod uid
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._watcher: threading.Thread | None = None
        self._dir: Path | None = None
        self._api: Any = None
        self._core: Any = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def dir(self) -> Path:
        if self._dir is None:
            raise RuntimeError("ProcessKubelet not started")
        return self._dir

    def start(self) -> ProcessKubelet:
        if self._watcher is not None:
            raise RuntimeError("a ProcessKubelet can be started only once")
        self._dir = Path(tempfile.mkdtemp(prefix="modelops-kubelet-"))
        self._api = k8s_config.new_client_from_config(config_file=str(self.kubeconfig))  # type: ignore[no-untyped-call]
        self._core = k8s_client.CoreV1Api(self._api)
        self._watcher = threading.Thread(target=self._watch_loop, name="process-kubelet-watch", daemon=True)
        self._watcher.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop watching, kill every running process group, join all threads. Idempotent."""
        self._stop.set()
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            _kill_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for thread in [*self._threads, *([self._watcher] if self._watcher else [])]:
            thread.join(max(0.1, deadline - time.monotonic()))
        for proc in procs:
            _kill_group(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
        if self._api is not None:
            with contextlib.suppress(Exception):
                self._api.close()
            self._api = None
        if self._dir is not None and not self.keep_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> ProcessKubelet:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def wait_for(self, namespace: str, name: str, timeout: float = 60.0) -> PodRun:
        """Wait until a run of pod ``namespace/name`` has finished and its status was reported."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for run in self.runs.values():
                    if run.namespace == namespace and run.name == name and run.done.is_set():
                        return run
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"pod {namespace}/{name} did not finish in {timeout}s; errors={self.errors}")
                self._cond.wait(min(remaining, 0.5))

    # ------------------------------------------------------------------ watching

    def _watch_loop(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                version = self._list()
                while not self._stop.is_set():
                    version = self._watch(version)
                backoff = 0.2
            except ApiException as exc:
                if exc.status != 410:  # 410 Gone: resourceVersion too old, just re-list
                    self._note_error(f"watch: {exc.status} {exc.reason}")
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
            except Exception as exc:  # connection refused while the API server restarts, ...
                if not self._stop.is_set():
                    log.debug("watch failed: %s", exc)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 5.0)

    def _list_kwargs(self) -> dict[str, Any]:
        return {"label_selector": self.selector, "field_selector": "spec.nodeName!="}

    def _list(self) -> str:
        if self.namespace:
            resp = self._core.list_namespaced_pod(
                self.namespace, _preload_content=False, _request_timeout=10, **self._list_kwargs()
            )
        else:
            resp = self._core.list_pod_for_all_namespaces(
                _preload_content=False, _request_timeout=10, **self._list_kwargs()
            )
        body = json.loads(resp.data)
        for pod in body.get("items", []):
            self._on_pod(pod, deleted=False)
        return str(body["metadata"]["resourceVersion"])

    def _watch(self, version: str) -> str:
        w = k8s_watch.Watch()  # type: ignore[no-untyped-call]
        func = self._core.list_namespaced_pod if self.namespace else self._core.list_pod_for_all_namespaces
        args = [self.namespace] if self.namespace else []
        try:
            for event in w.stream(  # type: ignore[no-untyped-call]
                func,
                *args,
                resource_version=version,
                timeout_seconds=1,
                _request_timeout=10,
                allow_watch_bookmarks=True,
                **self._list_kwargs(),
            ):
                raw = event.get("raw_object") or {}
                if event.get("type") == "ERROR":
                    if raw.get("code") == 410:
                        raise ApiException(status=410, reason="Gone")
                    continue
                version = str(raw.get("metadata", {}).get("resourceVersion") or version)
                if event.get("type") != "BOOKMARK":
                    self._on_pod(raw, deleted=event.get("type") == "DELETED")
                if self._stop.is_set():
                    break
        finally:
            w.stop()  # type: ignore[no-untyped-call]
        return version

    def _on_pod(self, pod: dict[str, Any], deleted: bool) -> None:
        meta = pod.get("metadata", {})
        uid = str(meta.get("uid", ""))
        with self._lock:
            run = self.runs.get(uid)
            if run is not None:
                if deleted or meta.get("deletionTimestamp"):
                    run.deleted.set()
                return
            if deleted or meta.get("deletionTimestamp") or self._stop.is_set():
                return
            if pod.get("status", {}).get("phase", "Pending") != "Pending":
                return  # already run (by an earlier kubelet) or not ours to start
            pod_dir = self.dir / f"{meta['namespace']}_{meta['name']}_{uid[:8]}"
            pod_dir.mkdir(parents=True)
            run = PodRun(
                namespace=meta["namespace"],
                name=meta["name"],
                uid=uid,
                log_path=pod_dir / "output.log",
                message_path=pod_dir / "termination-log",
            )
            run.message_path.touch()
            self.runs[uid] = run
            thread = threading.Thread(
                target=self._run_pod, args=(pod, run, pod_dir), name=f"kubelet-{meta['name']}", daemon=True
            )
            self._threads.append(thread)
        thread.start()

    def _note_error(self, message: str) -> None:
        log.warning("ProcessKubelet: %s", message)
        with self._lock:
            self.errors.append(message)

    # ------------------------------------------------------------------ running a pod

    def _run_pod(self, pod: dict[str, Any], run: PodRun, pod_dir: Path) -> None:
        try:
            with self._slots:
                if not self._stop.is_set():
                    self._run_pod_locked(pod, run, pod_dir)
        except Exception as exc:
            self._note_error(f"{run.namespace}/{run.name}: {type(exc).__name__}: {exc}")
        finally:
            with self._cond:
                run.done.set()
                self._cond.notify_all()

    def _run_pod_locked(self, pod: dict[str, Any], run: PodRun, pod_dir: Path) -> None:
        spec = pod.get("spec", {})
        containers = spec.get("containers") or []
        container = containers[0] if containers else {}
        started = _now()
        try:
            if len(containers) != 1 or spec.get("initContainers"):
                raise _StartError("ProcessKubelet runs pods with exactly one container and no init containers")
            env = self._environment(pod, container, run)
            run.argv = self._argv(container, env, run)
            workdir = self.cwd or pod_dir / "work"
            workdir.mkdir(parents=True, exist_ok=True)
        except _StartError as exc:
            run.exit_code, run.reason, run.message = 128, "StartError", str(exc)
            self._report_terminated(pod, container, run, started, started, failed=True)
            return

        restart_always = spec.get("restartPolicy", "Always") == "Always"
        deadline_s = spec.get("activeDeadlineSeconds")
        limit = min(self.timeout, float(deadline_s)) if deadline_s else self.timeout
        pod_deadline = time.monotonic() + limit
        last_state: dict[str, Any] | None = None
        while True:
            started = _now()
            try:
                proc = self._spawn(run, env, workdir)
            except OSError as exc:
                run.exit_code, run.reason, run.message = 128, "StartError", f"{run.argv[0]}: {exc}"
                self._report_terminated(pod, container, run, started, _now(), failed=True)
                return
            self._report_running(pod, container, run, started, proc.pid, last_state)
            code = self._wait(proc, run, pod_deadline, spec)
            with self._lock:
                self._procs.pop(run.uid, None)
            finished = _now()
            if self._stop.is_set() or run.deleted.is_set():
                run.exit_code = code
                return  # a stopping kubelet reports nothing; a deleted pod is gone
            run.exit_code = code
            run.reason = "Completed" if code == 0 else "Error"
            run.message = self._termination_message(container, run, code)
            if restart_always and time.monotonic() < pod_deadline:
                last_state = {
                    "terminated": {
                        "exitCode": code,
                        "reason": run.reason,
                        "message": run.message or None,
                        "startedAt": started,
                        "finishedAt": finished,
                    }
                }
                run.restarts += 1
                if self._stop.wait(1.0) or run.deleted.is_set():
                    return
                continue
            self._report_terminated(pod, container, run, started, finished, failed=code != 0)
            return

    def _spawn(self, run: PodRun, env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
        with run.log_path.open("ab") as out:
            proc = subprocess.Popen(
                run.argv,
                env=env,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        with self._lock:
            self._procs[run.uid] = proc
        return proc

    def _wait(self, proc: subprocess.Popen[bytes], run: PodRun, deadline: float, spec: dict[str, Any]) -> int:
        grace = min(float(spec.get("terminationGracePeriodSeconds", 30) or 0), 5.0)
        while True:
            try:
                return _exit_code(proc.wait(timeout=0.1))
            except subprocess.TimeoutExpired:
                pass
            if self._stop.is_set() or run.deleted.is_set() or time.monotonic() > deadline:
                _kill_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    _kill_group(proc, signal.SIGKILL)
                    proc.wait()
                _kill_group(proc, signal.SIGKILL)
                return _exit_code(proc.returncode)

    def _termination_message(self, container: dict[str, Any], run: PodRun, code: int) -> str:
        try:
            data = run.message_path.read_bytes()[:MESSAGE_LIMIT]
        except OSError:
            data = b""
        message = data.decode("utf-8", "replace")
        if not message and code != 0 and container.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            tail = "\n".join(run.output().splitlines()[-_FALLBACK_LINES:])
            message = tail.encode()[-_FALLBACK_BYTES:].decode("utf-8", "ignore")
        return message

    # ------------------------------------------------------------------ argv and env

    def _argv(self, container: dict[str, Any], env: Mapping[str, str], run: PodRun) -> list[str]:
        command = list(container.get("command") or [])
        args = list(container.get("args") or [])
        if not command:
            image = container.get("image", "")
            if image not in self.entrypoints:
                raise _StartError(f"container has no command and no entrypoint is known for image {image!r}")
            command = list(self.entrypoints[image])
        argv = [expand(a, env) for a in [*command, *args]]
        first = argv[0]
        argv[0] = self.executables.get(first, self.executables.get(os.path.basename(first), first))
        original = container.get("terminationMessagePath") or "/dev/termination-log"
        local = str(run.message_path)
        for i, arg in enumerate(argv[1:], start=1):
            if arg == original:
                argv[i] = local
            elif arg.endswith("=" + original):
                argv[i] = arg[: -len(original)] + local
        return argv

    def _environment(self, pod: dict[str, Any], container: dict[str, Any], run: PodRun) -> dict[str, str]:
        meta = pod.get("metadata", {})
        namespace = meta.get("namespace", "default")
        declared: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            if "configMapRef" in source:
                ref = source["configMapRef"]
                data = self._read_data("configmap", namespace, ref.get("name", ""), ref.get("optional", False))
            elif "secretRef" in source:
                ref = source["secretRef"]
                data = self._read_data("secret", namespace, ref.get("name", ""), ref.get("optional", False))
            else:
                raise _StartError(f"unsupported envFrom source {source}")
            declared.update({prefix + k: v for k, v in data.items()})
        for var in container.get("env") or []:
            name = var["name"]
            if "valueFrom" not in var:
                declared[name] = expand(var.get("value", ""), declared)
                continue
            value = self._value_from(pod, var["valueFrom"], namespace)
            if value is not None:
                declared[name] = value
        env = {**self.base_env, **declared, **self.overrides}
        # The kubelet names the container's host after spec.hostname when set (an Indexed Job's
        # pods get `<job>-<index>` from the Job controller), else after the pod.
        env["HOSTNAME"] = pod.get("spec", {}).get("hostname") or meta.get("name", "")
        env["TERMINATION_MESSAGE_PATH"] = str(run.message_path)
        return env

    def _value_from(self, pod: dict[str, Any], source: dict[str, Any], namespace: str) -> str | None:
        meta, spec = pod.get("metadata", {}), pod.get("spec", {})
        if "fieldRef" in source:
            path = source["fieldRef"].get("fieldPath", "")
            fields = {
                "metadata.name": meta.get("name"),
                "metadata.namespace": namespace,
                "metadata.uid": meta.get("uid"),
                "spec.nodeName": spec.get("nodeName"),
                "spec.serviceAccountName": spec.get("serviceAccountName"),
                "status.podIP": "127.0.0.1",
                "status.hostIP": "127.0.0.1",
            }
            if path in fields:
                return str(fields[path] or "")
            match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
            if match:
                return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
            raise _StartError(f"unsupported fieldRef {path!r}")
        for key, kind in (("configMapKeyRef", "configmap"), ("secretKeyRef", "secret")):
            if key in source:
                ref = source[key]
                optional = bool(ref.get("optional", False))
                data = self._read_data(kind, namespace, ref.get("name", ""), optional)
                if ref["key"] not in data:
                    if optional:
                        return None
                    raise _StartError(f"{kind} {namespace}/{ref.get('name')} has no key {ref['key']!r}")
                return data[ref["key"]]
        raise _StartError(f"unsupported valueFrom {source}")

    def _read_data(self, kind: str, namespace: str, name: str, optional: bool) -> dict[str, str]:
        try:
            if kind == "configmap":
                obj = self._core.read_namespaced_config_map(name, namespace, _request_timeout=10)
                return dict(obj.data or {})
            obj = self._core.read_namespaced_secret(name, namespace, _request_timeout=10)
            return {k: base64.b64decode(v).decode() for k, v in (obj.data or {}).items()}
        except ApiException as exc:
            if exc.status == 404 and optional:
                return {}
            raise _StartError(f"{kind} {namespace}/{name}: {exc.status} {exc.reason}") from exc

    # ------------------------------------------------------------------ status

    def _patch_status(self, pod: dict[str, Any], status: dict[str, Any], started: str) -> None:
        """Patch the pod's status; its startTime is the first start of its process, kept on restarts."""
        if not pod.get("status", {}).get("startTime"):
            status["startTime"] = started
        meta = pod["metadata"]
        try:
            self._core.patch_namespaced_pod_status(
                meta["name"], meta["namespace"], {"status": status}, _content_type=_SMP, _request_timeout=10
            )
        except ApiException as exc:
            if exc.status != 404:  # a deleted pod needs no status
                raise

    def _report_running(
        self,
        pod: dict[str, Any],
        container: dict[str, Any],
        run: PodRun,
        started: str,
        pid: int,
        last_state: dict[str, Any] | None,
    ) -> None:
        container_status = _container_status(
            container, run, alive=True, state={"running": {"startedAt": started}, "waiting": None, "terminated": None}
        )
        container_status["containerID"] = f"process://{pid}"
        if last_state:
            container_status["lastState"] = last_state
        status: dict[str, Any] = {
            "phase": "Running",
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": started}
                for t in ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready")
            ],
            "containerStatuses": [container_status],
        }
        self._patch_status(pod, status, started)

    def _report_terminated(
        self,
        pod: dict[str, Any],
        container: dict[str, Any],
        run: PodRun,
        started: str,
        finished: str,
        *,
        failed: bool,
    ) -> None:
        reason = "PodFailed" if failed else "PodCompleted"
        terminated: dict[str, Any] = {
            "exitCode": run.exit_code,
            "reason": run.reason,
            "startedAt": started,
            "finishedAt": finished,
        }
        if run.message:
            terminated["message"] = run.message
        status: dict[str, Any] = {
            "phase": "Failed" if failed else "Succeeded",
            "conditions": [
                {"type": t, "status": "False", "reason": reason, "lastTransitionTime": finished}
                for t in ("ContainersReady", "Ready")
            ],
            "containerStatuses": [
                _container_status(
                    container, run, alive=False, state={"terminated": terminated, "running": None, "waiting": None}
                )
            ],
        }
        self._patch_status(pod, status, started)


def _container_status(container: dict[str, Any], run: PodRun, *, alive: bool, state: dict[str, Any]) -> dict[str, Any]:
    """The status of the pod's one container; with no probes to wait for, it is ready while it runs."""
    return {
        "name": container.get("name", ""),
        "image": container.get("image", ""),
        "imageID": "",
        "ready": alive,
        "started": alive,
        "restartCount": run.restarts,
        "state": state,
    }


def _exit_code(returncode: int) -> int:
    """A container's exit code: 128 + signal number when killed by a signal, as runtimes report it."""
    return 128 - returncode if returncode < 0 else returncode


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
