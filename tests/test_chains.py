"""Chains on the training graph (DESIGN §6, issue 3): shapes, the time cut-off, weighting,
determinism, and the must-show checks over the whole ml-100k-iot training targets."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest
from scipy.stats import chisquare

from r2rec_bench.chains.sampler import sample_chains
from r2rec_bench.chains.types import CHAIN_KINDS, Chain, ChainEdge, ChainNode
from r2rec_bench.chains.validate import validate_chain
from r2rec_bench.errors import UserError
from r2rec_bench.graph import TrainGraph
from r2rec_bench.protocol import EvalSplit, ProtocolParams, run_protocol, training_targets
from r2rec_bench.protocol.types import TrainLog
from r2rec_bench.sources import read_source

# -- small graphs written by hand ---------------------------------------------------------------


def graph_of(edges, n_users=None, n_items=None) -> TrainGraph:
    """A training graph from (user, item, timestamp) triples; rating = 1 + item % 5."""
    user, item, time = (np.array(column, dtype=np.int64) for column in zip(*edges, strict=True))
    order = np.lexsort((item, time, user))
    train = TrainLog(
        user=user[order].astype(np.int32),
        item=item[order].astype(np.int32),
        timestamp=time[order],
        rating=(1.0 + item[order] % 5),
    )
    return TrainGraph.from_train(
        train, n_users or int(user.max()) + 1, n_items or int(item.max()) + 1
    )


def examples_of(graph: TrainGraph, rows, history_length: int = 10) -> EvalSplit:
    """Training examples (user, target, target time), each with the history that its prompt
    shows: the user's last ``history_length`` items before the target time."""
    user, target, time = (np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))
    n = len(user)
    starts = [int(graph.user_ptr[u]) for u in user]
    ends = [
        start + len(graph.items_of(int(u), before=int(t)))
        for start, u, t in zip(starts, user, time, strict=True)
    ]
    window = [
        np.arange(max(start, end - history_length), end)
        for start, end in zip(starts, ends, strict=True)
    ]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(w) for w in window], out=offsets[1:])
    positions = np.concatenate([np.empty(0, np.int64), *window])
    return EvalSplit(
        name="train",
        user=user.astype(np.int32),
        target=target.astype(np.int32),
        target_timestamp=time,
        history_offsets=offsets,
        history_items=graph.user_items[positions].astype(np.int32),
        history_timestamps=graph.user_times[positions].astype(np.int64),
        candidates=target.astype(np.int32)[:, None],
        target_index=np.zeros(n, np.int32),
    )


def graph_edges(graph: TrainGraph) -> list[tuple[int, int, int]]:
    users = np.repeat(np.arange(graph.n_users), graph.user_degree())
    columns = (users.tolist(), graph.user_items.tolist(), graph.user_times.tolist())
    return list(zip(*columns, strict=True))


def codes(chain: Chain) -> tuple[int, ...]:
    return tuple(node.code for node in chain.nodes)


def draws(graph, example, kinds, seeds=range(40), history_length=10, **options) -> set[tuple]:
    found = set()
    examples = examples_of(graph, [example], history_length)
    for seed in seeds:
        for chain in sample_chains(
            graph, examples, kinds=kinds, seed=seed, progress=False, **options
        )[0]:
            assert validate_chain(graph, chain, *example, shown=examples.history(0)) == []
            found.add(codes(chain))
    return found


# u0 = 0 sees items 0 and 1 before T = 30; its edges to the target 5 and to item 2 are at T
# exactly, and item 3 comes later: none of these three may carry a chain.
U0_EDGES = [(0, 0, 10), (0, 1, 20), (0, 5, 30), (0, 2, 30), (0, 3, 40)]
EXAMPLE = (0, 5, 30)


