"""What the benchmarks share: a fresh process's own peak memory, the machine a run was on, the results' output.

Each benchmark is a folder of scripts run as ``python bench/<name>/run.py``; they put this folder on
``sys.path`` to import this module (``make typecheck`` gives mypy the same path).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Runs ARGS as `python ARGS` would (a script path, `-c CODE` or a module name) and writes the
# process's VmHWM when it exits: the peak of this exec'd image, where the wait4 of a parent
# (ru_maxrss) would report the forking parent's peak once that is the larger.
_PEAK_RSS = """
import atexit, runpy, sys
report = sys.argv.pop(1)
def hwm():
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    open(report, "w").write(line.split()[1])
atexit.register(hwm)
sys.argv = sys.argv[1:]
if sys.argv[0] == "-c":
    exec(sys.argv[1], {"__name__": "__main__"})
elif sys.argv[0].endswith(".py"):
    runpy.run_path(sys.argv[0], run_name="__main__")
else:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


@dataclass(frozen=True)
class Measured:
    """One fresh process: its wall time and peak resident memory."""

    wall_s: float
    peak_rss_mib: float


def measure(workdir: Path, args: list[str], env: Mapping[str, str] | None = None) -> Measured:
    """Run ``python ARGS`` (a script, ``-c CODE`` or a module and its arguments) in a fresh process.

    Exits the benchmark with the process's stderr if it fails: a figure of a failed run means nothing.
    """
    report = workdir / "peak-rss-kib"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, str(report), *args], capture_output=True, text=True, env=env
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{args[:2]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Measured(wall_s=round(elapsed, 1), peak_rss_mib=round(int(report.read_text()) / 1024, 1))


def machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    """The machine a run was on, with its load average before and after (ratios from a loaded one mislead)."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def publish(results: Mapping[str, Any], path: Path | None) -> None:
    """Print the results as JSON, and write them to `path` when given (the file a README cites)."""
    text = json.dumps(results, indent=2)
    print(text)
    if path is not None:
        path.write_text(text + "\n")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (from /proc, Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
