"""MRR for recommenders with one relevant item per user, as r2rec-bench computes it."""

import datasets
import evaluate
import numpy as np

from r2rec_bench.harness.evaluate_modules import ranking_metric_info
from r2rec_bench.task.metrics import ranks_from_rankings, reciprocal_rank

_DESCRIPTION = """
MRR: the mean over users of 1 / rank of the target, 0 when the target is not ranked.
The harness's own metric (r2rec_bench.task.metrics.reciprocal_rank), so numbers from this
module and from `r2rec-bench evaluate` agree.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of list of int): per user, candidate indices best first; one index
        for a single answer, an empty list for an invalid answer.
    references (list of int): per user, the candidate index of the target.
Returns:
    mrr (float): mean reciprocal rank of the target, 0 for users whose target is not ranked.
Examples:
    >>> metric = evaluate.load("path/to/mrr")
    >>> metric.compute(predictions=[[3, 1], [0]], references=[1, 2])
    {'mrr': 0.25}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MRR(evaluate.Metric):
    def _info(self):
        return ranking_metric_info(evaluate, datasets, _DESCRIPTION, _KWARGS_DESCRIPTION)

    def _compute(self, predictions, references):
        ranks = ranks_from_rankings(predictions, references)
        return {"mrr": float(np.mean(reciprocal_rank(ranks)))}
