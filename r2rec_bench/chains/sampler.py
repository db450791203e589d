"""Sampling interaction chains from the training graph, one tuple of chains per example.

For an example (user u0, target t at time T) a chain may use every training edge of the other
users, but of u0's own edges only those strictly before T (DESIGN §4), and it walks from u0
only to items that the prompt shows, so that the reasoning cites only items the model can
see: ``V`` below is u0's *shown* items, those of the example's history
(``examples.history(row)``) strictly before T. The history is the training items right before
the target in the protocol's order, so V is the last H of ``items_of(u0, before=T)``, H the
number of history items before T (a history item at T itself, a timestamp tie that sorts
before the target, is shown but carries no chain, like every edge of u0 at or after T). u0's
older items carry no chain either; the rules that keep u0's items out of a chain's middle
still use all of them.

Valid chains of each kind (shapes in ``types``):

- ``bridge``  u0 → h → u1 → t: h ∈ V, u1 ≠ u0 has edges to h and t.
- ``bridge3`` u0 → h → u1 → x → u2 → t: h ∈ V, u0, u1, u2 distinct, u1 has h and x, u2 has x
  and t, and x is none of u0's items — not t, not h, not any item before T, shown or not (the
  chain would then be a bridge through x, or cite an item the prompt hides) and not an item u0
  meets at or after T or in ``held_out`` (that would reveal u0's future, its validation or
  test target included).
- ``loop``    u0 → i0 → u1 → i1 → u0: i0 ≠ i1 both in V and both items of u1 ≠ u0 (the closure
  constraint: u1 shares at least two of u0's shown items).

Preference: chains that reach the target explain the answer, so an example gets bridges, then
3-hop bridges, then loops, each kind only for the chains that the previous ones could not
provide. An empty tuple means that no chain of any requested kind exists; the caller writes
attribute-only reasoning for that example. Mixing (``loop_share``, the paper's closed loops
beside the bridges): that share of the examples, chosen by a seeded coin per (u0, t), first
gets a loop — a similar user — and then its ``per_example`` chains as above (loops left out of
them).

Weighting (each draw is exact: a chain's probability is its weight over the total weight of
the valid chains of its kind). With s(u) = the number of u0's shown items (V) that u has, and
c(i) = the number of users other than u0 with edges to both i and t:

- ``uniform``: every valid chain weighs 1.
- ``co_interaction``: similar users and strong co-interactions with the target come first: a
  bridge weighs s(u1)·c(h), a 3-hop bridge s(u1)·c(x) — the user next to u0 by its overlap
  with u0, the item next to t by its co-interactions with t — and a loop s(u1). (Uniform draws
  already favour both in proportion, as such nodes lie on more chains; this squares it.)
- ``recency``: u0's recent interactions come first: a shown item weighs 1 / (1 + k), where k
  is the number of u0's shown items after it (the last one before T weighs 1); a bridge
  weighs that of h, a loop that of i0 times that of i1.

``per_example`` > 1: each kind is drawn again and again, repeats skipped, until the chains
still needed are found or 4 times that many draws are spent; the next kind fills in the rest.

How chains are drawn fast: a uniform bridge is a uniformly drawn 2-path — from t through its
users to their items, or from u0's shown items to their users, whichever set of 2-paths is
smaller — kept when it closes into a bridge; a uniform 3-hop bridge is a uniform 2-path from
u0's shown items (h, u1) and an independent one from t (u2, x), kept when u1 has x and the
rest is allowed. This runs for all examples of a batch at once. Recency keeps a uniform chain
with probability equal to its weight; co-interaction takes the u1 of one uniform bridge and the
h of the next, keeping the pair when u1 has h: its chance is s(u1)/N · c(h)/N. An example whose
chains stay rare after a few rounds, loops, and 3-hop bridges under co-interaction are drawn
exactly from the enumerated neighbourhood instead.

Randomness: the fast rounds use a counter-based stream keyed by (seed, u0, t) and the exact
sampler a numpy generator seeded with (seed, u0, t, kind), so an example's chains depend
neither on the other examples, nor on their order, nor on how they are split into batches or
shards.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from tqdm.auto import tqdm

from r2rec_bench.chains.draws import (
    DRAWS_PER_CHAIN,
    _edge_indices,
    _first_distinct,
    _member,
    _needed,
    _rank,
    _search,
    _steps,
    _stream_keys,
    _uniforms,
    _visible_counts,
)
from r2rec_bench.chains.exact import _Example
from r2rec_bench.chains.types import CHAIN_KINDS, Chain, ChainEdge, ChainNode
from r2rec_bench.errors import UserError
from r2rec_bench.graph import TrainGraph
from r2rec_bench.protocol import EvalSplit

PREFERENCE = ("bridge", "bridge3", "loop")
WEIGHTINGS = ("uniform", "co_interaction", "recency")
_SHAPES = {
    "loop": ("user", "item", "user", "item", "user"),
    "bridge": ("user", "item", "user", "item"),
    "bridge3": ("user", "item", "user", "item", "user", "item"),
}
# Proposals per example in each fast round; beyond them enumerating is about as cheap.
_ROUNDS = (32, 256)
_MIX = 7  # the stream of the loop-mixing coin (the fast rounds use streams 0 to 5)
_BATCH = 4096  # examples per fast round: bounds its arrays to a few tens of MB


def sample_chains(
    graph: TrainGraph,
    examples: EvalSplit,
    *,
    kinds: tuple[str, ...] = CHAIN_KINDS,
    per_example: int = 1,
    weighting: str = "co_interaction",
    seed: int = 0,
    held_out: np.ndarray | None = None,
    loop_share: float = 0.0,
    progress: bool = True,
) -> list[tuple[Chain, ...]]:
    """Up to ``per_example`` distinct chains for each example row, in the preference order of
    the module docstring; an empty tuple where no chain of the requested kinds exists.

    ``held_out``: sorted ``user * n_items + item`` keys of pairs outside the graph that must not
    reach that user's chains either: pass ``ProtocolOutput.seen_keys`` so that no 3-hop bridge
    passes through the user's validation or test target.
    """
    unknown = sorted(set(kinds) - set(CHAIN_KINDS))
    if unknown or not kinds:
        raise UserError(f"chain kinds {unknown or []}: use some of {', '.join(CHAIN_KINDS)}")
    if weighting not in WEIGHTINGS:
        raise UserError(f"chain weighting {weighting!r}: use one of {', '.join(WEIGHTINGS)}")
    if per_example < 1:
        raise UserError("chains per example must be at least 1")
    if seed < 0:
        raise UserError("the chain seed must be 0 or more")
    if not 0.0 <= loop_share <= 1.0 or (loop_share and "loop" not in kinds):
        raise UserError("the loop share lies between 0 and 1 and needs the `loop` chain kind")
    order = tuple(kind for kind in PREFERENCE if kind in kinds)
    sampler = _Sampler(graph, weighting, seed, held_out)
    users = np.asarray(examples.user, dtype=np.int64)
    targets = np.asarray(examples.target, dtype=np.int64)
    times = np.asarray(examples.target_timestamp, dtype=np.int64)
    history = _shown_counts(examples)
    chains: list[tuple[Chain, ...]] = []
    with tqdm(
        total=len(users), desc="chains", unit="example", disable=not progress, leave=False
    ) as bar:
        for start in range(0, len(users), _BATCH):
            batch = slice(start, start + _BATCH)
            user, target, time, shown = users[batch], targets[batch], times[batch], history[batch]
            chosen: list[list[tuple[str, tuple]]] = [[] for _ in range(len(user))]
            coin = _uniforms(_stream_keys(seed, user, target), np.zeros(1, np.int64), _MIX)
            mixed = np.flatnonzero(coin[:, 0] < loop_share)
            looped = np.zeros(len(user), dtype=np.int64)  # 1 where a mixed-in loop was found
            for kind, only in ([("loop", mixed)] if len(mixed) else []) + [
                (k, None) for k in order
            ]:
                if only is None:
                    needs = per_example + looped - np.array([len(found) for found in chosen])
                    if kind == "loop":
                        needs[looped == 1] = 0  # one loop per example
                else:
                    needs = np.zeros(len(user), dtype=np.int64)
                    needs[only] = 1
                rows = np.flatnonzero(needs > 0)
                fast = sampler.fast(
                    kind, user[rows], target[rows], time[rows], shown[rows], needs[rows]
                )
                for row, draws in zip(rows.tolist(), fast, strict=True):
                    example = (int(user[row]), int(target[row]), int(time[row]), int(shown[row]))
                    found = sampler.complete(kind, *example, draws, int(needs[row]))
                    chosen[row] += [(kind, codes) for codes in found]
                if only is not None:
                    looped[only] = [len(chosen[row]) for row in only.tolist()]
            chains += _build(graph, chosen)
            bar.update(len(chosen))
    return chains


def _shown_counts(examples: EvalSplit) -> np.ndarray:
    """For each row: how many of its history items lie strictly before its target time — the
    size of V, the last of the user's items before that time (module docstring)."""
    offsets = np.asarray(examples.history_offsets, dtype=np.int64)
    sizes = np.diff(offsets)
    stamps = np.asarray(examples.history_timestamps[offsets[0] : offsets[-1]], dtype=np.int64)
    times = np.asarray(examples.target_timestamp, dtype=np.int64)
    before = stamps < np.repeat(times, sizes)
    rows = np.repeat(np.arange(len(sizes)), sizes)
    return np.bincount(rows, weights=before, minlength=len(sizes)).astype(np.int64)


