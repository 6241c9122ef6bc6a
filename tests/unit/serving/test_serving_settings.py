"""Settings come from the environment (MODEL_URI, MODELOPS_SERVING_*) with flags on top."""

from __future__ import annotations

import pytest

from modelops.serving.__main__ import main, settings_from


def test_the_model_uri_comes_from_model_uri_and_the_rest_from_prefixed_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODEL_URI", "s3://bucket/models/iris/v1")
    monkeypatch.setenv("MODELOPS_SERVING_PORT", "9000")
    monkeypatch.setenv("MODELOPS_SERVING_DRIFT_WINDOW", "500")

    settings = settings_from([])

    assert settings.model_uri == "s3://bucket/models/iris/v1"
    assert settings.port == 9000 and settings.drift_window == 500
    assert settings.host == "0.0.0.0" and settings.runtime == "auto"


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_URI", "file:///a/models/x/v1")
    monkeypatch.setenv("MODELOPS_SERVING_PORT", "9000")

    settings = settings_from(["--model-uri", "file:///b/models/x/v2", "--port", "8081", "--host", "127.0.0.1"])

    assert (settings.model_uri, settings.port, settings.host) == ("file:///b/models/x/v2", 8081, "127.0.0.1")


def test_without_a_model_uri_the_server_exits_2_saying_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MODEL_URI", raising=False)
    monkeypatch.delenv("MODELOPS_SERVING_MODEL_URI", raising=False)

    assert main([]) == 2
    assert "no model URI: pass --model-uri or set MODEL_URI" in capsys.readouterr().err


def test_invalid_settings_exit_2_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELOPS_SERVING_DRIFT_WINDOW", "3")

    assert main(["--model-uri", "file:///a/models/x/v1"]) == 2
    assert "drift_window" in capsys.readouterr().err
