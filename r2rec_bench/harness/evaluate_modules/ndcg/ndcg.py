"""NDCG@k for recommenders with one relevant item per user, as r2rec-bench computes it."""

import datasets
import evaluate
import numpy as np

from r2rec_bench.harness.evaluate_modules import ranking_metric_info
from r2rec_bench.task.metrics import ndcg, ranks_from_rankings

_DESCRIPTION = """
NDCG@k: the mean over users of 1 / log2(rank + 1) when the target's rank is at most k,
else 0 (one relevant item per user, so the ideal DCG is 1).
The harness's own metric (r2rec_bench.task.metrics.ndcg), so numbers from this
module and from `r2rec-bench evaluate` agree.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of list of int): per user, candidate indices best first; one index
        for a single answer, an empty list for an invalid answer.
    references (list of int): per user, the candidate index of the target.
    k (int, default 10): the cut-off.
Returns:
    ndcg (float): mean of 1 / log2(rank + 1) over users whose target ranks within k, 0 for the rest.
Examples:
    >>> metric = evaluate.load("path/to/ndcg")
    >>> metric.compute(predictions=[[3, 1], [0]], references=[1, 2], k=2)
    {'ndcg': 0.31546487678572877}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class NDCG(evaluate.Metric):
    def _info(self):
        return ranking_metric_info(evaluate, datasets, _DESCRIPTION, _KWARGS_DESCRIPTION)

    def _compute(self, predictions, references, k: int = 10):
        ranks = ranks_from_rankings(predictions, references)
        return {"ndcg": float(np.mean(ndcg(ranks, k)))}