def test_a_bridge_carries_the_real_edges():
    graph = graph_of([*U0_EDGES, (1, 1, 7), (1, 5, 8)])
    (chains,) = sample_chains(
        graph, examples_of(graph, [EXAMPLE]), kinds=("bridge",), progress=False
    )
    (chain,) = chains
    assert chain.kind == "bridge" and codes(chain) == (0, 1, 1, 5)
    assert [node.kind for node in chain.nodes] == ["user", "item", "user", "item"]
    assert chain.edges == (
        ChainEdge(0, 1, 20, 2.0),
        ChainEdge(1, 1, 7, 2.0),
        ChainEdge(1, 5, 8, 1.0),
    )


def test_the_users_edges_at_or_after_the_target_time_are_invisible():
    # User 1 shares with u0 only item 2 (u0's edge at exactly T) and item 3 (after T).
    graph = graph_of([*U0_EDGES, (1, 2, 1), (1, 3, 2), (1, 5, 3), (1, 6, 4), (2, 6, 5), (2, 5, 6)])
    for kinds in [("bridge",), ("loop",), ("bridge3",), CHAIN_KINDS]:
        assert draws(graph, EXAMPLE, kinds) == set()
    # A second earlier, u0's edge to item 2 carries the bridge.
    earlier = [(u, i, 29 if (u, i) == (0, 2) else t) for u, i, t in graph_edges(graph)]
    assert draws(graph_of(earlier), EXAMPLE, ("bridge",)) == {(0, 2, 1, 5)}
    # One visible shared item is enough for a bridge, and only through it.
    graph = graph_of([*U0_EDGES, (1, 2, 1), (1, 3, 2), (1, 5, 3), (1, 0, 4)])
    assert draws(graph, EXAMPLE, ("bridge",)) == {(0, 0, 1, 5)}


def test_a_loop_closes_through_two_visible_items_of_a_similar_user():
    graph = graph_of([*U0_EDGES, (1, 0, 1), (1, 1, 2), (1, 2, 3), (2, 0, 1), (2, 5, 2)])
    assert draws(graph, EXAMPLE, ("loop",)) == {(0, 0, 1, 1, 0), (0, 1, 1, 0, 0)}
    # A user who shares a single visible item closes no loop.
    graph = graph_of([*U0_EDGES, (1, 0, 1), (1, 2, 3), (1, 3, 4)])
    assert draws(graph, EXAMPLE, ("loop",)) == set()


def test_a_three_hop_bridge_passes_through_an_item_that_is_not_the_users():
    edges = [*U0_EDGES, (1, 0, 1), (1, 7, 2), (2, 7, 3), (2, 5, 4)]
    assert draws(graph_of(edges), EXAMPLE, ("bridge3",)) == {(0, 0, 1, 7, 2, 5)}
    # Through u0's later item 3 it would reveal u0's future; through a held-out pair too.
    later = [*U0_EDGES, (1, 0, 1), (1, 3, 2), (2, 3, 3), (2, 5, 4)]
    assert draws(graph_of(later), EXAMPLE, ("bridge3",)) == set()
    held_out = np.array([0 * 8 + 7])
    assert draws(graph_of(edges, n_items=8), EXAMPLE, ("bridge3",), held_out=held_out) == set()
    # One user may not play both middle roles.
    alone = [*U0_EDGES, (1, 0, 1), (1, 7, 2), (1, 5, 3)]
    assert draws(graph_of(alone), EXAMPLE, ("bridge3",)) == set()


def test_bridges_come_first_and_other_kinds_fill_in():
    # One bridge (through user 1) and 3-hop bridges through item 7; loops through user 3.
    edges = [*U0_EDGES, (1, 0, 1), (1, 5, 2), (1, 7, 3), (2, 7, 4), (2, 5, 5), (3, 0, 1), (3, 1, 2)]
    graph = graph_of(edges)
    for seed in range(20):
        (one,) = sample_chains(graph, examples_of(graph, [EXAMPLE]), seed=seed, progress=False)
        assert [chain.kind for chain in one] == ["bridge"]
        (three,) = sample_chains(
            graph, examples_of(graph, [EXAMPLE]), per_example=3, seed=seed, progress=False
        )
        assert [chain.kind for chain in three] == ["bridge", "bridge3", "loop"]
        (loops,) = sample_chains(
            graph,
            examples_of(graph, [EXAMPLE]),
            kinds=("loop", "bridge3"),
            seed=seed,
            progress=False,
        )
        assert [chain.kind for chain in loops] == ["bridge3"]


