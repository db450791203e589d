"""A fitted baseline's metrics on a split, with the harness's bootstrap intervals."""

from __future__ import annotations

import numpy as np

from r2rec_bench.baselines.base import Baseline
from r2rec_bench.task.dataset import EvalSplit
from r2rec_bench.task.metrics import summarize
from r2rec_bench.task.scoring import target_ranks

REPORTED = ("hr@1", "hr@10", "ndcg@10")


def evaluate(baseline: Baseline, split: EvalSplit, seed: int = 0) -> dict:
    """``summarize`` of the ranks of each user's target among the fixed candidates, ties by
    the benchmark's one rule (task.scoring), so these are the numbers `evaluate` prints:
    every metric with a seeded 95% percentile-bootstrap interval over users."""
    scores = baseline.score(split.users, split.histories, split.candidates)
    ranks = target_ranks(scores, split.target_index, split.users, split.candidates)
    # A score for every candidate is always a full, valid ranking.
    return summarize(ranks, np.ones(len(ranks), dtype=bool), seed=seed, ks=(1, 3, 5, 10))
