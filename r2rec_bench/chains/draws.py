"""The sampler's randomness and graph look-ups, vectorised over the examples of a batch.

Randomness is counter-based (SplitMix64 keyed by seed, user and target), so an example's draws
depend neither on the other examples, nor on their order, nor on batching or sharding.
"""

from __future__ import annotations

import numpy as np

from r2rec_bench.graph import TrainGraph
from r2rec_bench.task.order import mix64

# An example's draws of a kind stop at this many per chain still needed.
DRAWS_PER_CHAIN = 4

# -- randomness -------------------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _stream_keys(seed: int, users: np.ndarray, targets: np.ndarray) -> np.ndarray:
    keys = mix64(np.full(len(users), seed, dtype=np.uint64) + _GOLDEN)
    keys = mix64(keys + users.astype(np.uint64))
    return mix64(keys + targets.astype(np.uint64))


_STREAMS = 8  # independent uniform streams per key: draw c of stream s is state 8c + s + 1


def _uniforms(keys: np.ndarray, counters: np.ndarray, stream: int) -> np.ndarray:
    """Uniform floats in [0, 1): draws ``counters`` of stream ``stream`` (< 8) of each key's
    SplitMix64 sequence."""
    step = counters[None, :].astype(np.uint64) * np.uint64(_STREAMS) + np.uint64(stream + 1)
    state = keys[:, None] + step * _GOLDEN
    return (mix64(state) >> np.uint64(11)).astype(np.float64) * 2.0**-53


# -- graph lookups ----------------------------------------------------------------------------


def _search(sorted_values: np.ndarray, queries: np.ndarray, side: str = "left") -> np.ndarray:
    """np.searchsorted for many random queries: sorting them first keeps a large array's lookups
    in cache (an order of magnitude faster on a 10M-edge graph)."""
    order = np.argsort(queries, kind="stable")
    found = np.empty(len(queries), dtype=np.int64)
    found[order] = np.searchsorted(sorted_values, queries[order], side=side)
    return found


def _steps(keys, counters, totals, stream) -> np.ndarray:
    """Uniform integers in [0, total) per example: which of its 2-paths each draw takes."""
    step = (_uniforms(keys, counters, stream) * totals[:, None]).astype(np.int64)
    # A uniform just below 1 times the total can round up to the total itself.
    return np.minimum(step, totals[:, None] - 1)


def _member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    position = np.minimum(_search(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[position] == keys


def _edge_indices(graph: TrainGraph, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Index (into the user view) of each (user, item) training edge, or -1 where none."""
    keys = users.astype(np.int64) * graph.n_items + items
    position = np.minimum(_search(graph.edge_keys, keys), len(graph.edge_keys) - 1)
    return np.where(graph.edge_keys[position] == keys, graph.edge_index[position], -1)


def _visible_counts(graph: TrainGraph, users: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each (user, time): how many of the user's edges lie strictly before the time — a
    binary search in every user's time-ordered edges at once."""
    low, high = graph.user_ptr[users].copy(), graph.user_ptr[users + 1].copy()
    first = low.copy()
    last = len(graph.user_times) - 1
    while (open_ := low < high).any():
        middle = (low + high) // 2
        before = graph.user_times[np.minimum(middle, last)] < times
        low = np.where(open_ & before, middle + 1, low)
        high = np.where(open_ & ~before, middle, high)
    return low - first


def _segments(pointer: np.ndarray, values: np.ndarray, keys: np.ndarray):
    """The CSR segments of ``keys`` concatenated, and for each value the position of its key."""
    starts = pointer[keys]
    lengths = pointer[keys + 1] - starts
    owner = np.repeat(np.arange(len(keys)), lengths)
    index = np.arange(len(owner)) + np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return values[index], owner


def _pick(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """``n`` independent indices drawn in proportion to ``weights`` (some positive)."""
    cumulative = np.cumsum(weights)
    drawn = np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")
    # rng.random() * total can round up to the total itself: that is the last live index.
    return np.minimum(drawn, np.flatnonzero(weights)[-1])


def _rank(rows: np.ndarray) -> np.ndarray:
    """Each entry's rank among the entries of its row (``rows`` sorted)."""
    return np.arange(len(rows)) - np.searchsorted(rows, rows)


def _needed(draws: list[tuple], need: int) -> int:
    """How many more draws the per-example rule asks for (module docstring)."""
    missing = need - len(set(draws[: DRAWS_PER_CHAIN * need]))
    return max(0, min(missing, DRAWS_PER_CHAIN * need - len(draws)))


def _first_distinct(draws: list[tuple], need: int) -> list[tuple]:
    return list(dict.fromkeys(draws[: DRAWS_PER_CHAIN * need]))[:need]
