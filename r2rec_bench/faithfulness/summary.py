"""Faithfulness aggregated over users: means with bootstrap intervals, from per-sample values.

Each metric is the mean over the users for whom it is defined (a user who makes no edge
claim has no edge validity), with its own percentile bootstrap over those users. A lift is a
ratio of two means over the same users, resampled together. Everything here is a function of
the per-sample values in ``samples.jsonl``, so that the leaderboard can recompute it.
"""

from __future__ import annotations

import numpy as np

from r2rec_bench.faithfulness.static import THRESHOLDS
from r2rec_bench.task.metrics import (
    CONFIDENCE,
    N_RESAMPLES,
    bootstrap_means,
    percentile_interval,
)

DEFINITIONS = "docs/faithfulness.md"
STATIC_METRICS = (
    "grounding",
    "off_catalog",
    "answer_outside_candidates",
    "cited_items",
    "cited_history_share",
    *(f"edge_validity@{t}" for t in THRESHOLDS),
    *(f"edge_null@{t}" for t in THRESHOLDS),
    "strength_percentile",
    "consistency",
)
LIFTS = tuple((f"edge_lift@{t}", f"edge_validity@{t}", f"edge_null@{t}") for t in THRESHOLDS)
COUNTERFACTUAL_METRICS = (
    "early_answering_aoc",
    "comprehensiveness_cited",
    "comprehensiveness_random",
    "comprehensiveness_gap",
    "sufficiency_cited",
    "sufficiency_empty",
    "sufficiency_random",
    "sufficiency_gap",
    "history_insensitive",
)


def _entry(point: float, resampled: np.ndarray, n: int) -> dict:
    low, high = percentile_interval(resampled, CONFIDENCE)
    return {"value": float(point), "ci_low": float(low), "ci_high": float(high), "n": n}


def _undefined() -> dict:
    return {"value": None, "ci_low": None, "ci_high": None, "n": 0}


def _mean_entry(values: list, seed: int) -> dict:
    defined = [float(v) for v in values if v is not None]
    if not defined:
        return _undefined()
    means, resampled = bootstrap_means(np.array(defined)[:, None], seed)
    return _entry(means[0], resampled[:, 0], len(defined))


def _lift_entry(numerators: list, denominators: list, seed: int) -> dict:
    pairs = [(a, b) for a, b in zip(numerators, denominators, strict=True) if a is not None]
    if not pairs:
        return _undefined()
    means, resampled = bootstrap_means(np.array(pairs, dtype=np.float64), seed)
    if means[1] == 0:
        return {**_undefined(), "n": len(pairs)}  # the null never holds: no finite lift
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = resampled[:, 0] / resampled[:, 1]
    return _entry(means[0] / means[1], ratios[np.isfinite(ratios)], len(pairs))


def aggregate(samples: list[dict], seed: int = 0) -> dict | None:
    """The ``faithfulness`` block of results.json from the samples' per-sample values;
    None when no sample has any (rank mode)."""
    parts = [sample.get("faithfulness") or {} for sample in samples]
    static = [part.get("static") for part in parts]
    if all(values is None for values in static):
        return None
    static = [values or {} for values in static]
    metrics = {name: _mean_entry([v.get(name) for v in static], seed) for name in STATIC_METRICS}
    for lift, numerator, denominator in LIFTS:
        metrics[lift] = _lift_entry(
            [v.get(numerator) for v in static], [v.get(denominator) for v in static], seed
        )
    counterfactual = [part.get("counterfactual") for part in parts]
    full = any(values is not None for values in counterfactual)
    if full:
        counterfactual = [values or {} for values in counterfactual]
        for name in COUNTERFACTUAL_METRICS:
            metrics[name] = _mean_entry([v.get(name) for v in counterfactual], seed)
    return {
        "mode": "full" if full else "static",
        "n_users": len(samples),
        "metrics": metrics,
        "interval": {
            "method": "percentile bootstrap over the users for whom the metric is defined",
            "confidence": CONFIDENCE,
            "n_resamples": N_RESAMPLES,
            "seed": seed,
        },
        "definitions": DEFINITIONS,
    }
