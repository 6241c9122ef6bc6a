"""The operator's PromQL (dashboard panels and annotations, alerts) on a real Prometheus scraping the real
operator while it prepares data, trains, rejects a run and serves a model on the real control plane."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelops.testing import ProcessKubelet
from modelops.testing.prometheus import Prometheus, Target
from modelops.testing.waiting import apply_objects, has_phase, wait_for
from tests.component.serving.serving_server import free_port
from tests.integration.test_gitops_status import dataset, run, served
from tests.integration.test_promql_live import dashboard_queries, rule_expressions

pytestmark = pytest.mark.integration
Kubectl = Callable[..., Any]
# Events this scenario does not cause (no monitoring: no retraining, so no promotion of a retrained
# run and no rollback): their expressions must parse and evaluate, and select nothing.
NOT_CAUSED = (
    "modelops_operator_retrainings_total",
    "modelops_operator_promotions_total",
    "modelops_operator_rollbacks_total",
)


def test_operator_expressions_select_the_operators_series(
    kubectl: Kubectl, namespace: str, operator: Any, process_kubelet: ProcessKubelet, tmp_path: Path
) -> None:
    port = free_port()
    operator.extra_env["MODELOPS_METRICS_PORT"] = str(port)
    operator.stop()
    operator.start()
    with Prometheus(tmp_path / "prometheus", [Target(f"127.0.0.1:{port}", {})]) as prometheus:
        wait_for("Prometheus scraping", lambda: prometheus.query("up"), timeout=30)
        weak = run("iris-weak", hyperparameters={"C": 0.0001}, validation={"minMetrics": {"accuracy": 0.95}})
        apply_objects(
            kubectl, namespace, dataset(), run("iris-lr"), weak, served("iris"), served("doomed", run="iris-weak")
        )
        wait_for("iris Ready", has_phase(kubectl, namespace, "md", "iris", "Ready"), timeout=150, alive=operator.exited)
        wait_for("doomed Failed", has_phase(kubectl, namespace, "md", "doomed", "Failed"), alive=operator.exited)
        wait_for("a scrape after it all", lambda: prometheus.query('modelops_operator_ready{name="doomed"} == 0'))
        time.sleep(2)  # one more, so rates have two samples

        chosen = dashboard_queries(namespace, ("iris", "doomed"))
        queries = {name: expr for name, expr in chosen.items() if "modelops_operator_" in expr}
        queries |= {name: expr for name, expr in rule_expressions().items() if "modelops_operator_" in expr}
        assert len(queries) == 11
        for name, expr in queries.items():
            result = prometheus.query(expr)
            if any(series in expr for series in NOT_CAUSED):
                assert result == [], name
            else:
                assert result, f"{name}: {expr}"