def test_chains_walk_from_the_user_only_to_the_items_that_the_prompt_shows():
    # The prompt shows u0's last item before T (item 1) only when the history holds one item.
    through_old = graph_of([*U0_EDGES, (1, 0, 1), (1, 5, 2)])
    assert draws(through_old, EXAMPLE, ("bridge",)) == {(0, 0, 1, 5)}
    for kinds in [("bridge",), ("bridge3",), ("loop",), CHAIN_KINDS]:
        assert draws(through_old, EXAMPLE, kinds, history_length=1) == set()
    through_shown = graph_of([*U0_EDGES, (1, 1, 1), (1, 5, 2)])
    assert draws(through_shown, EXAMPLE, ("bridge",), history_length=1) == {(0, 1, 1, 5)}
    # A 3-hop bridge starts at a shown item, and its middle is still none of u0's items.
    edges = [*U0_EDGES, (1, 0, 1), (1, 1, 2), (1, 7, 3), (2, 7, 4), (2, 5, 5), (3, 0, 1), (3, 6, 2)]
    edges += [(4, 6, 1), (4, 5, 2)]
    assert draws(graph_of(edges), EXAMPLE, ("bridge3",)) == {
        (0, 0, 1, 7, 2, 5),
        (0, 1, 1, 7, 2, 5),
        (0, 0, 3, 6, 4, 5),
    }
    assert draws(graph_of(edges), EXAMPLE, ("bridge3",), history_length=1) == {(0, 1, 1, 7, 2, 5)}
    # A loop needs two shown items: item 0 drops out of a one-item window.
    loops = graph_of([*U0_EDGES, (1, 0, 1), (1, 1, 2)])
    assert draws(loops, EXAMPLE, ("loop",)) == {(0, 0, 1, 1, 0), (0, 1, 1, 0, 0)}
    assert draws(loops, EXAMPLE, ("loop",), history_length=1) == set()
    # An empty history shows nothing: no chain.
    assert draws(through_shown, EXAMPLE, CHAIN_KINDS, history_length=0) == set()


def test_every_example_gets_a_tuple_even_without_chains():
    graph = graph_of([*U0_EDGES, (1, 0, 1), (1, 5, 2), (2, 4, 1)])
    result = sample_chains(graph, examples_of(graph, [EXAMPLE, (2, 4, 1), EXAMPLE]), progress=False)
    assert [len(chains) for chains in result] == [1, 0, 1]


def test_bad_options_are_user_errors():
    graph = graph_of([*U0_EDGES, (1, 0, 1)])
    for options in [
        {"kinds": ("path",)},
        {"kinds": ()},
        {"weighting": "pagerank"},
        {"per_example": 0},
        {"seed": -1},
    ]:
        with pytest.raises(UserError):
            sample_chains(graph, examples_of(graph, [EXAMPLE]), progress=False, **options)


