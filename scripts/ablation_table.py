"""The R2Rec ablation table (README, BENCHMARKS.md) from submitted runs, with paired tests.

    python scripts/ablation_table.py \
        "Random=leaderboard/submissions/ml-100k-iot/baseline--random" ... \
        --pair "IoT SFT:answer-only SFT" --pair "IoT SFT + GRPO:IoT SFT"

Each row: HR@1, ValidRatio, grounding and edge validity (threshold 1) with their 95%
intervals, read from each run's results.json. Each ``--pair A:B`` adds the paired difference
in HR@1 (a − b, bootstrap interval, sign-flip permutation p-value) from the runs' samples,
through ``r2rec-bench compare``'s own function.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from r2rec_bench.harness.compare import compare_runs


def _cell(block: dict | None) -> str:
    if not block or block.get("value") is None:
        return "–"
    return f"{block['value']:.3f} [{block['ci_low']:.3f}, {block['ci_high']:.3f}]"


def _row(label: str, run: Path) -> str:
    results = json.loads((run / "results.json").read_text())
    faithfulness = (results.get("faithfulness") or {}).get("metrics", {})
    cells = [
        _cell(results["metrics"]["hr@1"]),
        _cell(results["metrics"]["valid_ratio"]),
        _cell(faithfulness.get("grounding")),
        _cell(faithfulness.get("edge_validity@1")),
    ]
    return f"| {label} | {results['mode']} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="LABEL=RUN_DIR (a results.json and samples)")
    parser.add_argument("--pair", action="append", default=[], help="LABEL_A:LABEL_B")
    args = parser.parse_args()
    runs = dict(item.split("=", 1) for item in args.runs)
    lines = [
        "| system | mode | HR@1 | ValidRatio | grounding | edge validity@1 |",
        "| --- | --- | --- | --- | --- | --- |",
        *(_row(label, Path(path)) for label, path in runs.items()),
    ]
    if args.pair:
        lines += ["", "| paired test (HR@1) | a − b [95% interval] | p |", "| --- | --- | ---: |"]
    for pair in args.pair:
        a, b = pair.split(":", 1)
        found = compare_runs(runs[a], runs[b], metrics=["hr@1"])["metrics"]["hr@1"]
        lines.append(
            f"| {a} − {b} | {found['diff']:+.3f} [{found['ci_low']:+.3f}, "
            f"{found['ci_high']:+.3f}] | {found['p_value']:.4f} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
