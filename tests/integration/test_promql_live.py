"""Every PromQL expression the project ships, evaluated by a real Prometheus that scraped real model servers.

Two `python -m modelops.serving` processes (a breast-cancer classifier and a diabetes regressor, trained by
the trainer's CLI) take bounded load on loopback: predictions while loading (503s), in-range and
drifted rows, V2 infer, and wrong feedback. Prometheus scrapes them every second with the labels a
Kubernetes scrape through the chart's PodMonitor gives (`namespace`, `pod`, `modeldeployment`).
Then each expression of the dashboard, the alerts, the prometheus-adapter rules and the KEDA
trigger must parse and select series. The operator's own series are not scraped here: their
expressions must parse and evaluate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from modelops.api.modeldeployment import DriftMonitoring, PerformanceMonitoring
from modelops.api.objects import ModelDeployment
from modelops.contract.metrics import CUSTOM_METRIC_NAMES, deployment_query
from modelops.contract.serving import ServingContract
from modelops.observability.adapter import LABEL_MATCHERS, adapter_config
from modelops.observability.dashboard import dashboard
from modelops.operator.observing import QUERIES as OPERATOR_MONITOR_QUERIES
from modelops.operator.observing import PrometheusQueries, ServiceScrape
from modelops.testing import find_binaries
from modelops.testing.chart import render_chart
from modelops.testing.prometheus import Prometheus, Target
from modelops.testing.waiting import wait_for
from tests.component.serving.serving_server import TEST_SETTINGS, Server, free_port, launch, run_trainer, server_env

pytestmark = pytest.mark.integration
NAMESPACE = "ml"
PODS = {"cancer": "cancer-7c9d8f6b5-x2k4p", "diabetes": "diabetes-5f4b7c8d9-q8w2m"}
# Series the lead's serving change adds (drift threshold of the configured method, live degradation).
FOREST = {"n_estimators": 150}
# How each ModelDeployment judges drift (one method each, so both have a threshold series) and its
# live feedback (the wrong feedback of the load fails both).
DRIFT = {"cancer": DriftMonitoring(method="psi", window=200), "diabetes": DriftMonitoring(method="ks", window=200)}
PERFORMANCE = {
    "cancer": PerformanceMonitoring(metric="accuracy", min=0.9),
    "diabetes": PerformanceMonitoring(metric="rmse", min=100),
}
ALERTS = (
    "ModelOpsDriftAboveThreshold",
    "ModelOpsLiveQualityBelowMinimum",
    "ModelOpsServingErrors",
    "ModelOpsLatencyP99High",
    "ModelOpsRolledBack",
    "ModelOpsTrainingRunNotSucceeded",
    "ModelOpsModelDeploymentNotReady",
)


def grafana(expr: str, namespace: str, modeldeployments: tuple[str, ...]) -> str:
    """A dashboard query as Grafana sends it with `modeldeployments` chosen."""
    return (
        expr.replace("$namespace", namespace)
        .replace("$modeldeployment", "|".join(modeldeployments))
        .replace("$__rate_interval", "1m")
    )


def dashboard_queries(namespace: str = NAMESPACE, modeldeployments: tuple[str, ...] = tuple(PODS)) -> dict[str, str]:
    board = dashboard()
    queries = {
        f"{panel['title']} {target['refId']}": target["expr"]
        for panel in board["panels"]
        for target in panel.get("targets", [])
    }
    queries |= {f"annotation {a['name']}": a["expr"] for a in board["annotations"]["list"]}
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":  # label_values(SELECTOR, label): the selector is PromQL
            selector = variable["definition"].removeprefix("label_values(").rsplit(",", 1)[0]
            queries[f"variable {variable['name']}"] = selector
    return {name: grafana(expr, namespace, modeldeployments) for name, expr in queries.items()}


def autoscaling_queries() -> dict[str, str]:
    pods = f'namespace="{NAMESPACE}",pod=~"{"|".join(PODS.values())}"'
    queries = {
        f"adapter {r['name']['as']}": r["metricsQuery"].replace(LABEL_MATCHERS, pods) for r in adapter_config()["rules"]
    }
    queries |= {f"keda {metric}": deployment_query(metric, NAMESPACE, "cancer") for metric in CUSTOM_METRIC_NAMES}
    return queries


@dataclass
class Scraped:
    prometheus: Prometheus
    servers: dict[str, Server]


def train(root: Path, name: str, dataset: str, model: dict[str, Any]) -> str:
    store = f"file://{root / 'store'}"
    run_trainer(["prepare", "--name", name, "--store", store, "--builtin", dataset], root / f"{name}-prepare")
    args = ["train", "--name", name, "--store", store, "--dataset", name, "--spec-json", json.dumps({"model": model})]
    return str(run_trainer(args, root / f"{name}-train")["uri"])


def load(server: Server, model: str, rows: list[list[float]], *, classes: bool) -> int:
    """Predictions while the model loads (503s), then in-range and drifted rows, V2 infer and wrong feedback."""
    unavailable = 0
    with httpx.Client(base_url=server.url, timeout=10) as client:
        deadline = time.monotonic() + 60
        while True:
            assert server.process.poll() is None and time.monotonic() < deadline, server.output()
            try:
                answer = client.post("/predict", json={"instances": rows[:1]})
            except httpx.TransportError:
                time.sleep(0.02)
                continue
            if answer.status_code != 503:
                break
            unavailable += 1
        for round_ in range(3):  # across several scrapes, so rate() sees the counters move
            for start in range(0, 120, 4):
                batch = rows[start : start + 4]
                drifted = [[value * 5 for value in row] for row in batch]
                answer = client.post("/predict", json={"instances": batch + drifted})
                answer.raise_for_status()
                body = answer.json()
                wrong = [
                    {"prediction_id": pid, "label": next(c for c in body["classes"] if c != p) if classes else p + 1000}
                    for pid, p in zip(body["prediction_ids"], body["predictions"], strict=True)
                ]
                client.post("/feedback", json={"feedback": wrong}).raise_for_status()
            v2 = {"inputs": [{"name": "x", "shape": [2, len(rows[0])], "datatype": "FP64", "data": rows[:2]}]}
            client.post(f"/v2/models/{model}/infer", json=v2).raise_for_status()
            time.sleep(1.2 if round_ < 2 else 0)
    return unavailable


def contract(name: str, uri: str) -> dict[str, str]:
    """The serving pod's model and monitoring settings, in the environment the operator renders them into."""
    return ServingContract(model_uri=uri, drift=DRIFT[name], performance=PERFORMANCE[name]).env()


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    root = tmp_path_factory.mktemp("promql")
    uris = {
        # enough trees that loading and warming up takes seconds: scrapes see the 503s answered meanwhile
        "cancer": train(root, "cancer", "breast_cancer", {"algorithm": "random_forest", "hyperparameters": FOREST}),
        "diabetes": train(root, "diabetes", "diabetes", {"algorithm": "ridge"}),
    }
    ports = {name: free_port() for name in uris}
    targets = [
        Target(f"127.0.0.1:{port}", {"namespace": NAMESPACE, "pod": PODS[name], "modeldeployment": name})
        for name, port in ports.items()
    ]
    # Scraping before the servers start, four times a second: rate() sees the 503 counter move only
    # if a scrape lands while the model still loads (a counter's first sample is no increase), and
    # at one scrape a second a fast load could fall between two (seen once in CI).
    with Prometheus(root / "prometheus", targets, interval="250ms") as prometheus:
        # Prometheus takes its targets some seconds after it starts (discovery reload).
        wait_for("Prometheus scraping", lambda: len(prometheus.query("up")) == len(targets), timeout=30)
        servers = {
            name: launch([], root / f"{name}.log", server_env({**TEST_SETTINGS, **contract(name, uri)}), ports[name])
            for name, uri in uris.items()
        }
        try:
            cancer, diabetes = load_breast_cancer().data.tolist(), load_diabetes().data.tolist()
            unavailable = load(servers["cancer"], "cancer", cancer, classes=True)
            unavailable += load(servers["diabetes"], "diabetes", diabetes, classes=False)
            assert unavailable, "no prediction was answered 503 while a model loaded"
            wait_for("two scrapes after the load", lambda: prometheus.scraped(len(targets)), timeout=30)
            time.sleep(2.5)
            yield Scraped(prometheus, servers)
        finally:
            for server in servers.values():
                server.stop()