def test_validate_chain_names_each_broken_rule():
    edges = [*U0_EDGES, (1, 0, 1), (1, 1, 2), (1, 5, 3), (1, 7, 4), (2, 1, 5), (2, 5, 6)]
    graph = graph_of(edges)

    def check(kind, path, example=EXAMPLE, tamper=None, shown=None):
        """The problems of the chain through ``path`` (users at even positions), its edges
        looked up in the graph and then changed by ``tamper``."""
        nodes = tuple(ChainNode("item" if k % 2 else "user", c) for k, c in enumerate(path))
        hops = [(a, b) if a.kind == "user" else (b, a) for a, b in pairwise(nodes)]
        chain_edges = [
            ChainEdge(user.code, item.code, *(graph.edge(user.code, item.code) or (0, 0.0)))
            for user, item in hops
        ]
        if tamper:
            chain_edges = tamper(chain_edges)
        chain = Chain(kind, nodes, tuple(chain_edges))
        return " | ".join(validate_chain(graph, chain, *example, shown=shown))

    assert check("bridge", (0, 1, 1, 5)) == ""
    assert check("loop", (0, 0, 1, 1, 0)) == ""
    assert "end at the example's target" in check("bridge", (0, 1, 1, 5), (0, 7, 30))
    assert "not a training edge" in check("bridge", (0, 0, 2, 5))
    assert "at or after the target time" in check("bridge", (0, 5, 1, 5))
    assert "starts at" in check("bridge", (1, 1, 2, 5))
    assert "nodes must be" in check("loop", (0, 1, 1, 5))
    assert "end at the example's user" in check("loop", (0, 0, 1, 1, 2))
    assert "two distinct items" in check("loop", (0, 0, 1, 0, 0))
    assert "middle item" in check("bridge3", (0, 0, 1, 1, 2, 5))
    assert "users of a bridge must be distinct" in check("bridge3", (0, 0, 1, 7, 1, 5))
    assert "carries" in check(
        "bridge", (0, 1, 1, 5), tamper=lambda e: [replace(e[0], timestamp=19), *e[1:]]
    )
    assert "carries" in check(
        "bridge", (0, 1, 1, 5), tamper=lambda e: [*e[:2], replace(e[2], rating=5.0)]
    )
    assert "does not join" in check("bridge", (0, 1, 1, 5), tamper=lambda e: [e[1], e[0], e[2]])
    assert "unknown chain kind" in check("spiral", (0, 1, 1, 5))
    # The prompt shows item 1 only.
    assert check("bridge", (0, 1, 1, 5), shown=np.array([1])) == ""
    assert "does not show" in check("bridge", (0, 0, 1, 5), shown=np.array([1]))
    assert "does not show" in check("loop", (0, 1, 1, 0, 0), shown=np.array([1]))
    assert "does not show" in check("loop", (0, 0, 1, 1, 0), shown=np.array([1]))


# -- exact weighting, by brute force on a small graph ------------------------------------------

# u0 = 0 saw items 7, 0, 1, 2 (in that order) before its target 3 at T = 10, and its prompt
# shows the last HISTORY of them: 0, 1, 2; item 4 comes later. Users 1-7 give bridges, 3-hop
# bridges (through 5 and 6) and loops with varied overlaps; through item 7, which the prompt
# hides, users 1 and 3 would give more.
GADGET = [
    *[(0, 7, 0), (0, 0, 1), (0, 1, 2), (0, 2, 3), (0, 3, 10), (0, 4, 20)],
    *[(1, 7, 0), (1, 0, 1), (1, 1, 2), (1, 3, 3), (1, 5, 4)],
    *[(2, 0, 1), (2, 3, 2), (2, 5, 3), (2, 6, 4)],
    *[(3, 7, 0), (3, 1, 1), (3, 2, 2), (3, 6, 3)],
    *[(4, 5, 1), (4, 6, 2), (4, 3, 3)],
    *[(5, 2, 1), (5, 5, 2)],
    *[(6, 4, 1), (6, 3, 2)],
    *[(7, 0, 1), (7, 1, 2), (7, 2, 3), (7, 6, 4)],
]
SIZE = 8  # users and items of one copy of the gadget
HISTORY = 3


def expected_weights(
    edges, user, target, time, kind, weighting, history_length=HISTORY
) -> dict[tuple, float]:
    """Every valid chain of ``kind`` and its weight, straight from the definitions."""
    items, users = defaultdict(set), defaultdict(set)
    for u, i, _ in edges:
        items[u].add(i)
        users[i].add(u)
    mine = sorted((t, i) for u, i, t in edges if u == user and t < time)
    visible = [i for _, i in mine][-history_length:]
    recency = {i: 1 / (len(visible) - k) for k, i in enumerate(visible)}
    own = items[user] | {target}
    shared = {u: len(items[u] & set(visible)) for u in items}
    co = {i: len({u for u in users[i] if u != user and target in items[u]}) for i in users}
    chains = {}
    for h in visible:
        for u1 in users[h] - {user}:
            if target in items[u1]:
                chains["bridge", (user, h, u1, target)] = {
                    "uniform": 1,
                    "co_interaction": shared[u1] * co[h],
                    "recency": recency[h],
                }
            for x in items[u1] - own:
                for u2 in users[x] - {user, u1}:
                    if target in items[u2]:
                        chains["bridge3", (user, h, u1, x, u2, target)] = {
                            "uniform": 1,
                            "co_interaction": shared[u1] * co[x],
                            "recency": recency[h],
                        }
            for i1 in (items[u1] & set(visible)) - {h}:
                chains["loop", (user, h, u1, i1, user)] = {
                    "uniform": 1,
                    "co_interaction": shared[u1],
                    "recency": recency[h] * recency[i1],
                }
    return {path: w[weighting] for (k, path), w in chains.items() if k == kind}


