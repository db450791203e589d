"""Ranking metrics with one relevant item per user (DESIGN §4), pure and vectorised.

Ranks are 1-based positions of the target in a model's ranking; 0 means the target was not
ranked at all (an invalid or unparseable answer, or a ranking that stops before it). Every
metric counts rank 0 as a miss, so HR@k is correct / all evaluated users.
"""

from __future__ import annotations

import statistics

import numpy as np


def hit_ratio(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-user hit at k (1.0 or 0.0)."""
    ranks = np.asarray(ranks)
    return ((ranks >= 1) & (ranks <= k)).astype(np.float64)


def ndcg(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-user NDCG at k with one relevant item: 1 / log2(rank + 1) when rank <= k."""
    ranks = np.asarray(ranks)
    gains = np.zeros(len(ranks), dtype=np.float64)
    hit = (ranks >= 1) & (ranks <= k)
    gains[hit] = 1.0 / np.log2(ranks[hit] + 1.0)
    return gains


def reciprocal_rank(ranks: np.ndarray) -> np.ndarray:
    """Per-user reciprocal rank (0 when the target was not ranked)."""
    ranks = np.asarray(ranks)
    values = np.zeros(len(ranks), dtype=np.float64)
    ranked = ranks >= 1
    values[ranked] = 1.0 / ranks[ranked]
    return values


KS = (1, 3, 5, 10)
N_RESAMPLES = 10_000
CONFIDENCE = 0.95


def rank_of_target(ranking, target_index: int) -> int:
    """1-based position of the target in a ranking of candidate indices; 0 when absent."""
    for position, index in enumerate(ranking, 1):
        if index == target_index:
            return position
    return 0


def ranks_from_rankings(rankings, target_indices) -> np.ndarray:
    """:func:`rank_of_target` for each (ranking, target index) pair."""
    pairs = zip(rankings, target_indices, strict=True)
    return np.array([rank_of_target(ranking, target) for ranking, target in pairs], np.int64)


def metric_names(ks=KS) -> list[str]:
    """Names of the metrics :func:`per_user_metrics` returns, in report order."""
    return [
        *(f"hr@{k}" for k in ks),
        *(f"ndcg@{k}" for k in ks if k > 1),
        "mrr",
        "valid_ratio",
    ]


def per_user_metrics(ranks, valid, ks=KS) -> dict[str, np.ndarray]:
    """Every metric's per-user value, keyed by :func:`metric_names`.

    NDCG@1 is left out because with one relevant item it equals HR@1.
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    values = {f"hr@{k}": hit_ratio(ranks, k) for k in ks}
    values.update({f"ndcg@{k}": ndcg(ranks, k) for k in ks if k > 1})
    values["mrr"] = reciprocal_rank(ranks)
    values["valid_ratio"] = np.asarray(valid, dtype=np.float64)
    return values


def point_metrics(ranks, valid, ks=KS) -> dict[str, float]:
    """Every metric's value over the users (no interval): :func:`per_user_metrics`' means."""
    return {name: float(v.mean()) for name, v in per_user_metrics(ranks, valid, ks).items()}


def seed_spread(values) -> dict:
    """One metric across seeds (or sampled repeats): mean, sample standard deviation, min,
    max and the values themselves; a value of None (a metric one run could not give) is
    left out of the statistics, which are None when no run gave one."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return {"mean": None, "sd": None, "min": None, "max": None, "values": list(values)}
    return {
        "mean": statistics.fmean(present),
        "sd": statistics.stdev(present) if len(present) > 1 else 0.0,
        "min": min(present),
        "max": max(present),
        "values": list(values),
    }


def percentile_interval(resampled: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(resampled, [tail, 1.0 - tail], axis=0)
    return low, high


def _multinomial_means(
    rows: np.ndarray, counts: np.ndarray, rng: np.random.Generator, n_resamples: int
) -> np.ndarray:
    """Means of ``n_resamples`` bootstrap resamples of the users, one row per resample.

    ``rows`` holds each *distinct* per-user value vector once and ``counts`` how many users
    have it. Drawing n users with replacement is exactly a multinomial draw of how many
    times each distinct vector is drawn, so the resample means are ``draws @ rows / n`` —
    the same distribution as resampling user indices, in O(resamples × distinct) instead of
    O(resamples × users).
    """
    n = int(counts.sum())
    draws = rng.multinomial(n, counts / n, size=n_resamples)
    return draws @ rows / n


def bootstrap_means(
    rows, seed: int = 0, *, n_resamples: int = N_RESAMPLES
) -> tuple[np.ndarray, np.ndarray]:
    """(means, resampled means) of per-user value rows (users × values), users resampled
    together across the columns, drawn exactly as :func:`_multinomial_means` does."""
    rows = np.asarray(rows, dtype=np.float64)
    distinct, counts = np.unique(rows, axis=0, return_counts=True)
    means = counts @ distinct / len(rows)
    rng = np.random.default_rng(seed)
    return means, _multinomial_means(distinct, counts, rng, n_resamples)


def summarize(
    ranks,
    valid,
    seed: int = 0,
    ks=KS,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> dict:
    """Every metric with a seeded percentile-bootstrap interval over users.

    All metrics are functions of a user's (rank, valid) pair, so one multinomial draw over
    the distinct pairs resamples the users once for every metric, as a per-user bootstrap
    would (:func:`_multinomial_means`).
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    valid = np.asarray(valid, dtype=bool)
    if len(ranks) == 0 or len(ranks) != len(valid):
        raise ValueError(
            f"need as many ranks as valid flags, at least one: {len(ranks)}, {len(valid)}"
        )
    if ranks.min() < 0:
        raise ValueError("ranks are 1-based positions, or 0 for unranked")
    keys, counts = np.unique(ranks * 2 + valid, return_counts=True)
    distinct = per_user_metrics(keys // 2, keys % 2, ks)
    names = list(distinct)
    rows = np.stack([distinct[name] for name in names], axis=1)
    point = counts @ rows / len(ranks)
    resampled = _multinomial_means(rows, counts, np.random.default_rng(seed), n_resamples)
    low, high = percentile_interval(resampled, confidence)
    return {
        "n_users": len(ranks),
        "metrics": {
            name: {"value": float(point[j]), "ci_low": float(low[j]), "ci_high": float(high[j])}
            for j, name in enumerate(names)
        },
        "interval": {
            "method": "percentile bootstrap over users",
            "confidence": confidence,
            "n_resamples": n_resamples,
            "seed": seed,
        },
    }


def paired_compare(
    values_a,
    values_b,
    seed: int = 0,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> dict:
    """Mean difference a − b of a per-user metric on the same users, with an interval and p.

    - Interval: percentile paired bootstrap (users resampled with their (a, b) pair intact),
      drawn exactly as a multinomial over the distinct pairs.
    - p-value: two-sided paired sign-flip permutation test of "no difference" (Fisher's
      randomization test): under the null each user's a and b are exchangeable, so each
      per-user difference keeps its size and gets a random sign. For 0/1 metrics (HR@k,
      ValidRatio) this is McNemar's exact test, sampled. Drawn exactly as, per distinct
      absolute difference, a Binomial(count, 1/2) number of positive signs; reported as
      (1 + resamples at least as extreme) / (1 + resamples) so that it is never 0.
    """
    a = np.asarray(values_a, dtype=np.float64)
    b = np.asarray(values_b, dtype=np.float64)
    if len(a) == 0 or a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"need two equally long 1-d arrays, at least one user: {a.shape}, {b.shape}"
        )
    n = len(a)
    rng = np.random.default_rng(seed)
    pairs, counts = np.unique(np.stack([a, b], axis=1), axis=0, return_counts=True)
    boot = _multinomial_means((pairs[:, 0] - pairs[:, 1])[:, None], counts, rng, n_resamples)
    low, high = percentile_interval(boot[:, 0], confidence)
    difference = a - b
    observed = float(difference.mean())
    sizes, size_counts = np.unique(np.abs(difference[difference != 0]), return_counts=True)
    positive = rng.binomial(size_counts, 0.5, size=(n_resamples, len(sizes)))
    flipped = ((2 * positive - size_counts) @ sizes) / n
    # The tolerance keeps a resample that equals the observed mean up to rounding "as extreme".
    extreme = np.count_nonzero(np.abs(flipped) >= abs(observed) - 1e-12)
    return {
        "diff": observed,
        "ci_low": float(low),
        "ci_high": float(high),
        "p_value": float((1 + extreme) / (1 + n_resamples)),
        "n": n,
    }
