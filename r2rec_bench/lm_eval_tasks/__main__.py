"""Print the folder to pass to ``lm_eval --include_path``."""

from r2rec_bench.lm_eval_tasks import TASKS_DIR

print(TASKS_DIR)
