"""Exact draws from one example's enumerated neighbourhood: the sampler's fallback for
examples whose chains stay rare after the fast rounds, for loops, and for 3-hop bridges under
co-interaction weighting (weights as in the sampler's module docstring)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from r2rec_bench.chains.draws import (
    _pick,
    _segments,
)
from r2rec_bench.chains.types import CHAIN_KINDS

if TYPE_CHECKING:
    from r2rec_bench.chains.sampler import _Sampler


class _Example:
    """One example's neighbourhood, enumerated as far as the requested kinds need it.

    Notation: V = u0's shown items; U_t = the users other than u0 with an edge to t;
    s(u) = |items(u) ∩ V|; b(i) = a shown item's weight (1, or its recency weight).
    """

    def __init__(
        self, sampler: _Sampler, kind: str, user: int, target: int, time: int, shown: int
    ) -> None:
        graph = sampler.graph
        self.sampler, self.graph = sampler, graph
        self.kind, self.user, self.target = kind, user, target
        self.co = sampler.weighting == "co_interaction"
        self.rng = np.random.default_rng([sampler.seed, user, target, CHAIN_KINDS.index(kind)])
        start, end = graph.user_ptr[user], graph.user_ptr[user + 1]
        n_visible = int(np.searchsorted(graph.user_times[start:end], time, "left"))
        # V: the last ``shown`` of u0's edges before T, the items that the prompt shows.
        self.n_shown = min(shown, n_visible)
        window = start + n_visible - self.n_shown
        self.shown = graph.user_items[window : window + self.n_shown].astype(np.int64)
        sampler.shown_position[self.shown] = np.arange(self.n_shown)
        held = np.searchsorted(sampler.held_out, [user * graph.n_items, (user + 1) * graph.n_items])
        self.blocked = np.concatenate(
            [
                [target],
                graph.user_items[start:end],
                sampler.held_out[held[0] : held[1]] - user * graph.n_items,
            ]
        ).astype(np.int64)
        sampler.blocked[self.blocked] = True
        users = graph.users_of(target)
        self.target_users = users[users != user].astype(np.int64)
        sampler.with_target[self.target_users] = True
        if sampler.weighting == "recency":
            self.item_weight = 1.0 / (self.n_shown - np.arange(self.n_shown))
        else:
            self.item_weight = np.ones(self.n_shown)

    def release(self) -> None:
        self.sampler.shown_position[self.shown] = -1
        self.sampler.blocked[self.blocked] = False
        self.sampler.with_target[self.target_users] = False

    def draw(self, n: int) -> list[tuple]:
        """``n`` independent chains as node codes; none if the kind has no chain."""
        return getattr(self, f"_{self.kind}")(n)

    @cached_property
    def _bridges(self):
        """Every bridge (h as a position in V, u1), from whichever side has fewer 2-paths."""
        graph, sampler = self.graph, self.sampler
        via_target = sampler.user_degree[self.target_users].sum()
        if via_target <= sampler.item_degree[self.shown].sum():
            items, owner = _segments(graph.user_ptr, graph.user_items, self.target_users)
            position = sampler.shown_position[items]
            hit = position >= 0
            return position[hit], self.target_users[owner[hit]]
        users, owner = _segments(graph.item_ptr, graph.item_users, self.shown)
        hit = sampler.with_target[users]
        return owner[hit], users[hit].astype(np.int64)

    def _bridge(self, n: int) -> list[tuple]:
        position, u1 = self._bridges
        if len(u1) == 0:
            return []
        weights = self.item_weight[position]
        if self.co:
            _, by_user, similar = np.unique(u1, return_inverse=True, return_counts=True)
            weights = similar[by_user] * np.bincount(position)[position]
        return [
            (self.user, int(self.shown[position[j]]), int(u1[j]), self.target)
            for j in _pick(self.rng, weights, n)
        ]

    @cached_property
    def _similar(self):
        """Every (u, h ∈ V) with u ≠ u0, s(u) by user code, and each user's mass as the u1 of a
        chain: a(u)·Σ b(h) over its shared h, where a(u) = s(u) under co-interaction, else 1."""
        graph = self.graph
        users, position = _segments(graph.item_ptr, graph.item_users, self.shown)
        keep = users != self.user
        users, position = users[keep].astype(np.int64), position[keep]
        shared = np.bincount(users, minlength=graph.n_users)
        mass = np.bincount(users, weights=self.item_weight[position], minlength=graph.n_users)
        if self.co:
            mass *= shared
        return users, position, shared, mass

    def _shared_positions(self, user: int) -> np.ndarray:
        positions = self.sampler.shown_position[self.graph.items_of(user)]
        return positions[positions >= 0]

    def _loop(self, n: int) -> list[tuple]:
        users, position, shared, mass = self._similar
        similar = shared[users] >= 2
        users, position = users[similar], position[similar]
        if len(users) == 0:
            return []
        b = self.item_weight[position]
        a = shared[users] if self.co else 1.0
        # Entry (u1, i0) carries every loop that closes through another shared i1.
        loops = []
        for j in _pick(self.rng, mass[users] * b - a * b**2, n):
            u1, p0 = int(users[j]), int(position[j])
            closing = self._shared_positions(u1)
            closing = closing[closing != p0]
            p1 = closing[_pick(self.rng, self.item_weight[closing], 1)[0]]
            loops.append((self.user, int(self.shown[p0]), u1, int(self.shown[p1]), self.user))
        return loops

    @cached_property
    def _middles(self):
        """For every possible x: the total weight and number of 3-hop bridges through it.

        Meet in the middle: L(x) = Σ mass(u1) over x's users, R(x) = |users(x) ∩ U_t|, and M(x)
        = Σ mass(u) over x's users in U_t, the chains in which one user would be both u1 and u2.
        """
        graph, sampler = self.graph, self.sampler
        _, _, shared, mass = self._similar
        items, owner = _segments(graph.user_ptr, graph.user_items, self.target_users)
        free = ~sampler.blocked[items]
        items, seconds = items[free], self.target_users[owner[free]]
        right = np.bincount(items, minlength=graph.n_items)
        both = np.bincount(items, weights=mass[seconds], minlength=graph.n_items)
        both_count = np.bincount(items, weights=shared[seconds], minlength=graph.n_items)
        middle = np.flatnonzero(right)
        right, both, both_count = right[middle], both[middle], both_count[middle]
        left = self._sum_over_users(middle, mass)
        left_count = self._sum_over_users(middle, shared)
        weights = (right if self.co else 1.0) * (left * right - both)
        # Counts are exact integers: they zero the branches that rounding left a crumb of weight.
        weights[left_count * right - both_count <= 0] = 0.0
        return middle, weights, left, left_count

    def _sum_over_users(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Σ values[u] over the users u of each of ``items`` (all with at least one user)."""
        graph = self.graph
        degree = self.sampler.item_degree
        if degree[items].sum() < graph.n_edges // 4:
            users, _ = _segments(graph.item_ptr, graph.item_users, items)
            return np.add.reduceat(values[users], np.cumsum(degree[items]) - degree[items])
        # A neighbourhood that spans much of the graph: one pass over every edge is faster.
        nonempty = np.flatnonzero(degree)
        sums = np.zeros(graph.n_items, dtype=np.float64)
        sums[nonempty] = np.add.reduceat(values[graph.item_users], graph.item_ptr[nonempty])
        return sums[items]

    def _bridge3(self, n: int) -> list[tuple]:
        graph, sampler = self.graph, self.sampler
        _, _, shared, mass = self._similar
        middle, weights, left, left_count = self._middles
        if not (weights > 0).any():
            return []
        chains = []
        for j in _pick(self.rng, weights, n):
            x = int(middle[j])
            users = graph.users_of(x).astype(np.int64)
            seconds = users[sampler.with_target[users]]
            second_weights = np.where(
                left_count[j] - shared[seconds] > 0, left[j] - mass[seconds], 0.0
            )
            u2 = int(seconds[_pick(self.rng, second_weights, 1)[0]])
            firsts = users[(shared[users] > 0) & (users != u2)]
            u1 = int(firsts[_pick(self.rng, mass[firsts], 1)[0]])
            hs = self._shared_positions(u1)
            h = int(self.shown[hs[_pick(self.rng, self.item_weight[hs], 1)[0]]])
            chains.append((self.user, h, u1, x, u2, self.target))
        return chains
