"""Argo CD's health-check runtime, for tests: a Lua 5.1 VM set up as Argo CD's gopher-lua one is.

Argo CD (util/lua/lua.go) runs a `health.lua` with only the base, package, table and a safe `os`
library opened (no string, math, io or debug), the object as the global `obj` (JSON numbers as
Lua numbers, null as nil), and takes the returned table's `status` and `message`; a status
outside Healthy, Progressing, Degraded, Suspended, Missing and Unknown reads as Unknown. The
layout of `health_test.yaml` (tests: healthStatus + inputPath) is Argo CD's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from lupa import lua51

VALID = frozenset({"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"})
INVALID_STATUS = "Lua returned an invalid health status"

# What Argo CD's VM lacks, removed from lupa's full standard library. The string metatable goes
# first: without it `("x"):upper()` fails in Argo CD, and must fail here too.
_SANDBOX = """
debug.setmetatable("", nil)
local safe_os = {time = os.time, date = os.date, clock = os.clock, difftime = os.difftime}
string, math, io, debug, coroutine = nil, nil, nil, nil, nil
os = safe_os
"""


@dataclass(frozen=True)
class HealthStatus:
    status: str
    message: str


def health(script: str, obj: dict[str, Any]) -> HealthStatus:
    """What Argo CD's health check `script` says of `obj`."""
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False, unpack_returned_tuples=False)
    runtime.execute(_SANDBOX)
    runtime.globals()["obj"] = runtime.table_from(obj, recursive=True)
    result = runtime.execute(script)
    if result is None:
        return HealthStatus("", "")
    fields = dict(result.items())
    status, message = str(fields.get("status") or ""), str(fields.get("message") or "")
    return HealthStatus(status, message) if status in VALID else HealthStatus("Unknown", INVALID_STATUS)


@dataclass(frozen=True)
class HealthTest:
    """One case of a health_test.yaml: the expected status of an object file."""

    expected: HealthStatus
    input_path: Path


def health_tests(directory: Path) -> list[HealthTest]:
    """The cases of `directory/health_test.yaml`, input paths resolved against `directory`."""
    tests = yaml.safe_load((directory / "health_test.yaml").read_text())["tests"]
    return [
        HealthTest(
            HealthStatus(t["healthStatus"]["status"], t["healthStatus"].get("message", "")), directory / t["inputPath"]
        )
        for t in tests
    ]
