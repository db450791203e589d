"""Each baseline's train + evaluate time on ml-100k-iot, with its default hyper-parameters.

One round each (a fit is seconds to minutes), never from the cache: data loading, the fit
with early stopping on validation HR@1, and scoring the test split are timed together. The
test metrics go into the benchmark's ``extra_info`` beside the time. In a plain test run
(benchmarks disabled) the models with epochs train for one epoch only: that checks the
benchmark itself without spending the minutes a full fit takes.

RecBole, the reference implementation, is measured by ``scripts/recbole_yardstick.py`` in
its own virtual environment. When ``R2REC_BENCH_RECBOLE_PYTHON`` names that environment's
Python, each benchmark also runs the yardstick for the same model on the same build right
after ours and records RecBole's time, metrics and the speed ratio: both in the same run, on
the same machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from r2rec_bench.baselines.data import load_eval_split, load_training_data
from r2rec_bench.baselines.evaluation import evaluate
from r2rec_bench.baselines.registry import baseline_class, make_baseline

REPO = Path(__file__).resolve().parents[2]
RECBOLE_NAMES = {
    "pop": "Pop",
    "itemknn": "ItemKNN",
    "bpr": "BPR",
    "lightgcn": "LightGCN",
    "sasrec": "SASRec",
    "gru4rec": "GRU4Rec",
    "caser": "Caser",
}
# RecBole's default batch of 2048 makes its sequential models' epochs slower on a CPU than
# batch 256 does (scripts/recbole_yardstick.py); the yardstick runs them at 256.
RECBOLE_SEQUENTIAL, RECBOLE_SEQUENTIAL_BATCH = {"SASRec", "GRU4Rec", "Caser"}, 256
# The torch models train for minutes on two cores: `-m "not slow"` leaves them out.
CASES = [
    "random",
    "pop",
    "itemknn",
    *(
        pytest.param(name, marks=pytest.mark.slow)
        for name in ("bpr", "lightgcn", "caser", "gru4rec", "sasrec")
    ),
]


def train_and_evaluate(name: str, dataset: Path, hyperparameters: dict) -> dict:
    start, start_cpu = time.perf_counter(), time.process_time()
    data = load_training_data(dataset)
    baseline = make_baseline(name, **hyperparameters)
    report = baseline.fit(data, seed=0)
    metrics = evaluate(baseline, load_eval_split(dataset, "test"))["metrics"]
    return {
        "report": report,
        "metrics": metrics,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - start_cpu,
    }


def recbole(name: str, dataset: Path, out: Path) -> dict:
    python = os.environ["R2REC_BENCH_RECBOLE_PYTHON"]
    script = REPO / "scripts" / "recbole_yardstick.py"
    command = [python, str(script), "--dataset", str(dataset), "--out", str(out)]
    model = RECBOLE_NAMES[name]
    if model in RECBOLE_SEQUENTIAL:
        command += ["--train-batch-size", str(RECBOLE_SEQUENTIAL_BATCH)]
    subprocess.run([*command, "--models", model], check=True, capture_output=True)
    return json.loads(out.read_text())["results"][0]


@pytest.mark.benchmark(group="baselines: train + evaluate on ml-100k-iot")
@pytest.mark.parametrize("name", CASES)
def test_baseline_train_and_evaluate(benchmark, name, ml100k_build, tmp_path):
    quick = benchmark.disabled and "max_epochs" in baseline_class(name).DEFAULTS
    result = benchmark.pedantic(
        train_and_evaluate,
        args=(name, ml100k_build, {"max_epochs": 1} if quick else {}),
        rounds=1,
        iterations=1,
    )
    report, metrics = result["report"], result["metrics"]
    info = benchmark.extra_info
    info.update(epochs=report.epochs, best_validation_hr1=report.best_validation_hr1)
    info.update(seconds=result["seconds"], cpu_seconds=result["cpu_seconds"])
    # Each metric with its 95% bootstrap interval: {"value", "ci_low", "ci_high"}.
    info.update({f"test_{k}": metrics[k] for k in ("hr@1", "hr@10", "ndcg@10")})
    assert metrics["hr@1"]["value"] > 0.0
    if os.environ.get("R2REC_BENCH_RECBOLE_PYTHON") and name in RECBOLE_NAMES:
        reference = recbole(name, ml100k_build, tmp_path / "recbole.json")
        info.update(
            recbole_seconds=reference["seconds"],
            recbole_cpu_seconds=reference["cpu_seconds"],
            recbole_epochs=reference["epochs"],
            speedup_vs_recbole=reference["seconds"] / result["seconds"],
            cpu_speedup_vs_recbole=reference["cpu_seconds"] / result["cpu_seconds"],
            **{f"recbole_test_{k}": v for k, v in reference["test"].items()},
        )
