"""ValidRatio for LLM recommenders, as r2rec-bench computes it (LLaRA's "ValidRatio")."""

import datasets
import evaluate
import numpy as np

from r2rec_bench.harness.evaluate_modules import ranking_metric_info

_DESCRIPTION = """
ValidRatio: the share of users whose answer the parser resolved to the candidates, which
r2rec-bench records as a non-empty ranking (an invalid answer ranks nothing). The harness
reports it beside HitRatio and NDCG (r2rec_bench.task.metrics), so numbers from this module
and from `r2rec-bench evaluate` agree.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of list of int): per user, candidate indices best first; one index
        for a single answer, an empty list for an invalid answer.
    references (list of int): per user, the candidate index of the target (not read: a
        valid answer need not be right).
Returns:
    valid_ratio (float): share of users with a valid answer.
Examples:
    >>> metric = evaluate.load("path/to/valid_ratio")
    >>> metric.compute(predictions=[[3, 1], [], [0]], references=[1, 2, 0])
    {'valid_ratio': 0.6666666666666666}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ValidRatio(evaluate.Metric):
    def _info(self):
        return ranking_metric_info(evaluate, datasets, _DESCRIPTION, _KWARGS_DESCRIPTION)

    def _compute(self, predictions, references):
        del references  # validity is about the answer's form, not whether it is right
        return {"valid_ratio": float(np.mean([len(ranking) > 0 for ranking in predictions]))}
