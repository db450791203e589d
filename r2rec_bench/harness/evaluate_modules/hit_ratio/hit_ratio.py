"""HitRatio@k for recommenders with one relevant item per user, as r2rec-bench computes it."""

import datasets
import evaluate
import numpy as np

from r2rec_bench.harness.evaluate_modules import ranking_metric_info
from r2rec_bench.task.metrics import hit_ratio, ranks_from_rankings

_DESCRIPTION = """
HitRatio@k: the share of users whose target is among the first k predictions (a ranking
that stops before the target, or an empty one, is a miss).
The harness's own metric (r2rec_bench.task.metrics.hit_ratio), so numbers from this
module and from `r2rec-bench evaluate` agree.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of list of int): per user, candidate indices best first; one index
        for a single answer, an empty list for an invalid answer.
    references (list of int): per user, the candidate index of the target.
    k (int, default 1): the cut-off.
Returns:
    hit_ratio (float): share of users whose target is among the first k predictions.
Examples:
    >>> metric = evaluate.load("path/to/hit_ratio")
    >>> metric.compute(predictions=[[3, 1], [0]], references=[1, 2], k=2)
    {'hit_ratio': 0.5}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class HitRatio(evaluate.Metric):
    def _info(self):
        return ranking_metric_info(evaluate, datasets, _DESCRIPTION, _KWARGS_DESCRIPTION)

    def _compute(self, predictions, references, k: int = 1):
        ranks = ranks_from_rankings(predictions, references)
        return {"hit_ratio": float(np.mean(hit_ratio(ranks, k)))}
