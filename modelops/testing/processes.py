"""Process hygiene for test clusters: components as process groups that die with the test.

Every component runs in its own session (process group) with ``PR_SET_PDEATHSIG=SIGKILL``
when started from the main thread, logs to ``<log dir>/<component>.log``, and
:meth:`Supervisor.stop` SIGTERMs every group, waits, then SIGKILLs what is left.
:class:`SignalGuard` runs a stop function on SIGTERM/SIGHUP and then applies the signal's
previous disposition, so the process still dies, now without orphans.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

__all__ = ["Component", "SignalGuard", "Supervisor", "free_ports", "log_tail"]

LOG_TAIL_LINES = 40
STOP_GRACE_SECONDS = 5.0


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Distinct free ports on ``host`` (all bound at once, so no duplicates)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            socks.append(sock)
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        data = path.read_bytes()[-64 * 1024 :]
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


@dataclass
class Component:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def failure(self, message: str) -> str:
        """``message`` followed by the tail of the component's log: what a failed start reports."""
        return f"{message}\n--- last {LOG_TAIL_LINES} lines of {self.log_path} ---\n{log_tail(self.log_path)}"


class Supervisor:
    """The components of one cluster: started as process groups, stopped together."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.components: list[Component] = []

    def spawn(self, name: str, cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None) -> Component:
        log_path = self.log_dir / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("ab")
        log_file.write(f"$ {' '.join(cmd)}\n".encode())
        log_file.flush()
        preexec: Callable[[], None] | None = None
        if threading.current_thread() is threading.main_thread():
            preexec = _die_with_parent
        try:
            proc = subprocess.Popen(
                list(cmd),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                preexec_fn=preexec,
            )
        except OSError:
            log_file.close()
            raise
        component = Component(name, proc, log_path, log_file)
        self.components.append(component)
        return component

    def get(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)

    def dead(self) -> Component | None:
        """The first component that exited, if any."""
        return next((c for c in self.components if c.proc.poll() is not None), None)

    @property
    def pids(self) -> dict[str, int]:
        """Process id (= process group id) of each component."""
        return {c.name: c.proc.pid for c in self.components}

    def stop(self, *, last: Collection[str] = ()) -> None:
        """SIGTERM every component, newest first, then the ``last`` ones; SIGKILL whatever outlives the grace."""
        first = [c for c in reversed(self.components) if c.name not in last]
        final = [c for c in reversed(self.components) if c.name in last]
        for tier in (first, final):
            self._terminate(tier)

    def terminate(self, name: str) -> None:
        """Stop one component now, as :meth:`stop` would."""
        self._terminate([c for c in self.components if c.name == name])

    @staticmethod
    def _terminate(components: Sequence[Component]) -> None:
        for comp in components:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(comp.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for comp in components:
            try:
                comp.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(comp.proc.pid, signal.SIGKILL)
                comp.proc.wait()
            # anything the component left behind in its process group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(comp.proc.pid, signal.SIGKILL)
            if not comp.log_file.closed:
                comp.log_file.close()


class SignalGuard:
    """Runs ``stop`` on SIGTERM/SIGHUP, then lets the signal do what it did before.

    Only the main thread can install handlers; elsewhere this does nothing.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGHUP)

    def __init__(self, stop: Callable[[], None]) -> None:
        self._stop = stop
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in self.SIGNALS:
            prev = signal.getsignal(signum)
            self._previous[signum] = prev

            def handler(num: int, frame: FrameType | None, prev: Any = prev) -> None:
                self._stop()
                signal.signal(num, prev if prev is not None else signal.SIG_DFL)
                if callable(prev):
                    prev(num, frame)
                elif prev != signal.SIG_IGN:
                    os.kill(os.getpid(), num)  # the default action: die, now without orphans

            signal.signal(signum, handler)

    def restore(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, prev in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, prev if prev is not None else signal.SIG_DFL)
        self._previous.clear()

    @contextlib.contextmanager
    def blocked(self) -> Any:
        """Hold these signals (and Ctrl-C) back while a teardown runs, so it is not cut short."""
        in_main = threading.current_thread() is threading.main_thread()
        blocked = {signal.SIGINT, *self.SIGNALS}
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked) if in_main else None
        try:
            yield
        finally:
            if old_mask is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
