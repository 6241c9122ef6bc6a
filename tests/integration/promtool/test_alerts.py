"""The chart's alerts pass `promtool check rules`, and its `promtool test rules` unit tests (alerts.test.yaml)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from modelops.testing import find_binaries
from modelops.testing.chart import render_chart
from modelops.testing.prometheus import promtool

pytestmark = pytest.mark.integration
UNIT_TESTS = Path(__file__).with_name("alerts.test.yaml")


def rules_file(directory: Path, **values: str) -> Path:
    """The chart's PrometheusRule (rules enabled, `values` set) as a Prometheus rules file in `directory`."""
    values = {"prometheus.rules.enabled": "true", **values}
    docs = render_chart(find_binaries() / "helm", "modelops", "modelops", values)
    (rule,) = [doc for doc in docs if doc["kind"] == "PrometheusRule"]
    path = directory / "alerts.rules.yaml"
    path.write_text(yaml.safe_dump(rule["spec"]))
    return path


def run_unit_tests(directory: Path) -> str:
    shutil.copy(UNIT_TESTS, directory / UNIT_TESTS.name)
    done = promtool("test", "rules", UNIT_TESTS.name, cwd=directory)
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}"


def test_every_rule_passes_promtool_check(tmp_path: Path) -> None:
    done = promtool("check", "rules", str(rules_file(tmp_path)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 7 rules found" in done.stdout


def test_the_alert_unit_tests_pass(tmp_path: Path) -> None:
    rules_file(tmp_path)
    result = run_unit_tests(tmp_path)
    assert result.startswith("exit 0"), result


def test_the_unit_tests_notice_a_changed_threshold(tmp_path: Path) -> None:
    rules_file(tmp_path, **{"prometheus.rules.errorRatio.threshold": "0.5"})
    result = run_unit_tests(tmp_path)
    assert result.startswith("exit 1") and "alertname: ModelOpsServingErrors" in result, result


def test_every_alert_has_a_unit_test(tmp_path: Path) -> None:
    groups = yaml.safe_load(rules_file(tmp_path).read_text())["groups"]
    alerts = {rule["alert"] for group in groups for rule in group["rules"]}
    tests = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert alerts == tested


def test_extra_labels_reach_every_alert_and_the_release_label_the_rule(tmp_path: Path) -> None:
    values = {"prometheus.rules.enabled": "true", "prometheus.release": "kps", "prometheus.rules.labels.team": "ml"}
    docs = render_chart(find_binaries() / "helm", "modelops", "modelops", values)
    (rule,) = [doc for doc in docs if doc["kind"] == "PrometheusRule"]
    assert rule["metadata"]["labels"]["release"] == "kps"
    for group in rule["spec"]["groups"]:
        for alert in group["rules"]:
            assert alert["labels"]["team"] == "ml" and alert["labels"]["severity"] in ("warning", "critical")
