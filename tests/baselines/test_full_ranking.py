"""Full-ranking metrics for the classical baselines: every target ranked among the whole
catalog but the user's own items, beside the 20-candidate metrics (issue 18)."""

from __future__ import annotations

import numpy as np
import pytest

from r2rec_bench.baselines.evaluation import (
    evaluate,
    evaluate_full_ranking,
    full_ranking_ranks,
    seen_items,
)
from r2rec_bench.baselines.registry import make_baseline
from r2rec_bench.task.scoring import score_tie_keys


def _ranks_by_hand(baseline, split, excluded, count):
    """The first ``count`` users' ranks, one user at a time, sorted in plain Python."""
    catalog = [str(i) for i in baseline.data.item_ids]
    ranks = []
    for user, history, row, k in list(
        zip(split.users, split.histories, split.candidates, split.target_index, strict=True)
    )[:count]:
        scores = baseline.score([user], [history], [catalog])[0]
        keys = score_tie_keys([user], [catalog])[0]
        mine = set(excluded[user])
        order = sorted(
            (i for i, item in enumerate(catalog) if item not in mine),
            key=lambda i: (-scores[i], int(keys[i])),
        )
        ranks.append(1 + [catalog[i] for i in order].index(row[k]))
    return ranks


@pytest.mark.parametrize("name", ["pop", "itemknn", "sasrec"])
def test_full_ranking_ranks_each_target_among_the_catalog_without_the_users_items(
    name, fitted, training_data, test_split
):
    baseline, _ = fitted[name]
    excluded = seen_items(baseline, training_data.validation)
    ranks = full_ranking_ranks(baseline, test_split, excluded)
    assert ranks[:30].tolist() == _ranks_by_hand(baseline, test_split, excluded, 30)
    found = evaluate_full_ranking(baseline, test_split, excluded)
    assert found["metrics"]["mrr"]["value"] == pytest.approx(np.mean(1 / ranks))
    # Over the whole catalog a target is harder to find than among 20 candidates.
    sampled = evaluate(baseline, test_split)["metrics"]["hr@10"]["value"]
    assert 0 < found["metrics"]["hr@10"]["value"] < sampled


def test_the_users_training_items_and_validation_target_are_excluded(training_data, test_split):
    baseline = make_baseline("pop")
    baseline.fit(training_data, 0)
    excluded = seen_items(baseline, training_data.validation)
    offsets = training_data.user_offsets
    user = 0
    own = {str(training_data.item_ids[i]) for i in training_data.items[offsets[0] : offsets[1]]}
    validation = training_data.validation
    row = validation.users.index(str(training_data.user_ids[user]))
    own.add(validation.candidates[row][validation.target_index[row]])
    assert set(excluded[str(training_data.user_ids[user])]) == own
    # Excluding nothing can only push targets down (the popular training items come back).
    everything = evaluate_full_ranking(baseline, test_split, {})
    without = evaluate_full_ranking(baseline, test_split, excluded)
    assert everything["metrics"]["mrr"]["value"] < without["metrics"]["mrr"]["value"]
