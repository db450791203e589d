"""BENCHMARKS.md §7's table: each RecBole yardstick run beside our run of the same model.

Run with this project's Python, after ``scripts/recbole_yardstick.py`` (RecBole's own
environment) has written its JSON files and ``r2rec-bench evaluate`` our runs:

    .venv/bin/python scripts/recbole_table.py --recbole rb-*.json \\
        --ours gru4rec=results/ml-100k-iot/tuned/baseline--gru4rec/repeat-0 ...

Both sides' intervals come from the benchmark's own ``summarize`` over the per-user target
ranks (same seed, same resampling), and each pair gets ``paired_compare``'s difference of
HR@1, ours − RecBole, on the same users: so the table is the benchmark's arithmetic on both
sides, not RecBole's.

A yardstick file written before it recorded ``test_users`` lists its ranks in RecBole's
internal user order: order of first appearance in the atomic file, which the yardstick
writes sorted by user id (as strings); such files are paired in that order.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from r2rec_bench.harness.record import read_json, read_samples
from r2rec_bench.task.metrics import paired_compare, summarize

COLUMNS = ("hr@1", "hr@10", "ndcg@10")


def _cell(metric: dict) -> str:
    return f"{metric['value']:.3f} [{metric['ci_low']:.3f}, {metric['ci_high']:.3f}]"


def recbole_ranks(result: dict, users: list[str]) -> dict[str, int]:
    """User id -> RecBole's target rank; ``users`` (every test user) orders an older file."""
    return dict(zip(result.get("test_users") or sorted(users), result["test_ranks"], strict=True))


def our_ranks(run: Path) -> dict[str, int]:
    return {s["user_id"]: s["target_rank"] for s in read_samples(run / "samples.jsonl")}


def our_fit(run: Path) -> str:
    """Epochs (best) and training seconds of the run's fit: CPU where the record has it (fits
    from before it was recorded give wall seconds)."""
    results = read_json(run / "results.json", "pass a run folder written by `r2rec-bench evaluate`")
    fit = results["model"].get("fit") or {}
    epochs = f"{fit['epochs']} ({fit['best_epoch']})" if fit.get("epochs") else "–"
    cpu = fit.get("train_cpu_seconds")
    seconds = f"{cpu:.0f}" if cpu else f"{fit.get('train_seconds', 0):.0f} wall"
    return f"{epochs} | {seconds}"


def label(result: dict, threads: int) -> str:
    """Settings, and how the run was timed where it differs from one thread in one sitting."""
    hyper = result["hyperparameters"]
    text = f"lr {hyper['learning_rate']:g}, batch {hyper['train_batch_size']}"
    if threads != 1:
        text += f", {threads} threads"
    if result.get("sittings", 1) > 1:
        text += f", {result['sittings']} sittings"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recbole", type=Path, nargs="+", required=True)
    parser.add_argument("--ours", nargs="+", default=[], metavar="MODEL=RUN_DIR")
    args = parser.parse_args()
    ours = {k.lower(): Path(v) for k, v in (item.split("=", 1) for item in args.ours)}
    print("| model | implementation | HR@1 | HR@10 | NDCG@10 | epochs (best), stopped by "
          "| CPU s | ours − RecBole, HR@1 [95%], p |")  # fmt: skip
    print("|---|---|---|---|---|---|---:|---|")
    for path in args.recbole:
        run = json.loads(path.read_text())
        for result in run["results"]:
            name = result["model"].lower()
            if name in ours:
                mine = our_ranks(ours[name])
                theirs = recbole_ranks(result, list(mine))
                if mine.keys() != theirs.keys():
                    raise SystemExit(f"{path}: {name} was scored on other users than {ours[name]}")
                users = sorted(mine)
                a = np.array([mine[u] for u in users])
                b = np.array([theirs[u] for u in users])
                row = summarize(a, np.ones(len(a), bool))["metrics"]
                print(f"| {name} | ours | " + " | ".join(_cell(row[c]) for c in COLUMNS)
                      + f" | {our_fit(ours[name])} | |")  # fmt: skip
                paired = paired_compare(a == 1, b == 1)
                difference = (
                    f"{paired['diff']:+.3f} [{paired['ci_low']:+.3f}, {paired['ci_high']:+.3f}], "
                    f"p = {paired['p_value']:.3g}"
                )
            else:
                b, difference = np.array(result["test_ranks"]), ""
            row = summarize(b, np.ones(len(b), bool))["metrics"]
            cpu = result.get("cpu_seconds")
            print(f"| | RecBole ({label(result, run.get('threads', 1))}) | "
                  + " | ".join(_cell(row[c]) for c in COLUMNS)
                  + f" | {result['epochs']} ({result['best_epoch']}), {result['stopped_by']} | "
                  + (f"{cpu:.0f}" if cpu else f"{result['seconds']:.0f} wall")
                  + f" | {difference} |")  # fmt: skip


if __name__ == "__main__":
    main()
