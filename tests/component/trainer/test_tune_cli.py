"""`tune` shards then `train --tuning-shards`, as a TrainingRun's Indexed Job and final Job run them."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from modelops.artifacts.model_format import load_model
from modelops.contract.jobs import EXIT_BAD_INPUT, EXIT_OK
from modelops.contract.trials import TuneResult
from modelops.trainer.sources import load_builtin

from .trainer_cli import RunTrainer

SPEC: dict[str, Any] = {
    "model": {"algorithm": "random_forest", "hyperparameters": {"n_estimators": 10}},
    "tuning": {
        "strategy": "random",
        "parameters": {"max_depth": [2, 3, 4, None], "min_samples_leaf": [1, 2, 4], "max_features": [0.3, 1.0]},
        "maxTrials": 7,
        "cvFolds": 3,
        "objective": {"metric": "f1_macro"},
    },
}


def _args(command: str, name: str, store: str, spec: dict[str, Any], *more: str) -> list[str]:
    return [command, "--name", name, "--store", store, "--dataset", "wine", "--spec-json", json.dumps(spec), *more]


def _spread(run_trainer: RunTrainer, store: str, name: str, shards: int) -> dict[str, Any]:
    """Each shard as its own process told its index like an Indexed Job's pod, then the final step."""
    spec = {**SPEC, "tuning": {**SPEC["tuning"], "parallelism": shards}}
    for index in range(shards):
        tuned = run_trainer(*_args("tune", name, store, spec, "--shards", str(shards)),
                            env={"JOB_COMPLETION_INDEX": str(index)})  # fmt: skip
        assert tuned.returncode == EXIT_OK, tuned.stderr
        assert TuneResult.model_validate(tuned.message).shard == index
    final = run_trainer(*_args("train", name, store, spec, "--tuning-shards", str(shards)))
    assert final.returncode == EXIT_OK, final.stderr
    assert "picking the best of 7 trials scored by" in final.stderr and "INFO tuning " not in final.stderr
    return final.result


def test_a_search_spread_over_shards_finds_and_saves_what_one_pod_finds(
    run_trainer: RunTrainer, store_uri: str
) -> None:
    assert run_trainer("prepare", "--name", "wine", "--store", store_uri, "--builtin", "wine").returncode == EXIT_OK
    alone = run_trainer(*_args("train", "wine-rf", store_uri, SPEC))
    assert alone.returncode == EXIT_OK, alone.stderr
    one = alone.result

    # 7 candidates in 3 shards of 3, 2 and 2: uneven shares, each its own process
    spread = _spread(run_trainer, store_uri, "wine-rf-spread", 3)

    assert spread["version"] == one["version"]
    assert spread["best_hyperparameters"] == one["best_hyperparameters"]
    assert (spread["trials"], spread["metrics"]) == (one["trials"], one["metrics"])
    first, second = load_model(one["uri"]), load_model(spread["uri"])
    assert first.metadata.metrics == second.metadata.metrics  # the cross-validated best score included
    rows = load_builtin("wine").drop(columns=["target"])
    assert np.array_equal(first.pipeline.predict_proba(rows), second.pipeline.predict_proba(rows))


def test_a_shard_run_again_reports_its_stored_trials(run_trainer: RunTrainer, store_uri: str) -> None:
    assert run_trainer("prepare", "--name", "wine", "--store", store_uri, "--builtin", "wine").returncode == EXIT_OK
    spec = {**SPEC, "tuning": {**SPEC["tuning"], "parallelism": 2}}
    runs = [run_trainer(*_args("tune", "wine-rf", store_uri, spec, "--shards", "2", "--shard", "1")) for _ in range(2)]

    first, again = (TuneResult.model_validate(r.message) for r in runs)
    assert (first.trials, first.reused, again.reused) == (3, False, True)
    assert again.uri == first.uri and "already stored" in runs[1].stderr


def test_the_final_step_refuses_a_search_whose_shards_are_missing(run_trainer: RunTrainer, store_uri: str) -> None:
    assert run_trainer("prepare", "--name", "wine", "--store", store_uri, "--builtin", "wine").returncode == EXIT_OK
    run_trainer(*_args("tune", "wine-rf", store_uri, SPEC, "--shards", "2", "--shard", "0"))

    final = run_trainer(*_args("train", "wine-rf", store_uri, SPEC, "--tuning-shards", "2"))

    assert final.returncode == EXIT_BAD_INPUT
    assert final.message is not None and "shard(s) [1] of 2 have no stored trials" in final.message["error"]


def test_a_shard_needs_its_index(run_trainer: RunTrainer, store_uri: str) -> None:
    run = run_trainer(*_args("tune", "wine-rf", store_uri, SPEC, "--shards", "2"), env={"JOB_COMPLETION_INDEX": ""})

    assert run.returncode == EXIT_BAD_INPUT
    assert run.message is not None and "$JOB_COMPLETION_INDEX is ''" in run.message["error"]
