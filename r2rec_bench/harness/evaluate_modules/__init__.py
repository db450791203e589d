"""r2rec-bench's metrics as local modules of the Hugging Face ``evaluate`` library.

    import evaluate
    from r2rec_bench.harness.evaluate_modules import module_path
    hit_ratio = evaluate.load(module_path("hit_ratio"))
    hit_ratio.compute(predictions=[[3, 1], [0]], references=[1, 2], k=2)  # {'hit_ratio': 0.5}

Each module wraps the functions of :mod:`r2rec_bench.task.metrics`, so its numbers are
the harness's numbers. ``predictions`` are per-user rankings of candidate indices, best first
(an empty list for an invalid answer); ``references`` are the targets' candidate indices.
"""

from __future__ import annotations

from pathlib import Path

MODULES = ("hit_ratio", "ndcg", "mrr", "valid_ratio")


def module_path(name: str) -> str:
    """The directory to pass to ``evaluate.load`` for one of :data:`MODULES`."""
    if name not in MODULES:
        raise ValueError(f"unknown metric module {name!r}; one of {', '.join(MODULES)}")
    return str(Path(__file__).resolve().parent / name)


CITATION = """
@article{zhao2025r2rec,
  title   = {Reason-to-Recommend: Using Interaction-of-Thought Reasoning to Enhance LLM
             Recommendation},
  author  = {Zhao, Keyu and Xu, Fengli and Li, Yong},
  journal = {arXiv preprint arXiv:2506.05069},
  year    = {2025}
}
"""


def ranking_metric_info(evaluate, datasets, description: str, inputs: str):
    """The MetricInfo every module shares: per-user rankings in, one target index each."""
    return evaluate.MetricInfo(
        description=description,
        citation=CITATION,
        inputs_description=inputs,
        features=datasets.Features(
            {
                "predictions": datasets.Sequence(datasets.Value("int64")),
                "references": datasets.Value("int64"),
            }
        ),
    )