def rule_expressions(**values: str) -> dict[str, str]:
    """alert name -> expression, of the chart's rules rendered with `values`."""
    settings = {"prometheus.rules.enabled": "true", **values}
    docs = render_chart(find_binaries() / "helm", "modelops", "modelops", settings)
    (rule,) = [doc for doc in docs if doc["kind"] == "PrometheusRule"]
    return {r["alert"]: r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]}


def serving(queries: dict[str, str]) -> list[Any]:
    return [pytest.param(name, expr, id=name) for name, expr in queries.items() if "modelops_operator_" not in expr]


def operator(queries: dict[str, str]) -> list[Any]:
    return [pytest.param(name, expr, id=name) for name, expr in queries.items() if "modelops_operator_" in expr]


@pytest.mark.parametrize(("name", "expr"), serving(dashboard_queries()))
def test_dashboard_query_selects_serving_series(scraped: Scraped, name: str, expr: str) -> None:
    assert scraped.prometheus.query(expr), f"{name}: {expr}"


@pytest.mark.parametrize(("name", "expr"), operator(dashboard_queries()))
def test_dashboard_query_of_the_operator_parses_and_evaluates(scraped: Scraped, name: str, expr: str) -> None:
    scraped.prometheus.query(expr)


@pytest.mark.parametrize(("name", "expr"), serving(autoscaling_queries()))
def test_autoscaling_query_gives_a_value(scraped: Scraped, name: str, expr: str) -> None:
    result = scraped.prometheus.query(expr)
    assert result, f"{name}: {expr}"
    if name.startswith("adapter"):  # one value per pod: the custom metrics API answers per pod
        assert sorted(r["metric"]["pod"] for r in result) == sorted(PODS.values())


