"""Chains walked by hand on the training graph, for teacher tests that must not depend on the
chain sampler: one deterministic chain per example, cycling through the three shapes.

Each walk uses only training edges and, for the example's own user, only edges strictly
before the example's target time (DESIGN §4), like the sampler's chains.
"""

from __future__ import annotations

import itertools

from r2rec_bench.chains.types import Chain, ChainEdge, ChainNode
from r2rec_bench.graph import TrainGraph
from r2rec_bench.protocol import EvalSplit


def _edge(graph: TrainGraph, user: int, item: int) -> ChainEdge:
    timestamp, rating = graph.edge(user, item)
    return ChainEdge(user, item, timestamp, rating)


def _chain(kind: str, graph: TrainGraph, nodes: list[tuple[str, int]]) -> Chain:
    edges = []
    for (kind_a, a), (_, b) in itertools.pairwise(nodes):
        user, item = (a, b) if kind_a == "user" else (b, a)
        edges.append(_edge(graph, user, item))
    return Chain(kind, tuple(ChainNode(k, c) for k, c in nodes), tuple(edges))


def bridge(graph: TrainGraph, user: int, target: int, before: int) -> Chain | None:
    """u0 → h → u1 → t through the most recent visible item h that another user shares."""
    reached = set(graph.users_of(target).tolist()) - {user}
    for h in graph.items_of(user, before=before)[::-1]:
        shared = sorted(reached & set(graph.users_of(h).tolist()))
        if shared:
            return _chain(
                "bridge",
                graph,
                [("user", user), ("item", int(h)), ("user", shared[0]), ("item", target)],
            )
    return None


def bridge3(graph: TrainGraph, user: int, target: int, before: int) -> Chain | None:
    """u0 → h → u1 → x → u2 → t, with x an item of u1 that some u2 shares with the target."""
    visible = graph.items_of(user, before=before)
    reached = set(graph.users_of(target).tolist()) - {user}
    for h in visible[::-1][:3]:
        for u1 in graph.users_of(h)[:10]:
            if u1 == user:
                continue
            for x in graph.items_of(u1)[::-1][:20]:
                if x in (h, target):
                    continue
                u2s = sorted(reached & set(graph.users_of(x).tolist()) - {int(u1)})
                if u2s:
                    nodes = [("user", user), ("item", int(h)), ("user", int(u1))]
                    nodes += [("item", int(x)), ("user", u2s[0]), ("item", target)]
                    return _chain("bridge3", graph, nodes)
    return None


def loop(graph: TrainGraph, user: int, before: int) -> Chain | None:
    """u0 → i0 → u1 → i1 → u0 with u1 sharing at least two visible items with u0."""
    visible = graph.items_of(user, before=before)
    mine = set(visible.tolist())
    for i0 in visible[::-1]:
        for u1 in graph.users_of(i0):
            if u1 == user:
                continue
            shared = [int(i) for i in graph.items_of(u1) if int(i) in mine and i != i0]
            if shared:
                nodes = [("user", user), ("item", int(i0)), ("user", int(u1))]
                nodes += [("item", shared[0]), ("user", user)]
                return _chain("loop", graph, nodes)
    return None


def hand_chains(graph: TrainGraph, examples: EvalSplit, no_chain_every: int = 10) -> list:
    """One chain per example (bridge, loop, bridge3 in turn); every ``no_chain_every``-th
    example gets none, so attribute-only reasoning is exercised too."""
    chains = []
    for row in range(len(examples)):
        user, target = int(examples.user[row]), int(examples.target[row])
        before = int(examples.target_timestamp[row])
        if row % no_chain_every == no_chain_every - 1:
            chains.append(())
            continue
        walk = (
            bridge(graph, user, target, before),
            loop(graph, user, before),
            bridge3(graph, user, target, before),
        )[row % 3]
        chains.append((walk,) if walk is not None else ())
    return chains
