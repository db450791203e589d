"""r2rec-bench: reasoning datasets, harness and leaderboard for LLM recommenders (R2Rec).

``r2rec_bench.evaluate(model=..., dataset=..., ...)`` is the harness's Python API (what
``r2rec-bench evaluate`` runs); it is imported on first use, so that importing the package
stays cheap for the command line.
"""

__version__ = "0.1.0"

_API = {"evaluate", "evaluate_repeats"}


def __getattr__(name: str):
    if name in _API:
        from r2rec_bench.harness import api

        return getattr(api, name)
    raise AttributeError(f"module 'r2rec_bench' has no attribute {name!r}")
