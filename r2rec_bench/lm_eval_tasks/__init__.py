"""lm-evaluation-harness tasks for the `eval` config's test split, scored by r2rec-bench's own
parser and metrics (docs/lm-eval.md). Pass this folder to ``lm_eval --include_path``; ``python
-m r2rec_bench.lm_eval_tasks`` prints it."""

from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent
