"""``r2rec-bench compare``: paired differences between two runs on the same users."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from r2rec_bench.errors import UserError
from r2rec_bench.harness.record import RESULTS, SAMPLES, read_json, read_samples
from r2rec_bench.task.metrics import metric_names, paired_compare, per_user_metrics


def _results_path(target: Path | str) -> Path:
    path = Path(target)
    return path / RESULTS if path.is_dir() else path


def compare_runs(
    results_a: Path | str,
    results_b: Path | str,
    *,
    metrics: list[str] | None = None,
    seed: int = 0,
) -> dict:
    """Paired differences (a − b) per metric on the same users, from each run's samples."""
    names = metric_names()
    chosen = [m.lower() for m in metrics] if metrics else names
    unknown = [m for m in chosen if m not in names]
    if unknown:
        raise UserError(f"--metric {unknown[0]}: use one of {', '.join(names)}")
    runs = []
    for target in (results_a, results_b):
        path = _results_path(target)
        results = read_json(path, "pass a results.json written by `r2rec-bench evaluate`")
        samples = read_samples(path.parent / SAMPLES)
        if not samples:
            raise UserError(
                f"{path.parent / SAMPLES}: missing or empty; compare needs the "
                "per-sample log next to results.json"
            )
        runs.append((path, results, {s["user_id"]: s for s in samples}))
    (path_a, res_a, by_user_a), (path_b, res_b, by_user_b) = runs
    if res_a["dataset"]["fingerprint"] != res_b["dataset"]["fingerprint"]:
        raise UserError(
            f"compare: {path_a} and {path_b} are on different datasets (fingerprints differ)"
        )
    if res_a["split"] != res_b["split"]:
        raise UserError(
            f"compare: {path_a} is on split {res_a['split']}, {path_b} on {res_b['split']}"
        )
    if by_user_a.keys() != by_user_b.keys():
        only_a = len(by_user_a.keys() - by_user_b.keys())
        only_b = len(by_user_b.keys() - by_user_a.keys())
        raise UserError(
            f"compare: the runs evaluated different users ({only_a} only in "
            f"{path_a}, {only_b} only in {path_b}); compare runs on the same "
            "users"
        )
    users = sorted(by_user_a)
    values = []
    for by_user in (by_user_a, by_user_b):
        ranks = np.array([by_user[u]["target_rank"] for u in users])
        valid = np.array([by_user[u]["valid"] for u in users], dtype=bool)
        values.append(per_user_metrics(ranks, valid))
    rows = {}
    for name in chosen:
        paired = paired_compare(values[0][name], values[1][name], seed)
        rows[name] = {
            "a": float(values[0][name].mean()),
            "b": float(values[1][name].mean()),
            **paired,
        }
    return {
        "a": {"path": str(path_a), "model": res_a["backend"]["spec"]},
        "b": {"path": str(path_b), "model": res_b["backend"]["spec"]},
        "dataset": res_a["dataset"],
        "split": res_a["split"],
        "n_users": len(users),
        "seed": seed,
        "test": "difference a - b; percentile paired bootstrap interval (95%); two-sided "
        "paired sign-flip permutation test p-value",
        "metrics": rows,
    }
