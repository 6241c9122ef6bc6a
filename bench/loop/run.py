"""Reaction times of autoscaling and of the closed loop on the real node, beside the floor their settings imply.

One run of the e2e tests that measure them (``tests/e2e/test_autoscaling.py``, ``tests/e2e/test_loop.py``)
on the local cluster of ``make up`` (root; builds what is missing), their figures collected through
``$MODELOPS_E2E_FIGURES``; then a table of each measured time next to its theoretical floor:

* scale-up: a fresh sample must be scraped, the HPA must sync, and a ``rate()`` over the contract's
  one-minute window only reaches a load of L requests/s after the window has filled — the per-pod
  target T (times the HPA's 10% tolerance) is crossed after ``60 s · 1.1·T / L``;
* back to min: the load leaves the window (requests/s, p95: up to 60 s; a gauge or CPU at once),
  then the scale-down stabilization window, a sync, and the pods' preStop pause;
* drift → retraining: scrape + the operator's Prometheus refresh + its monitoring interval;
* bad model → rolled back: counted from its promotion, its rollout included (the feedback judges
  the new pods while the rollout finishes), so no floor from the settings alone.

    .venv/bin/python bench/loop/run.py --json bench/loop/results.json
    # or from the figures of an e2e run that already happened:
    MODELOPS_E2E_FIGURES=/tmp/figures.json make test
    .venv/bin/python bench/loop/run.py --figures /tmp/figures.json --json bench/loop/results.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from modelops.operator.builders.deployment import PRESTOP_SLEEP_SECONDS  # noqa: E402
from modelops.operator.settings import OperatorSettings  # noqa: E402
from modelops.testing.localcluster import HPA_CONTROLLER_ARGS  # noqa: E402
from modelops.testing.metricspipeline import PipelineSettings  # noqa: E402
from tests.e2e import test_autoscaling, test_loop  # noqa: E402

HPA_SYNC = 5.0  # the ControlPlane's --horizontal-pod-autoscaler-sync-period
TOLERANCE = 0.1  # the HPA controller's default --horizontal-pod-autoscaler-tolerance
RATE_WINDOW = 60.0  # modelops.contract.metrics.RATE_WINDOW


def seconds(duration: str) -> float:
    return float(duration.rstrip("s"))


def settings() -> dict[str, Any]:
    pipeline = PipelineSettings()
    stabilization = next(a for a in HPA_CONTROLLER_ARGS if "downscale-stabilization" in a).split("=")[1]
    return {
        "scrape_interval": pipeline.scrape_interval,
        "adapter_relist_interval": pipeline.relist_interval,
        "metrics_server_resolution": pipeline.metric_resolution,
        "hpa_sync_period": f"{HPA_SYNC:.0f}s",
        "hpa_downscale_stabilization": stabilization,
        "operator_prometheus_refresh": f"{OperatorSettings().prometheus_refresh:.0f}s",
        "monitoring_interval": test_loop.MONITORING_INTERVAL,
        "retraining_cooldown": test_loop.COOLDOWN,
        "prestop_sleep": f"{PRESTOP_SLEEP_SECONDS}s",
    }


def floors(config: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """(best, worst) seconds each reaction cannot beat with these settings (sampling phase decides where)."""
    scrape, sync = seconds(config["scrape_interval"]), HPA_SYNC
    stabilize, stop = seconds(config["hpa_downscale_stabilization"]), float(PRESTOP_SLEEP_SECONDS)
    resolution = seconds(config["metrics_server_resolution"])
    out: dict[str, tuple[float, float]] = {}
    for case in test_autoscaling.CASES:
        rate = case.workers / max(case.pause, 0.01)  # what the load could send at most; the ramp is slower
        if case.metric in ("requestsPerSecond",):
            ramp = RATE_WINDOW * (1 + TOLERANCE) * case.target / rate
            up = (ramp, ramp + scrape + sync)
            down = (RATE_WINDOW * 0.9 + stabilize + stop, RATE_WINDOW + stabilize + sync + scrape + stop)
        elif case.metric == "latencyP95":
            up = (0.0, 2 * scrape + sync)  # rate() needs two samples of the slow requests
            down = (RATE_WINDOW * 0.9 + stabilize + stop, RATE_WINDOW + stabilize + sync + scrape + stop)
        elif case.metric == "inflight":
            up = (0.0, scrape + sync)
            down = (stabilize + stop, stabilize + scrape + sync + stop)
        else:  # cpu: metrics-server's window of the kubelet's CPU counters
            up = (resolution, 2 * resolution + sync)
            down = (resolution + stabilize + stop, 2 * resolution + stabilize + sync + stop)
        out[f"autoscaling/{case.metric}/scale_up_s"] = up
        out[f"autoscaling/{case.metric}/back_to_min_s"] = down
    refresh, interval = seconds(config["operator_prometheus_refresh"]), seconds(config["monitoring_interval"])
    out["loop/drift_to_retraining_s"] = (0.0, scrape + refresh + interval)
    return out


def run_tests() -> tuple[int, dict[str, Any]]:
    """Run the e2e tests that measure the reactions; their exit code and figures."""
    with tempfile.TemporaryDirectory() as tmp:
        figures_file = Path(tmp) / "figures.json"
        env = {**os.environ, "MODELOPS_E2E_FIGURES": str(figures_file)}
        tests = ["tests/e2e/test_autoscaling.py", "tests/e2e/test_loop.py"]
        run = subprocess.run([sys.executable, "-m", "pytest", "-m", "e2e", *tests], cwd=ROOT, env=env, check=False)
        figures: dict[str, Any] = json.loads(figures_file.read_text()) if figures_file.exists() else {}
    return run.returncode, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write settings, figures and floors here")
    parser.add_argument(
        "--figures",
        type=Path,
        help="tabulate the figures an earlier e2e run wrote to $MODELOPS_E2E_FIGURES (e.g. `make test`'s) "
        "instead of running the tests again",
    )
    args = parser.parse_args()
    if args.figures is not None:
        returncode, figures = 0, json.loads(args.figures.read_text())
    else:
        returncode, figures = run_tests()
    config = settings()
    limits = floors(config)
    print("\n| reaction | measured (s) | floor from the settings (s) |\n|---|---|---|")
    for case, values in figures.items():
        for key, value in values.items():
            floor = limits.get(f"{case}/{key}")
            if key.endswith("_s"):
                shown = f"{floor[0]:.0f} to {floor[1]:.0f}" if floor else "-"
                print(f"| {case} {key.removesuffix('_s')} | {value} | {shown} |")
    print("\nsettings:", json.dumps(config))
    if args.json:
        floors_json = {key: list(value) for key, value in limits.items()}
        args.json.write_text(json.dumps({"settings": config, "figures": figures, "floors": floors_json}, indent=2))
    return returncode


if __name__ == "__main__":
    sys.exit(main())