def copies(edges, n: int, crowd: int = 0) -> tuple[TrainGraph, EvalSplit]:
    """``n`` disjoint copies of a gadget (codes shifted by SIZE per copy, so that every copy's
    example has its own random stream), each asking for chains of its user 0 to item 3.

    ``crowd`` more users per copy see u0's items 0-2 but never the target, and as many see the
    target and one item of their own: they hide the bridges among thousands of 2-paths.
    """
    shifted = []
    for k in range(n):
        shifted += [(u + SIZE * k, i + SIZE * k, t) for u, i, t in edges]
        first, junk = SIZE * n + 2 * crowd * k, SIZE * n + k
        shifted += [(u, i + SIZE * k, 1) for u in range(first, first + crowd) for i in (0, 1, 2)]
        shifted += [
            (u, i, 1) for u in range(first + crowd, first + 2 * crowd) for i in (3 + SIZE * k, junk)
        ]
    graph = graph_of(shifted)
    return graph, examples_of(graph, [(SIZE * k, 3 + SIZE * k, 10) for k in range(n)], HISTORY)


def assert_distribution(graph, examples, seeds, kind, weighting, expected):
    counts = Counter()
    for seed in seeds:
        for row, chains in enumerate(
            sample_chains(
                graph, examples, kinds=(kind,), weighting=weighting, seed=seed, progress=False
            )
        ):
            (chain,) = chains
            shift = SIZE * row
            counts[tuple(code - shift for code in codes(chain))] += 1
    assert set(counts) <= set(expected)
    paths = sorted(expected)
    total = sum(expected.values())
    observed = [counts[path] for path in paths]
    frequencies = [sum(observed) * expected[path] / total for path in paths]
    assert chisquare(observed, frequencies).pvalue > 1e-3, (kind, weighting, counts)


@pytest.fixture(scope="module")
def gadget():
    return copies(GADGET, 1000)


@pytest.mark.parametrize("weighting", ["uniform", "co_interaction", "recency"])
@pytest.mark.parametrize("kind", CHAIN_KINDS)
def test_each_chain_is_drawn_with_its_exact_weight(gadget, kind, weighting):
    expected = expected_weights(GADGET, 0, 3, 10, kind, weighting)
    assert len(expected) >= 3
    # Item 7, which the prompt hides, would carry chains of every kind.
    unseen = expected_weights(GADGET, 0, 3, 10, kind, weighting, history_length=4)
    assert any(path[1] == 7 or path[-2] == 7 for path in set(unseen) - set(expected))
    assert_distribution(*gadget, range(3), kind, weighting, expected)


@pytest.fixture(scope="module")
def crowded():
    return copies(GADGET, 100, crowd=1000)


@pytest.mark.parametrize("weighting", ["uniform", "co_interaction", "recency"])
@pytest.mark.parametrize("kind", ["bridge", "bridge3"])
def test_chains_keep_their_weights_where_they_are_rare(crowded, kind, weighting):
    # The crowd adds no chain of these kinds, only 2-paths that lead nowhere.
    expected = expected_weights(GADGET, 0, 3, 10, kind, weighting)
    assert_distribution(*crowded, range(12), kind, weighting, expected)


# -- the whole ml-100k-iot training targets -----------------------------------------------------


