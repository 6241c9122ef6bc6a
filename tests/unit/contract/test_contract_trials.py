"""How the trials of a search are dealt to the pods of an Indexed Job, and what their progress is."""

from __future__ import annotations

import pytest

from modelops.api.trainingrun import Tuning
from modelops.contract.trials import Trial, shard_positions, trials_done


@pytest.mark.parametrize("total", [1, 2, 7, 16, 101])
@pytest.mark.parametrize("shards", [1, 2, 3, 5, 16])
def test_the_shards_deal_every_candidate_to_exactly_one_pod_in_near_equal_shares(total: int, shards: int) -> None:
    dealt = [list(shard_positions(shard, shards, total)) for shard in range(shards)]

    assert sorted(p for share in dealt for p in share) == list(range(total))
    sizes = [len(share) for share in dealt]
    assert max(sizes) - min(sizes) <= 1


def test_neighbouring_candidates_go_to_different_pods() -> None:
    assert list(shard_positions(0, 2, 8)) == [0, 2, 4, 6]
    assert list(shard_positions(1, 2, 8)) == [1, 3, 5, 7]


def test_a_shard_outside_the_job_is_refused() -> None:
    with pytest.raises(ValueError, match=r"shard 2 is not one of 0\.\.1"):
        shard_positions(2, 2, 8)


def test_progress_counts_the_trials_of_the_completed_shards() -> None:
    assert trials_done(frozenset(), 3, 16) == 0
    assert trials_done(frozenset({0}), 3, 16) == 6  # positions 0, 3, ..., 15
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
