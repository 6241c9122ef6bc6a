"""Where the operator reads what its models' servers measure: Prometheus when there is one, else each Service.

With `MODELOPS_PROMETHEUS_URL` set, a handful of PromQL queries per refresh cover every
ModelDeployment at once (Prometheus already scrapes the pods, through the chart's PodMonitor or
the pods' scrape annotations, which carry the `namespace` and `modeldeployment` labels). Without
it, each ModelDeployment's Service is scraped once per `monitoring.interval`, each at its own
offset within the interval so thousands of them do not all come due at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelops.api.objects import ModelDeployment
from modelops.contract.metrics import MODEL_DEPLOYMENT_LABEL, REQUESTS_TOTAL
from modelops.contract.monitoring import DRIFT_SCORE, FEATURE_STATISTIC, LIVE_PREFIX, is_drifted
from modelops.operator import naming
from modelops.operator.decisions.retraining import Observation, parse_metrics
from modelops.operator.settings import OperatorSettings

log = logging.getLogger("modelops.operator")
Target = tuple[str, str]  # (namespace, the modeldeployment label: the MD's name cut to a label value)


class MetricsSource(Protocol):
    def observe(self, md: ModelDeployment) -> Observation | None: ...


def _get(url: str, timeout: float) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data: bytes = response.read()
            return data
    except OSError as error:
        # Not reachable yet (or no network path from here): nothing to decide on; try at the next interval.
        log.debug("cannot read %s: %s", url, error)
        return None


class ServiceScrape:
    """Reads each ModelDeployment's `/metrics` through its Service."""

    def __init__(self, url_template: str, timeout: float) -> None:
        self.url_template = url_template
        self.timeout = timeout

    def observe(self, md: ModelDeployment) -> Observation | None:
        url = self.url_template.format(service=naming.serving_name(md.name), namespace=md.namespace)
        body = _get(url, self.timeout)
        return parse_metrics(body.decode("utf-8", "replace"), md) if body is not None else None


@dataclass
class Snapshot:
    """Every ModelDeployment's serving metrics at one moment, as Prometheus aggregates them over its pods."""

    drift: dict[Target, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))  # method -> score
    features: dict[Target, dict[str, dict[str, float]]] = field(default_factory=lambda: defaultdict(dict))
    live: dict[Target, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    requests: dict[Target, float] = field(default_factory=dict)


def _by(label: str) -> str:
    return f"namespace, {MODEL_DEPLOYMENT_LABEL}, {label}" if label else f"namespace, {MODEL_DEPLOYMENT_LABEL}"


# The worst pod decides drift (each pod sees part of the traffic); live quality is averaged over pods.
QUERIES: Mapping[str, str] = {
    "drift": f"max by ({_by('method')}) ({DRIFT_SCORE})",
    **{
        f"features:{method}": f"max by ({_by('feature')}) ({series})"
        " > on (namespace, modeldeployment) group_left "
        f'max by ({_by("")}) (modelops_drift_threshold{{method="{method}"}})'
        for method, series in FEATURE_STATISTIC.items()
    },
    "live": f"avg by ({_by('metric')}) (label_replace("
    f'{{__name__=~"{LIVE_PREFIX}(accuracy|f1|rmse|mae)"}}, "metric", "$1", "__name__", "{LIVE_PREFIX}(.*)"))',
    "requests": f"sum by ({_by('')}) ({REQUESTS_TOTAL})",
}


def snapshot_from(results: Mapping[str, list[dict[str, Any]]]) -> Snapshot:
    """A Snapshot from the instant-vector results of QUERIES (Prometheus' `data.result` of each)."""
    snapshot = Snapshot()
    for name, series in results.items():
        for item in series:
            labels, value = item["metric"], float(item["value"][1])
            target = (labels.get("namespace", ""), labels.get(MODEL_DEPLOYMENT_LABEL, ""))
            if name == "drift":
                snapshot.drift[target][labels.get("method", "")] = value
            elif name.startswith("features:"):
                snapshot.features[target].setdefault(name.split(":", 1)[1], {})[labels.get("feature", "?")] = value
            elif name == "live":
                snapshot.live[target][labels.get("metric", "")] = value
            elif name == "requests":
                snapshot.requests[target] = value
    return snapshot


class PrometheusQueries:
    """Reads every ModelDeployment's metrics from Prometheus with a few queries per refresh."""

    def __init__(self, url: str, timeout: float, refresh: float, clock: Callable[[], float] = time.monotonic):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.refresh = refresh
        self._clock = clock
        self._taken = -float("inf")
        self._snapshot: Snapshot | None = None
        self._guard = threading.Lock()

    def _query(self, promql: str) -> list[dict[str, Any]] | None:
        body = _get(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}", self.timeout)
        if body is None:
            return None
        answer = json.loads(body)
        if answer.get("status") != "success":
            log.warning("Prometheus refused %s: %s", promql, answer.get("error"))
            return None
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def snapshot(self) -> Snapshot | None:
        """The latest snapshot, refreshed (by one caller; the others wait for it) when older than `refresh`."""
        with self._guard:
            if self._clock() - self._taken >= self.refresh:
                results = {name: self._query(promql) for name, promql in QUERIES.items()}
                if all(result is not None for result in results.values()):
                    self._snapshot = snapshot_from({name: r for name, r in results.items() if r is not None})
                    self._taken = self._clock()
            return self._snapshot

    def observe(self, md: ModelDeployment) -> Observation | None:
        snapshot = self.snapshot()
        if snapshot is None:
            return None
        target = (md.namespace, naming.bounded(md.name))
        drift_spec = md.spec.monitoring.drift if md.spec.monitoring and md.spec.monitoring.drift else None
        method = drift_spec.method if drift_spec else "psi"
        drifted = [
            feature
            for feature, value in snapshot.features.get(target, {}).get(method, {}).items()
            if drift_spec and is_drifted(value, drift_spec.threshold)
        ]
        requests = snapshot.requests.get(target)
        return Observation(
            drift_score=snapshot.drift.get(target, {}).get(method),
            drifted_features=sorted(drifted),
            live=dict(snapshot.live.get(target, {})),
            requests=int(requests) if requests is not None else None,
        )


def offset(uid: str, interval: float) -> float:
    """A ModelDeployment's fixed place within its monitoring interval: reads spread over the interval."""
    return int(hashlib.sha256(uid.encode()).hexdigest()[:8], 16) % 1000 / 1000 * interval


class ReadSchedule:
    """When each ModelDeployment's metrics are due: once per its interval, at its own offset within it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._next: dict[str, float] = {}
        self._guard = threading.Lock()

    def due(self, uid: str, interval: float) -> bool:
        now = self._clock()
        with self._guard:
            due = self._next.setdefault(uid, now + offset(uid, interval))
            if now < due:
                return False
            self._next[uid] = max(due + interval, now)
            return True


def source_for(settings: OperatorSettings) -> MetricsSource:
    """Prometheus when the operator is told where it is, else each ModelDeployment's Service."""
    if settings.prometheus_url:
        return PrometheusQueries(settings.prometheus_url, settings.monitoring_timeout, settings.prometheus_refresh)
    return ServiceScrape(settings.monitoring_url, settings.monitoring_timeout)