@pytest.fixture(scope="module")
def ml100k(ml100k_raw):
    output = run_protocol(read_source("movielens-100k", ml100k_raw), ProtocolParams())
    examples = training_targets(output, per_user=3)
    graph = TrainGraph.from_train(output.train, len(output.user_id), len(output.catalog))
    return output, examples, graph


@pytest.fixture(scope="module")
def sampled(ml100k):
    """Chains of every example under some options, computed once per options."""
    output, examples, graph = ml100k
    cache = {}

    def sample(**options):
        options = {"held_out": output.seen_keys, **options}
        key = repr(sorted(options.items()))
        if key not in cache:
            cache[key] = sample_chains(graph, examples, progress=False, **options)
        return cache[key]

    return sample


def shown_items(examples, row) -> np.ndarray:
    """The example's history items strictly before its target time: those a chain may start
    from (a history item that ties the target's timestamp is shown but carries no chain)."""
    stamps = examples.history_timestamps[
        examples.history_offsets[row] : examples.history_offsets[row + 1]
    ]
    return examples.history(row)[stamps < examples.target_timestamp[row]]


# Examples without a chain, now that chains start only at the items that the prompt shows (the
# build writes attribute-only reasoning for them). The 8 without a loop have a single history
# item before the target time; every example still has a 3-hop bridge.
WITHOUT_A_CHAIN = {CHAIN_KINDS: 0, ("bridge",): 1, ("bridge3",): 0, ("loop",): 8}


@pytest.mark.parametrize("kinds", [CHAIN_KINDS, *[(kind,) for kind in CHAIN_KINDS]])
def test_ml100k_chains_are_training_edges_and_leak_nothing(ml100k, sampled, kinds):
    output, examples, graph = ml100k
    assert len(examples) == 2829
    result = sampled(kinds=kinds, weighting="uniform" if len(kinds) == 1 else "co_interaction")
    assert len(result) == len(examples)
    held_out = {
        (int(user), int(target))
        for split in (output.validation, output.test)
        for user, target in zip(split.user, split.target, strict=True)
    }
    # Checked in igraph, independently of the arrays the sampler reads.
    igraph = graph.igraph
    pairs, stamps = [], []
    for row, chains in enumerate(result):
        user, target = int(examples.user[row]), int(examples.target[row])
        time = int(examples.target_timestamp[row])
        history = examples.history(row)
        for chain in chains:
            assert chain.kind in kinds
            assert validate_chain(graph, chain, user, target, time, shown=history) == []
            assert chain.nodes[0] == ChainNode("user", user)
            # The chain walks from the user only to items that its prompt shows.
            assert chain.nodes[1].code in history
            if chain.kind == "loop":
                assert chain.nodes[-1] == ChainNode("user", user)
                assert chain.nodes[3].code in history
            else:
                assert chain.nodes[-1] == ChainNode("item", target)
            for edge in chain.edges:
                assert (edge.user, edge.item) not in held_out
                assert edge.user != user or edge.timestamp < time
                pairs.append((edge.user, graph.n_users + edge.item))
                stamps.append((edge.timestamp, edge.rating))
            # Not even through other users' edges does a chain reach the user's held-out targets.
            items = {node.code for node in chain.nodes if node.kind == "item"}
            assert not {(user, item) for item in items} & held_out
    found = igraph.get_eids(pairs, error=False)
    assert -1 not in found
    assert [(igraph.es[e]["timestamp"], igraph.es[e]["rating"]) for e in found] == stamps
    without = sum(not chains for chains in result)
    print(f"{kinds}: {without} of {len(examples)} examples without a chain")
    assert without == WITHOUT_A_CHAIN[kinds]


def test_ml100k_held_out_keeps_validation_and_test_targets_out_of_three_hop_bridges(
    ml100k, sampled
):
    output, examples, _ = ml100k
    held_out = {
        (int(user), int(target))
        for split in (output.validation, output.test)
        for user, target in zip(split.user, split.target, strict=True)
    }

    def through_held_out(chains_per_row):
        return sum(
            (int(examples.user[row]), node.code) in held_out
            for row, chains in enumerate(chains_per_row)
            for chain in chains
            for node in chain.nodes[1:-1]
            if node.kind == "item"
        )

    options = {"kinds": ("bridge3",), "weighting": "uniform"}
    assert through_held_out(sampled(held_out=None, **options)) > 0
    assert through_held_out(sampled(**options)) == 0


