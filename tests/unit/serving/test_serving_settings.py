"""Settings come from the environment the operator renders (MODELOPS_SERVING_*), with flags on top."""

from __future__ import annotations

import pytest

from modelops.api.modeldeployment import DriftMonitoring, PerformanceMonitoring
from modelops.contract.serving import FEEDBACK_KEY_ENV, ServingContract
from modelops.serving.__main__ import main, settings_from
from modelops.serving.settings import ServingSettings

URI = "s3://bucket/prod/models/iris/0123456789abcdef"


def test_every_contract_field_the_operator_renders_is_what_the_server_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = ServingContract(
        model_uri=URI,
        model_name="iris",
        port=9000,
        grpc_port=9001,
        drift=DriftMonitoring(method="ks", threshold=0.35, window=250),
        performance=PerformanceMonitoring(metric="f1", min=0.8, window=75),
        max_body_bytes=4096,
        max_batch_rows=7,
    )
    for name, value in sent.env().items():
        monkeypatch.setenv(name, value)

    received = ServingSettings()

    assert received.contract() == sent
    assert received.feedback_window == 75


def test_unset_monitoring_takes_the_api_models_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ServingContract(model_uri=URI).env().items():
        monkeypatch.setenv(name, value)

    received = ServingSettings()

    assert received.drift == DriftMonitoring()
    assert received.performance is None
    assert received.feedback_window == PerformanceMonitoring.model_fields["window"].default


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELOPS_SERVING_MODEL_URI", "file:///a/ns/models/x/0123456789abcdef")
    monkeypatch.setenv("MODELOPS_SERVING_PORT", "9000")

    settings = settings_from(["--model-uri", "file:///b/ns/models/x/fedcba9876543210", "--port", "8081"])

    assert (settings.model_uri, settings.port) == ("file:///b/ns/models/x/fedcba9876543210", 8081)


def test_without_a_model_uri_the_server_exits_2_saying_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MODELOPS_SERVING_MODEL_URI", raising=False)

    assert main([]) == 2
    assert "no model URI: pass --model-uri or set MODELOPS_SERVING_MODEL_URI" in capsys.readouterr().err


def test_invalid_settings_exit_2_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELOPS_SERVING_DRIFT", '{"window": 3}')

    assert main(["--model-uri", "file:///a/ns/models/x/0123456789abcdef"]) == 2
    assert "drift.window" in capsys.readouterr().err


def test_the_feedback_key_is_read_from_the_variable_the_contract_names_and_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELOPS_SERVING_MODEL_URI", URI)
    monkeypatch.setenv(FEEDBACK_KEY_ENV, "a secret of the deployment")

    settings = ServingSettings()

    assert settings.feedback_key is not None
    assert settings.feedback_key.get_secret_value() == "a secret of the deployment"
    assert "a secret of the deployment" not in repr(settings) + str(settings.model_dump())


def test_a_feedback_key_too_short_to_be_a_secret_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(FEEDBACK_KEY_ENV, "shortsecret")

    assert main(["--model-uri", URI]) == 2
    error = capsys.readouterr().err
    assert "feedback_key: Value should have at least 16 items" in error and "shortsecret" not in error