@pytest.mark.parametrize(("name", "expr"), list(OPERATOR_MONITOR_QUERIES.items()), ids=list(OPERATOR_MONITOR_QUERIES))
def test_the_operators_monitoring_query_selects_serving_series(scraped: Scraped, name: str, expr: str) -> None:
    """The operator reads drift and live quality from the same Prometheus: its queries find the series too."""
    assert scraped.prometheus.query(expr), f"{name}: {expr}"


def test_the_rules_are_the_alerts_listed_here() -> None:
    assert tuple(rule_expressions()) == ALERTS


@pytest.mark.parametrize("alert", ALERTS)
def test_alert_expression_fires_on_the_load_or_parses(
    scraped: Scraped, alert: str, request: pytest.FixtureRequest
) -> None:
    """With thresholds at zero, the serving alerts fire on what the load did: drift, wrong feedback,
    503s while loading, any latency. The operator's alerts need its series: they must parse."""
    expr = rule_expressions(
        **{"prometheus.rules.errorRatio.threshold": "0", "prometheus.rules.latencyP99.threshold": "0"}
    )[alert]
    if "modelops_operator_" in expr:
        scraped.prometheus.query(expr)
        return
    fired = scraped.prometheus.query(expr)
    assert fired, f"{alert}: {expr}"
    assert {r["metric"]["modeldeployment"] for r in fired} <= set(PODS)


@pytest.mark.parametrize("name", list(PODS))
def test_the_operator_reads_the_same_monitoring_from_prometheus_as_from_the_server_itself(
    scraped: Scraped, name: str
) -> None:
    md = ModelDeployment.model_validate(
        {
            "metadata": {"name": name, "namespace": NAMESPACE, "uid": name},
            "spec": {
                "model": {"uri": f"file:///store/{NAMESPACE}/models/{name}/0123456789abcdef"},
                "monitoring": {"drift": DRIFT[name].wire(), "performance": PERFORMANCE[name].wire()},
            },
        }
    )
    through_prometheus = PrometheusQueries(scraped.prometheus.url, timeout=10, refresh=60).observe(md)
    directly = ServiceScrape(f"{scraped.servers[name].url}/metrics", timeout=10).observe(md)

    assert through_prometheus is not None and directly is not None
    assert through_prometheus.drift_score == pytest.approx(directly.drift_score)
    assert through_prometheus.drifted_features == directly.drifted_features != []
    assert through_prometheus.live == pytest.approx(directly.live)
    # Requests count the scrapes too: the one Prometheus has not made yet, and this direct read.
    assert through_prometheus.requests is not None and directly.requests is not None
    assert 0 <= directly.requests - through_prometheus.requests <= 2
