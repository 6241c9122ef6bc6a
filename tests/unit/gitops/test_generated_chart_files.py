"""The chart's generated monitoring files (prometheus-adapter rules, Grafana dashboard) are current."""

from __future__ import annotations

from pathlib import Path

from modelops.contract.metrics import CUSTOM_METRIC_NAMES, per_pod_query
from modelops.observability.__main__ import ADAPTER_RULES, main
from modelops.observability.adapter import adapter_config
from modelops.observability.dashboard import dashboard


def test_chart_files_match_what_the_contract_generates() -> None:
    assert main(["--check"]) == 0, "run `python -m modelops.observability`"


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    main([str(tmp_path)])
    (tmp_path / ADAPTER_RULES).write_text("stale")
    assert main(["--check", str(tmp_path)]) == 1


def test_the_adapter_serves_every_metric_an_hpa_asks_for_with_the_contract_query() -> None:
    rules = {rule["name"]["as"]: rule["metricsQuery"] for rule in adapter_config()["rules"]}
    assert rules == {name: per_pod_query(metric, "<<.LabelMatchers>>") for metric, name in CUSTOM_METRIC_NAMES.items()}


def test_every_dashboard_query_selects_the_chosen_modeldeployments_or_is_the_operators() -> None:
    board = dashboard()
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [a["expr"] for a in board["annotations"]["list"]]
    assert exprs
    for expr in exprs:
        assert 'modeldeployment=~"$modeldeployment"' in expr or "modelops_operator_" in expr, expr


def test_panels_do_not_overlap() -> None:
    cells = set()
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, panel["title"]
                cells.add((x, y))
