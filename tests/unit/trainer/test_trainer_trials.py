"""Scoring trials apart from choosing the best, and gathering the shards a tune Job stored."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_iris
from sklearn.pipeline import Pipeline

from modelops.artifacts.store import ArtifactStore
from modelops.contract.trials import Trial, TrialShard, deal
from modelops.trainer.algorithms import get_algorithm, make_estimator
from modelops.trainer.errors import BadInputError
from modelops.trainer.trials import gather, read_shard, write_shard
from modelops.trainer.tuning import Objective, best_trial, cv_for, reported_score, score_trials

CANDIDATES: list[dict[str, Any]] = [
    {"n_neighbors": k, "weights": w} for k in (1, 5, 15) for w in ("uniform", "distance")
]


def _score(positions: list[int]) -> list[Trial]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    estimator = make_estimator(get_algorithm("knn"), "classification", {}, 0, field_path="f")
    return score_trials(
        Pipeline([("model", estimator)]),
        [(p, CANDIDATES[p]) for p in positions],
        X=X,
        y=y,
        task="classification",
        objective=Objective("accuracy", "maximize"),
        cv=cv_for("classification", 3, 0, y),
        n_jobs=None,
    )


def test_a_candidate_scores_the_same_whichever_candidates_share_its_pod() -> None:
    alone = _score(list(range(len(CANDIDATES))))
    shards = [trial for share in deal(CANDIDATES, 3) for trial in _score(share)]

    assert sorted(shards, key=lambda t: t.position) == alone
    assert [t.parameters for t in alone] == CANDIDATES
    assert all(len(t.scores) == 3 for t in alone)


def _trial(position: int, *scores: float) -> Trial:
    return Trial(position=position, parameters={"p": position}, scores=list(scores))


def test_the_best_trial_has_the_highest_mean_and_ties_go_to_the_earliest_candidate() -> None:
    trials = [_trial(3, 0.9, 0.7), _trial(1, 0.8, 0.8), _trial(2, 0.7, 0.9), _trial(0, 0.5, 0.6)]
    assert best_trial(trials).position == 1
    assert best_trial([*trials, _trial(4, 0.81, 0.8)]).position == 4


def test_an_error_metric_is_reported_in_its_own_sign() -> None:
    trial = _trial(0, -2.0, -4.0)  # sklearn's neg_root_mean_squared_error
    assert reported_score(trial, Objective("rmse", "minimize")) == 3.0
    assert reported_score(trial, Objective("r2", "maximize")) == -3.0


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore.from_uri(f"file://{tmp_path}")


def _shard(shard: int, shards: int, candidates: list[dict[str, Any]] = CANDIDATES) -> TrialShard:
    trials = [Trial(position=p, parameters=candidates[p], scores=[0.5]) for p in deal(CANDIDATES, shards)[shard]]
    return TrialShard(search="s1", shard=shard, shards=shards, total=len(candidates), trials=trials)


def test_gathering_returns_every_candidate_once_in_candidate_order(store: ArtifactStore) -> None:
    for shard in range(2):
        write_shard(store, "run", _shard(shard, 2))

    assert [t.position for t in gather(store, "run", "s1", 2, CANDIDATES)] == list(range(len(CANDIDATES)))
    assert read_shard(store, "run", "s1", 1, 2) == _shard(1, 2)
    assert read_shard(store, "run", "other-search", 1, 2) is None


def test_gathering_names_the_shards_that_never_stored_their_trials(store: ArtifactStore) -> None:
    write_shard(store, "run", _shard(1, 3))

    with pytest.raises(BadInputError, match=r"shard\(s\) \[0, 2\] of 3 have no stored trials"):
        gather(store, "run", "s1", 3, CANDIDATES)


def test_trials_of_other_candidates_are_refused(store: ArtifactStore) -> None:
    other = [{**c, "n_neighbors": 2} for c in CANDIDATES]
    write_shard(store, "run", _shard(0, 2))
    write_shard(store, "run", _shard(1, 2, other))

    strangers = str(deal(CANDIDATES, 2)[1])
    with pytest.raises(BadInputError, match=rf"at positions {re.escape(strangers)} are not this search's candidates"):
        gather(store, "run", "s1", 2, CANDIDATES)


def test_shards_of_another_split_of_the_same_search_are_refused(store: ArtifactStore) -> None:
    write_shard(store, "run", _shard(0, 2))
    write_shard(store, "run", TrialShard(search="s1", shard=1, shards=2, total=6, trials=_shard(0, 2).trials))

    with pytest.raises(BadInputError, match="not each of the 6 candidates once"):
        gather(store, "run", "s1", 2, CANDIDATES)