# -- the sampler ------------------------------------------------------------------------------


class _Sampler:
    """Graph-wide state: weighting, seed, degrees and scratch arrays."""

    def __init__(
        self, graph: TrainGraph, weighting: str, seed: int, held_out: np.ndarray | None
    ) -> None:
        self.graph = graph
        self.weighting = weighting
        self.seed = seed
        self.held_out = np.empty(0, np.int64) if held_out is None else np.asarray(held_out)
        self.shown_position = np.full(graph.n_items, -1, dtype=np.int64)
        self.blocked = np.zeros(graph.n_items, dtype=bool)
        self.with_target = np.zeros(graph.n_users, dtype=bool)
        self.user_degree = graph.user_degree()
        self.item_degree = graph.item_degree()

    def complete(self, kind, user, target, time, shown, draws, need) -> list[tuple]:
        """Up to ``need`` distinct chains of ``kind`` from the fast draws, drawing exactly
        from the enumerated neighbourhood as long as the per-example rule asks for more;
        ``shown``: the size of the example's V."""
        example = None
        try:
            while wanted := _needed(draws, need):
                example = example or _Example(self, kind, user, target, time, shown)
                more = example.draw(wanted)
                if not more:
                    break
                draws = draws + more
        finally:
            if example is not None:
                example.release()
        return _first_distinct(draws, need)

    def fast(self, kind, users, targets, times, shown, needs) -> list[list[tuple]]:
        """Draws of ``kind`` for a batch by rejection over uniform 2-paths (module docstring),
        as node codes; ``complete`` finishes an example that ends with too few. ``shown``: the
        size of each example's V."""
        draws: list[list[tuple]] = [[] for _ in range(len(users))]
        if kind == "loop" or (kind == "bridge3" and self.weighting == "co_interaction"):
            return draws  # sampled exactly, from the enumerated neighbourhood
        graph = self.graph
        # V is the window [first, first + shown) of u0's edges: its last ``shown`` before T.
        visible = _visible_counts(graph, users, times)
        shown = np.minimum(np.asarray(shown, dtype=np.int64), visible)
        first = graph.user_ptr[users] + visible - shown
        from_user = graph.paths_via_user_entries[first + shown]
        from_user = from_user - graph.paths_via_user_entries[first]
        from_target = graph.paths_via_item_entries[graph.item_ptr[targets + 1]]
        from_target = from_target - graph.paths_via_item_entries[graph.item_ptr[targets]]
        keys = _stream_keys(self.seed, users, targets)
        # Both kinds need a shown item and another user of t: without them ``complete``
        # finds that no chain exists.
        pending = np.flatnonzero((shown > 0) & (self.item_degree[targets] > 1))
        # Streams: bridge 0 (2-paths) and 2 (recency coins); bridge3 3, 4 (2-paths) and 5.
        propose, stream = (
            (self._propose_bridges, 0) if kind == "bridge" else (self._propose_bridges3, 3)
        )
        used = 0
        for size in _ROUNDS:
            if len(pending) == 0:
                break
            rows, counters = pending, np.arange(used, used + size)
            middle, position, ok = propose(
                users[rows],
                targets[rows],
                shown[rows],
                first[rows],
                from_user[rows],
                from_target[rows],
                keys[rows],
                counters,
                stream,
            )
            if self.weighting == "recency":
                coin = _uniforms(keys[rows], counters, stream + 2)
                ok &= coin * (shown[rows, None] - position) < 1.0
            local, k = np.nonzero(ok)
            middle = [column[local, k] for column in middle]
            if self.weighting == "co_interaction":
                local, middle = self._recombine(local, *middle)
            # No example can use more draws than the per-example rule allows.
            kept = _rank(local) < DRAWS_PER_CHAIN * needs[rows[local]]
            local, middle = local[kept], [column[kept] for column in middle]
            codes = zip(rows[local].tolist(), *(column.tolist() for column in middle), strict=True)
            for row, *path in codes:
                draws[row].append((int(users[row]), *path, int(targets[row])))
            used += size
            pending = np.array([r for r in rows if _needed(draws[r], int(needs[r]))], np.int64)
        return draws

    def _from_users(self, users, first, totals, keys, counters, stream):
        """Uniform 2-paths u0 → h → u over u0's shown items (its edges from ``first`` on, as
        many as ``totals`` 2-paths reach): h, u and h's edge index."""
        graph, k = self.graph, len(counters)
        cumulative = graph.paths_via_user_entries
        paths = (cumulative[first][:, None] + _steps(keys, counters, totals, stream)).ravel()
        entry = _search(cumulative, paths, "right") - 1
        item = graph.user_items[entry].astype(np.int64)
        user = graph.item_users[graph.item_ptr[item] + paths - cumulative[entry]]
        return item.reshape(-1, k), user.astype(np.int64).reshape(-1, k), entry.reshape(-1, k)

    def _from_targets(self, targets, totals, keys, counters, stream):
        """Uniform 2-paths t → u → i: u and i."""
        graph, k = self.graph, len(counters)
        cumulative = graph.paths_via_item_entries
        start = cumulative[graph.item_ptr[targets]]
        paths = (start[:, None] + _steps(keys, counters, totals, stream)).ravel()
        entry = _search(cumulative, paths, "right") - 1
        user = graph.item_users[entry].astype(np.int64)
        item = graph.user_items[graph.user_ptr[user] + paths - cumulative[entry]]
        return user.reshape(-1, k), item.astype(np.int64).reshape(-1, k)

    def _propose_bridges(
        self, users, targets, shown, first, from_user, from_target, keys, counters, stream
    ):
        """Uniform 2-paths from whichever side has fewer: (h, u1), h's position among u0's
        shown items (its edges [first, first + shown)), and where the 2-path closes into a
        bridge."""
        graph = self.graph
        n, k = len(users), len(counters)
        h, u1, position = (np.empty((n, k), dtype=np.int64) for _ in range(3))
        ok = np.empty((n, k), dtype=bool)
        side = np.flatnonzero(from_target <= from_user)
        if len(side):
            who, item = self._from_targets(
                targets[side], from_target[side], keys[side], counters, stream
            )
            own = _edge_indices(graph, np.repeat(users[side], k), item.ravel()).reshape(-1, k)
            # own = -1 (no such edge) lies before the window; older items and those at or
            # after T lie outside it.
            own = own - first[side, None]
            seen = (own >= 0) & (own < shown[side, None])
            h[side], u1[side], position[side] = item, who, own
            ok[side] = seen & (who != users[side, None])
        side = np.flatnonzero(from_target > from_user)
        if len(side):
            item, who, entry = self._from_users(
                users[side], first[side], from_user[side], keys[side], counters, stream
            )
            to_target = np.repeat(targets[side], k)
            reaches = (_edge_indices(graph, who.ravel(), to_target) >= 0).reshape(-1, k)
            h[side], u1[side], position[side] = item, who, entry - first[side, None]
            ok[side] = reaches & (who != users[side, None])
        return [h, u1], position, ok

    def _propose_bridges3(
        self, users, targets, shown, first, from_user, from_target, keys, counters, stream
    ):
        """A uniform 2-path u0 → h → u1 and an independent one t → u2 → x: together a uniform
        (h, u1, x, u2), a 3-hop bridge where u1 has x and the rest is distinct and allowed."""
        graph, k = self.graph, len(counters)
        h, u1, entry = self._from_users(users, first, from_user, keys, counters, stream)
        u2, x = self._from_targets(targets, from_target, keys, counters, stream + 1)
        owner = users[:, None]
        ok = (u1 != owner) & (u2 != owner) & (u1 != u2) & (x != targets[:, None])
        ok &= (_edge_indices(graph, u1.ravel(), x.ravel()) >= 0).reshape(-1, k)
        mine = np.repeat(users, k)
        ok &= (_edge_indices(graph, mine, x.ravel()) < 0).reshape(-1, k)
        if len(self.held_out):
            ok &= ~_member(self.held_out, mine * graph.n_items + x.ravel()).reshape(-1, k)
        return [h, u1, x, u2], entry - first[:, None], ok

    def _recombine(self, local, h, u1):
        """u1 of each odd uniform bridge with h of the next one of the same example, where u1
        has an edge to h: such a pair is drawn with probability ∝ s(u1)·c(h)."""
        lead = np.flatnonzero(_rank(local) % 2 == 0)
        lead = lead[(lead + 1 < len(local))]
        lead = lead[local[np.minimum(lead + 1, len(local) - 1)] == local[lead]]
        closes = _edge_indices(self.graph, u1[lead], h[lead + 1]) >= 0
        lead = lead[closes]
        return local[lead], [h[lead + 1], u1[lead]]


def _build(graph: TrainGraph, drawn: list[list[tuple[str, tuple]]]) -> list[tuple[Chain, ...]]:
    """Chains with the real timestamps and ratings of their edges, looked up all at once."""
    pairs = [
        (a, b) if position % 2 == 0 else (b, a)
        for chains in drawn
        for _, codes in chains
        for position, (a, b) in enumerate(pairwise(codes))
    ]
    users, items = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    found = _edge_indices(graph, users, items)
    edges = map(
        ChainEdge,
        users.tolist(),
        items.tolist(),
        graph.user_times[found].tolist(),
        graph.user_ratings[found].tolist(),
    )
    # Nodes recur across chains (every chain starts at its user): one object each.
    nodes: dict[tuple[str, int], ChainNode] = {}

    def node(kind: str, code: int) -> ChainNode:
        if (kind, code) not in nodes:
            nodes[kind, code] = ChainNode(kind, code)
        return nodes[kind, code]

    return [
        tuple(
            Chain(
                kind,
                tuple(map(node, _SHAPES[kind], codes)),
                tuple(next(edges) for _ in range(len(codes) - 1)),
            )
            for kind, codes in chains
        )
        for chains in drawn
    ]
