"""The Grafana dashboard: per ModelDeployment traffic, errors, latency, replicas, drift, live quality, versions.

Built here rather than kept as hand-edited JSON so that every query is written with the contract's
names once, and panels share one shape. Variables: `$namespace`, `$modeldeployment` (multi),
`$datasource`; retraining, promotion and rollback are annotations from the operator's counters.
"""

from __future__ import annotations

from typing import Any

from modelops.contract.metrics import (
    INFERENCE_ROUTES,
    MODEL_DEPLOYMENT_LABEL,
    REQUEST_DURATION,
    REQUESTS_IN_FLIGHT,
    REQUESTS_TOTAL,
)

Json = dict[str, Any]
UID = "modelops"
DATASOURCE: Json = {"type": "prometheus", "uid": "${datasource}"}
MD = MODEL_DEPLOYMENT_LABEL
# Every serving query's selector; Grafana expands a multi-value variable into a regex.
WHERE = f'namespace="$namespace",{MD}=~"$modeldeployment"'
RATE = "$__rate_interval"
LEGEND = "{{" + MD + "}}"
WIDTH, HEIGHT = 12, 8


def _rate(series: str, extra: str = "") -> str:
    return f"rate({series}{{{WHERE}{extra}}}[{RATE}])"


def _latency(quantile: float) -> str:
    buckets = _rate(f"{REQUEST_DURATION}_bucket", f',route=~"{INFERENCE_ROUTES}"')
    return f"histogram_quantile({quantile}, sum by ({MD}, le) ({buckets}))"


def _operator_events(series: str, by: str) -> str:
    """Times a counter of the operator's moved; a labelled counter is born at 1, so a new series counts too."""
    selected = f'{series}{{namespace="$namespace",{MD}=~"$modeldeployment"}}'
    return f"sum by ({by}) ((increase({selected}[2m]) > 0) or ({selected} unless {selected} offset 2m))"


