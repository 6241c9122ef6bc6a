"""How the trials of a search are dealt to the pods of an Indexed Job, and what their progress is."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelops.api.trainingrun import Tuning
from modelops.contract.trials import Trial, deal, share_size, trials_done


def grid(*sizes: int) -> list[dict[str, int]]:
    """A full grid in the trainer's order (the last parameter varies fastest)."""
    points: list[dict[str, int]] = [{}]
    for index, size in enumerate(sizes):
        points = [{**point, f"p{index}": value} for point in points for value in range(size)]
    return points


@pytest.mark.parametrize("total", [1, 2, 7, 16, 101])
@pytest.mark.parametrize("shards", [1, 2, 3, 5, 16])
def test_the_deal_gives_every_candidate_to_exactly_one_pod_in_near_equal_shares(total: int, shards: int) -> None:
    dealt = deal([{"p": position % 4} for position in range(total)], shards)

    assert sorted(p for share in dealt for p in share) == list(range(total))
    assert [len(share) for share in dealt] == [share_size(shard, shards, total) for shard in range(shards)]
    assert all(share == sorted(share) for share in dealt)


@pytest.mark.parametrize("sizes", [(4, 2, 2), (2, 2, 4), (8, 2), (2, 8), (2, 2, 2, 2)])
def test_each_pod_gets_an_even_share_of_every_parameter_value(sizes: tuple[int, ...]) -> None:
    candidates = grid(*sizes)
    for shards in (2, 4):
        dealt = deal(candidates, shards)
        for name in candidates[0]:
            for value in {c[name] for c in candidates}:
                held = [sum(1 for p in share if candidates[p][name] == value) for share in dealt]
                assert max(held) - min(held) <= 1, (sizes, shards, name, value, held)


def test_blocks_or_round_robin_would_give_one_pod_every_costly_value() -> None:
    # n_estimators, varying fastest with two values: round robin gives pod 1 every 500-tree forest
    candidates = [{"max_depth": d, "n_estimators": n} for d in (2, 4, 8, 16) for n in (250, 500)]
    costly = {p for p, c in enumerate(candidates) if c["n_estimators"] == 500}

    assert costly == set(range(1, 8, 2))
    assert [len(set(share) & costly) for share in deal(candidates, 2)] == [2, 2]


def test_the_deal_depends_on_the_candidates_alone() -> None:
    candidates: list[dict[str, Any]] = [{"a": [1, 2], "b": None}, {"a": [3], "b": "x"}, {"a": [1, 2], "b": "x"}]
    # the third shares a value with each of the first two: a tie, which the first pod takes
    assert deal(candidates, 2) == deal(json.loads(json.dumps(candidates)), 2) == [[0, 2], [1]]


def test_progress_counts_the_trials_of_the_completed_shards() -> None:
    assert trials_done(frozenset(), 3, 16) == 0
    assert trials_done(frozenset({0}), 3, 16) == 6  # 16 trials dealt to 3 pods: 6, 5 and 5
    assert trials_done(frozenset({1, 2}), 3, 16) == 10
    assert trials_done(frozenset({0, 1, 2}), 3, 16) == 16
    assert trials_done(frozenset({7}), 3, 16) == 0  # not an index of this Job


def test_the_search_runs_in_no_more_pods_than_it_has_trials() -> None:
    tuning = Tuning(parameters={"a": [1, 2, 3], "b": [True, False]}, max_trials=10, parallelism=8)
    assert (tuning.trial_count(), tuning.shard_count()) == (6, 6)
    assert Tuning(parameters={"a": list(range(50))}, max_trials=16, parallelism=2).shard_count() == 2
    assert Tuning(parameters={"a": [1, 2]}).shard_count() == 1


def test_a_trials_mean_is_its_folds_mean() -> None:
    assert Trial(position=0, parameters={}, scores=[0.5, 1.0, 0.75]).mean == 0.75
