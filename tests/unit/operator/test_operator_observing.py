"""Reading serving metrics: from Prometheus' aggregated answers, or per Service, spread over the interval."""

from __future__ import annotations

from typing import Any

from modelops.operator.decisions.retraining import Observation
from modelops.operator.observing import QUERIES, PrometheusQueries, ReadSchedule, offset, snapshot_from

from .operator_objects import MODEL_URI, model_deployment


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def series(value: float, **labels: str) -> dict[str, Any]:
    return {"metric": {"namespace": "ns", "modeldeployment": "iris", **labels}, "value": [0, str(value)]}


RESULTS = {
    "drift": [series(0.31, method="psi"), series(0.12, method="ks")],
    "features:psi": [series(0.31, feature="petal_length")],
    "features:ks": [],
    "live": [series(0.82, metric="accuracy"), series(0.8, metric="f1")],
    "requests": [series(42)],
}


def test_every_query_is_one_the_snapshot_reads() -> None:
    assert set(QUERIES) == set(RESULTS)


def test_prometheus_answers_become_each_model_deployments_observation() -> None:
    source = PrometheusQueries("http://prometheus:9090", timeout=1, refresh=60)
    source._snapshot, source._taken = snapshot_from(RESULTS), float("inf")  # as if just queried
    md = model_deployment(
        "iris", {"model": {"uri": MODEL_URI}, "monitoring": {"drift": {"method": "psi", "threshold": 0.2}}}
    )
    other = model_deployment("other", {"model": {"uri": MODEL_URI}})

    assert source.observe(md) == Observation(0.31, ["petal_length"], {"accuracy": 0.82, "f1": 0.8}, 42)
    assert source.observe(other) == Observation()


def test_reads_are_spread_over_the_interval_and_come_once_per_interval() -> None:
    clock = Clock()
    schedule = ReadSchedule(clock)
    uids = [f"uid-{i}" for i in range(100)]
    offsets = sorted(offset(uid, 60) for uid in uids)
    assert offsets[0] < 10 and offsets[-1] > 50  # not all at once

    assert not schedule.due("uid-7", 60) or offset("uid-7", 60) == 0
    clock.now += offset("uid-7", 60)
    assert schedule.due("uid-7", 60)
    assert not schedule.due("uid-7", 60)
    clock.now += 60
    assert schedule.due("uid-7", 60)