def test_ml100k_sampling_is_seeded_and_independent_of_row_order(ml100k, sampled):
    output, examples, graph = ml100k
    first = sampled(seed=0)
    assert sample_chains(graph, examples, held_out=output.seen_keys, progress=False) == first
    other = sampled(seed=1)
    assert sum(a != b for a, b in zip(first, other, strict=True)) > len(examples) // 2
    # An example's chains depend on nothing else: not on its row, nor on the other rows.
    rows = np.random.default_rng(7).permutation(len(examples))[:700]
    subset = examples.take(rows)
    alone = sample_chains(graph, subset, held_out=output.seen_keys, progress=False)
    assert alone == [first[r] for r in rows]


def test_ml100k_loop_share_mixes_a_loop_in_before_the_bridges(ml100k, sampled):
    output, examples, graph = ml100k
    plain, mixed = sampled(), sampled(loop_share=0.4)
    with_loop = [row for row, chains in enumerate(mixed) if chains and chains[0].kind == "loop"]
    # A seeded coin per example: about 40% (binomial sd ~0.9 points at 2,829 examples).
    assert 0.36 < len(with_loop) / len(examples) < 0.44
    for row, chains in enumerate(mixed):
        assert sum(chain.kind == "loop" for chain in chains) <= 1
        # The chains to the target are those the example gets without mixing.
        rest = chains[1:] if row in with_loop else chains
        assert rest == plain[row] or (not rest and plain[row][0].kind == "loop")
    # The coin depends on the example, not on the rows drawn with it.
    rows = np.random.default_rng(3).permutation(len(examples))[:500]
    alone = sample_chains(
        graph, examples.take(rows), held_out=output.seen_keys, loop_share=0.4, progress=False
    )
    assert alone == [mixed[r] for r in rows]
    with pytest.raises(UserError, match="loop share"):
        sample_chains(graph, examples, kinds=("bridge",), loop_share=0.4, progress=False)


def paired_z(a, b) -> float:
    difference = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return difference.mean() / (difference.std(ddof=1) / np.sqrt(len(difference)))


def test_ml100k_co_interaction_prefers_similar_users(ml100k, sampled):
    _, examples, graph = ml100k

    def overlap(result):
        """s(u1) of each example's bridge: how many of u0's shown items u1 has."""
        return [
            len(np.intersect1d(graph.items_of(chains[0].nodes[2].code), shown_items(examples, row)))
            for row, chains in enumerate(result)
            if chains  # rows without a bridge have none under either weighting
        ]

    uniform = overlap(sampled(kinds=("bridge",), weighting="uniform"))
    co = overlap(sampled(kinds=("bridge",), weighting="co_interaction"))
    # Under uniform draws u1 already comes in proportion to s(u1); co-interaction squares it.
    assert np.mean(co) > 1.1 * np.mean(uniform)
    assert paired_z(co, uniform) > 6


def test_ml100k_recency_prefers_the_users_last_items(ml100k, sampled):
    _, examples, _ = ml100k

    def age(result):
        """How many of u0's shown items come after the chain's h."""
        ages = []
        for row, chains in enumerate(result):
            if not chains:  # rows without a bridge have none under either weighting
                continue
            visible = shown_items(examples, row)
            ages.append(
                len(visible) - 1 - int(np.flatnonzero(visible == chains[0].nodes[1].code)[0])
            )
        return ages

    uniform = age(sampled(kinds=("bridge",), weighting="uniform"))
    recent = age(sampled(kinds=("bridge",), weighting="recency"))
    # Over at most 10 shown items: 1 / (1 + k) weights give a mean age of (10 - H10) / H10
    # ≈ 2.4 where all 10 carry bridges alike, against 4.5 under uniform draws.
    assert np.mean(recent) < 0.7 * np.mean(uniform)
    assert paired_z(recent, uniform) < -6