def _target(expr: str, legend: str, ref: str) -> Json:
    return {"refId": ref, "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}


def _panel(title: str, unit: str, targets: list[tuple[str, str]], kind: str = "timeseries") -> Json:
    return {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
        "targets": [_target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(targets)],
    }


def _variable(name: str, query: str, *, multi: bool) -> Json:
    return {
        "name": name,
        "label": name,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": name},
        "refresh": 2,
        "multi": multi,
        "includeAll": multi,
        "sort": 1,
    }


def _annotation(name: str, expr: str, color: str, text: str) -> Json:
    return {
        "name": name,
        "datasource": DATASOURCE,
        "enable": True,
        "expr": expr,
        "iconColor": color,
        "step": "1m",
        "titleFormat": name,
        "textFormat": text,
    }


def _rows(sections: list[tuple[str, list[Json]]]) -> list[Json]:
    """Sections as rows of two panels each, with Grafana's grid positions and ids."""
    panels: list[Json] = []
    y = 0
    for title, members in sections:
        panels.append({"type": "row", "title": title, "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}})
        y += 1
        for i, panel in enumerate(members):
            panel["gridPos"] = {"h": HEIGHT, "w": WIDTH, "x": (i % 2) * WIDTH, "y": y + (i // 2) * HEIGHT}
        y += ((len(members) + 1) // 2) * HEIGHT
        panels.extend(members)
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    return panels


def _serving() -> list[tuple[str, list[Json]]]:
    requests = _rate(REQUESTS_TOTAL, f',route=~"{INFERENCE_ROUTES}"')
    all_requests = f"sum by ({MD}) ({_rate(REQUESTS_TOTAL)})"
    errors = f"sum by ({MD}) ({_rate(REQUESTS_TOTAL, ',code=~' + chr(34) + '5..' + chr(34))})"
    traffic = [
        _panel("Predictions per second", "reqps", [(f"sum by ({MD}, code) ({requests})", LEGEND + " {{code}}")]),
        # 0 rather than no data while nothing fails: the 5xx series exist only after a first 5xx.
        _panel("5xx ratio", "percentunit", [(f"({errors} or {all_requests} * 0) / {all_requests}", LEGEND)]),
        _panel("Prediction latency", "s", [(_latency(0.5), "p50 " + LEGEND), (_latency(0.99), "p99 " + LEGEND)]),
        _panel("In flight", "short", [(f"sum by ({MD}) ({REQUESTS_IN_FLIGHT}{{{WHERE}}})", LEGEND)]),
        _panel(
            "Replicas",
            "short",
            [
                (f"count by ({MD}) (modelops_model_info{{{WHERE}}})", "serving " + LEGEND),
                (f"sum by ({MD}) (modelops_model_ready{{{WHERE}}})", "ready " + LEGEND),
            ],
        ),
        _panel(
            "Model version",
            "short",
            [(f"max by ({MD}, version) (modelops_model_info{{{WHERE}}})", LEGEND + " {{version}}")],
            kind="state-timeline",
        ),
    ]
    quality = [
        _panel(
            "Drift score and threshold",
            "short",
            [
                (f"max by ({MD}, method) (modelops_drift_score{{{WHERE}}})", LEGEND + " {{method}}"),
                (f"max by ({MD}, method) (modelops_drift_threshold{{{WHERE}}})", "threshold " + LEGEND),
            ],
        ),
        _panel(
            "PSI per feature", "short", [(f"max by ({MD}, feature) (modelops_drift_psi{{{WHERE}}})", "{{feature}}")]
        ),
        _panel(
            "Live accuracy and F1 (classification)",
            "percentunit",
            [(f"max by ({MD}) (modelops_live_{m}{{{WHERE}}})", f"{m} " + LEGEND) for m in ("accuracy", "f1")],
        ),
        _panel(
            "Live RMSE and MAE (regression)",
            "short",
            [(f"max by ({MD}) (modelops_live_{m}{{{WHERE}}})", f"{m} " + LEGEND) for m in ("rmse", "mae")],
        ),
    ]
    return [("Traffic", traffic), ("Model quality", quality)]


def _operator() -> list[tuple[str, list[Json]]]:
    reconciles = f"sum by (kind, result) (rate(modelops_operator_reconciles_total[{RATE}]))"
    duration = f"rate(modelops_operator_reconcile_duration_seconds_bucket[{RATE}])"
    jobs = f"sum by (component) (rate(modelops_operator_jobs_created_total[{RATE}]))"
    finished = f"sum by (component, result) (rate(modelops_operator_jobs_finished_total[{RATE}]))"
    return [
        (
            "Operator",
            [
                _panel("Reconciles per second", "ops", [(reconciles, "{{kind}} {{result}}")]),
                _panel(
                    "Reconcile duration p99",
                    "s",
                    [(f"histogram_quantile(0.99, sum by (kind, le) ({duration}))", "{{kind}}")],
                ),
                _panel("Jobs", "ops", [(jobs, "created {{component}}"), (finished, "{{result}} {{component}}")]),
                _panel(
                    "Not Ready",
                    "short",
                    [('count by (kind) (modelops_operator_ready{namespace="$namespace"} == 0)', "{{kind}}")],
                ),
            ],
        )
    ]


def dashboard() -> Json:
    return {
        "uid": UID,
        "title": "modelops",
        "description": "ModelDeployments served by modelops: traffic, errors, latency, replicas, drift, live quality.",
        "tags": ["modelops"],
        "schemaVersion": 39,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"},
                _variable("namespace", "label_values(modelops_model_info, namespace)", multi=False),
                _variable(
                    "modeldeployment", f'label_values(modelops_model_info{{namespace="$namespace"}}, {MD})', multi=True
                ),
            ]
        },
        "annotations": {
            "list": [
                _annotation(
                    "Retraining",
                    _operator_events("modelops_operator_retrainings_total", f"{MD}, trigger"),
                    "orange",
                    LEGEND + " retrains ({{trigger}})",
                ),
                _annotation(
                    "Promotion",
                    _operator_events("modelops_operator_promotions_total", MD),
                    "green",
                    LEGEND + " promoted",
                ),
                _annotation(
                    "Rollback",
                    _operator_events("modelops_operator_rollbacks_total", MD),
                    "red",
                    LEGEND + " rolled back",
                ),
            ]
        },
        "panels": _rows([*_serving(), *_operator()]),
    }
