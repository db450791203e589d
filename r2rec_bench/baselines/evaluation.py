"""A fitted baseline's metrics on a split, with the harness's bootstrap intervals: over the
split's 20 fixed candidates (the benchmark's numbers) and over the whole catalog.

The two answer different questions. Among 20 candidates, 19 of them uniform negatives, a
target only has to beat mostly unpopular items (Random's HR@10 is 0.5); ranked against every
item the user has not had, it must beat the popular ones too, which is what the
recommender-systems literature reports. Metrics on sampled candidates can even order models
differently from full-ranking metrics (Krichene & Rendle, "On Sampled Metrics for Item
Recommendation", KDD 2020), so a baseline's full-ranking figures are reported beside them.
"""

from __future__ import annotations

import numpy as np

from r2rec_bench.baselines.base import Baseline
from r2rec_bench.task.dataset import EvalSplit
from r2rec_bench.task.metrics import summarize
from r2rec_bench.task.scoring import score_tie_keys, target_ranks

REPORTED = ("hr@1", "hr@10", "ndcg@10")
FULL_RANKING_KS = (10, 20)
_USERS_PER_BATCH = 256  # bounds a batch's (users × catalog) score and key arrays


def evaluate(baseline: Baseline, split: EvalSplit, seed: int = 0) -> dict:
    """``summarize`` of the ranks of each user's target among the fixed candidates, ties by
    the benchmark's one rule (task.scoring), so these are the numbers `evaluate` prints:
    every metric with a seeded 95% percentile-bootstrap interval over users."""
    scores = baseline.score(split.users, split.histories, split.candidates)
    ranks = target_ranks(scores, split.target_index, split.users, split.candidates)
    # A score for every candidate is always a full, valid ranking.
    return summarize(ranks, np.ones(len(ranks), dtype=bool), seed=seed, ks=(1, 3, 5, 10))


def evaluate_full_ranking(
    baseline: Baseline, split: EvalSplit, excluded: dict[str, list[str]], seed: int = 0
) -> dict:
    """``summarize`` of :func:`full_ranking_ranks`: HR@10, HR@20, NDCG@10, NDCG@20, MRR."""
    ranks = full_ranking_ranks(baseline, split, excluded)
    return summarize(ranks, np.ones(len(ranks), dtype=bool), seed=seed, ks=FULL_RANKING_KS)


def full_ranking_ranks(
    baseline: Baseline, split: EvalSplit, excluded: dict[str, list[str]]
) -> np.ndarray:
    """Each target's 1-based rank among every item of the training catalog except the user's
    ``excluded`` ones (their training items; for test, their validation target too), ties by
    the benchmark's rule. A target never seen in training ranks last."""
    data = baseline.data
    assert data is not None, "fit or load the baseline first"
    catalog = [str(item) for item in data.item_ids]
    targets = data.item_codes(
        [row[k] for row, k in zip(split.candidates, split.target_index, strict=True)]
    )
    ranks = np.empty(len(split.users), dtype=np.int64)
    for start in range(0, len(split.users), _USERS_PER_BATCH):
        rows = slice(start, start + _USERS_PER_BATCH)
        users, target = split.users[rows], targets[rows]
        codes = np.broadcast_to(np.arange(data.num_items), (len(users), data.num_items))
        scores = np.asarray(
            baseline._score(users, split.histories[rows], np.ascontiguousarray(codes)),
            dtype=np.float64,
        )
        for row, user in enumerate(users):
            scores[row, data.item_codes(excluded.get(user, []))] = -np.inf
        keys = score_tie_keys(users, [catalog] * len(users))
        here, column = np.arange(len(users)), np.maximum(target, 0)
        target_score = scores[here, column][:, None]
        target_key = keys[here, column][:, None]
        above = (scores > target_score) | ((scores == target_score) & (keys < target_key))
        ranks[rows] = np.where(target >= 0, above.sum(axis=1) + 1, data.num_items + 1)
    return ranks


def seen_items(baseline: Baseline, also: EvalSplit | None = None) -> dict[str, list[str]]:
    """Each user's training items, plus their target in ``also`` (the validation split when
    ranking test targets): what a full ranking leaves out."""
    data = baseline.data
    assert data is not None, "fit or load the baseline first"
    offsets = data.user_offsets
    seen = {
        str(user): [str(data.item_ids[i]) for i in data.items[offsets[u] : offsets[u + 1]]]
        for u, user in enumerate(data.user_ids)
    }
    if also is not None:
        for user, row, k in zip(also.users, also.candidates, also.target_index, strict=True):
            seen.setdefault(user, []).append(row[k])
    return seen
