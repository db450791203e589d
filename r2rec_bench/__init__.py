"""r2rec-bench: reasoning datasets, harness and leaderboard for LLM recommenders (R2Rec)."""

__version__ = "0.1.0"
