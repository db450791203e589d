"""Chain sampling on synthetic power-law logs of 1M and 10M interactions (issue 3).

Each size runs the protocol, takes every user's last training interaction as an example
(``training_targets(per_user=1)``) and samples one chain per example for a fixed subset of
20,000 of them, the same count at both sizes: the 10M log has 200,000 examples, and all of
them would take the benchmark well past a minute on two cores. Chains per second at 1M and
10M show how the per-example cost grows with the log.

The baseline is the plain-Python sampler below — dicts of lists and ``random`` — drawing the
same chains from the same distribution (uniform weighting: rejection over 2-paths, then
exhaustive search). It takes milliseconds per example at 10M, so it and the library run again
on the first 2,000 of the 20,000 rows, in the same run, for the ratio. The library's default
weighting (co-interaction) is timed beside them. Rates in ``extra_info`` are per CPU second.
Generating the log, the protocol and building either graph (the library's, with its cached
cumulative 2-path counts, and the plain dicts) are never timed; every chain is checked against
the graph after timing.
"""

from __future__ import annotations

import gc
import random
import time
from collections import Counter, defaultdict

import numpy as np
import pytest

from r2rec_bench.chains.sampler import sample_chains
from r2rec_bench.chains.types import Chain, ChainEdge, ChainNode
from r2rec_bench.chains.validate import validate_chain
from r2rec_bench.graph import TrainGraph
from r2rec_bench.protocol import EvalSplit, ProtocolParams, run_protocol, training_targets
from r2rec_bench.protocol.types import TrainLog
from tests.benchmarks.synthetic import LARGE, SMALL, synthetic_log

EXAMPLES = 20_000
BASELINE_EXAMPLES = 2_000
PROPOSALS = 288  # the library's fast rounds (32 + 256 2-paths) before it enumerates


class PlainSampler:
    """Uniform chains with Python containers, in the library's preference order."""

    def __init__(self, train: TrainLog, seed: int = 0) -> None:
        self.seed = seed
        # train is sorted by (user, time, item): each user's items come in time order.
        users, items = train.user.tolist(), train.item.tolist()
        edges = zip(train.timestamp.tolist(), train.rating.tolist(), strict=True)
        self.items: dict[int, list[int]] = defaultdict(list)
        self.users: dict[int, list[int]] = defaultdict(list)
        self.edges: dict[int, dict[int, tuple[int, float]]] = defaultdict(dict)
        for user, item, edge in zip(users, items, edges, strict=True):
            self.items[user].append(item)
            self.users[item].append(user)
            self.edges[user][item] = edge

    def sample(self, user: int, target: int, target_time: int, shown: int) -> tuple[Chain, ...]:
        """``shown``: how many of the history items lie before the target time; chains start
        at the user's last ``shown`` items before it, those that the prompt shows."""
        rng = random.Random(f"{self.seed}:{user}:{target}")
        mine = self.edges[user]
        visible = [item for item in self.items[user] if mine[item][0] < target_time]
        visible = visible[len(visible) - shown :]
        others = [other for other in self.users[target] if other != user]
        for find in (self.bridge, self.bridge3, self.loop):
            path = find(rng, user, target, visible, others)
            if path:
                return (self.chain(find.__name__, path),)
        return ()

    def bridge(self, rng, user, target, visible, others):
        if not visible or not others:
            return None
        seen = set(visible)
        via_target = [len(self.items[other]) for other in others]
        via_user = [len(self.users[item]) for item in visible]
        # A uniform 2-path from the smaller side, kept when it closes into a bridge.
        if sum(via_target) <= sum(via_user):
            for other in rng.choices(others, weights=via_target, k=PROPOSALS):
                item = rng.choice(self.items[other])
                if item in seen:
                    return (user, item, other, target)
            found = [(u, i) for u in others for i in self.items[u] if i in seen]
        else:
            for item in rng.choices(visible, weights=via_user, k=PROPOSALS):
                other = rng.choice(self.users[item])
                if other != user and target in self.edges[other]:
                    return (user, item, other, target)
            found = [(u, i) for i in visible for u in self.users[i] if u != user]
            found = [(u, i) for u, i in found if target in self.edges[u]]
        if not found:
            return None
        other, item = rng.choice(found)
        return (user, item, other, target)

    def bridge3(self, rng, user, target, visible, others):
        own = set(self.edges[user]) | {target}
        seconds = defaultdict(list)
        for other in others:
            for middle in self.items[other]:
                if middle not in own:
                    seconds[middle].append(other)
        paths = [
            (item, first, middle, second)
            for item in visible
            for first in self.users[item]
            if first != user
            for middle in self.items[first]
            for second in seconds.get(middle, ())
            if second != first
        ]
        if not paths:
            return None
        item, first, middle, second = rng.choice(paths)
        return (user, item, first, middle, second, target)

    def loop(self, rng, user, target, visible, others):
        shared = defaultdict(list)
        for item in visible:
            for other in self.users[item]:
                if other != user:
                    shared[other].append(item)
        similar = [other for other, items in shared.items() if len(items) >= 2]
        if not similar:
            return None
        weights = [len(shared[o]) * (len(shared[o]) - 1) for o in similar]
        (other,) = rng.choices(similar, weights=weights)
        first, second = rng.sample(shared[other], 2)
        return (user, first, other, second, user)

    def chain(self, kind: str, path: tuple[int, ...]) -> Chain:
        nodes = tuple(ChainNode("item" if k % 2 else "user", code) for k, code in enumerate(path))
        edges = []
        for k in range(len(path) - 1):
            user, item = (path[k], path[k + 1]) if k % 2 == 0 else (path[k + 1], path[k])
            edges.append(ChainEdge(user, item, *self.edges[user][item]))
        return Chain(kind, nodes, tuple(edges))


def rows_of(examples: EvalSplit, rows: np.ndarray) -> EvalSplit:
    return examples.take(rows)  # histories too: chains start at the items that they show


@pytest.fixture(
    scope="module",
    # 10M: minutes of protocol and graph building before anything is timed; it runs only
    # when benchmarking (tests/conftest.py).
    params=[SMALL, pytest.param(LARGE, marks=pytest.mark.full_scale)],
    ids=lambda shape: shape.label,
)
def workload(request):
    output = run_protocol(synthetic_log(request.param), ProtocolParams())
    examples = training_targets(output, per_user=1)
    rows = np.random.default_rng(0).permutation(len(examples))[:EXAMPLES]
    graph = TrainGraph.from_train(output.train, len(output.user_id), len(output.catalog))
    # Graph structures are built here, outside the timing: the library's cumulative 2-path
    # counts (cached on the graph) and the baseline's dicts.
    assert graph.paths_via_item_entries[-1] == (graph.user_degree() ** 2).sum()
    assert graph.paths_via_user_entries[-1] == (graph.item_degree() ** 2).sum()
    return request.param, PlainSampler(output.train), graph, rows_of(examples, np.sort(rows))


def check(graph, examples, result) -> Counter:
    kinds = Counter()
    for row, chains in enumerate(result):
        example = (int(examples.user[row]), int(examples.target[row]))
        for chain in chains:
            time, shown = int(examples.target_timestamp[row]), examples.history(row)
            problems = validate_chain(graph, chain, *example, time, shown=shown)
            assert problems == [], (row, chain, problems)
            kinds[chain.kind] += 1
        kinds["none"] += not chains
    return kinds


def plain_chains(plain: PlainSampler, examples: EvalSplit) -> list[tuple[Chain, ...]]:
    sizes = np.diff(examples.history_offsets)
    before = examples.history_timestamps < np.repeat(examples.target_timestamp, sizes)
    shown = np.bincount(np.repeat(np.arange(len(sizes)), sizes), before, len(sizes)).astype(int)
    columns = (examples.user, examples.target, examples.target_timestamp, shown)
    return [plain.sample(*row) for row in zip(*(c.tolist() for c in columns), strict=True)]


def timed(function, *args, **options):
    """The result and the CPU seconds it took: both samplers run on one core, and CPU time
    stays put when other work shares the machine. The garbage collector is off, as in timeit:
    at 10M a collection would walk the baseline's tens of millions of objects, whoever runs."""
    gc.disable()
    try:
        start = time.process_time()
        result = function(*args, **options)
        return result, time.process_time() - start
    finally:
        gc.enable()


@pytest.mark.benchmark(group="chain sampling (synthetic, 20,000 examples)")
def test_chain_sampling(benchmark, workload):
    shape, plain, graph, examples = workload
    seconds = {}

    def sample(weighting):
        result, seconds[weighting] = timed(
            sample_chains, graph, examples, weighting=weighting, progress=False
        )
        return result

    uniform = benchmark.pedantic(sample, args=("uniform",), rounds=1, iterations=1)
    co_interaction = sample("co_interaction")
    kinds = check(graph, examples, uniform)
    assert check(graph, examples, co_interaction)["none"] == kinds["none"]

    # The baseline takes milliseconds per example at 10M: it and the library, again, on the
    # first BASELINE_EXAMPLES rows only, for the ratio.
    few = rows_of(examples, np.arange(BASELINE_EXAMPLES))
    ours, seconds["ours on the same rows"] = timed(
        sample_chains, graph, few, weighting="uniform", progress=False
    )
    baseline, seconds["plain"] = timed(plain_chains, plain, few)
    assert check(graph, few, baseline)["none"] == check(graph, few, ours)["none"]

    def rate(result, name):
        return sum(map(len, result)) / seconds[name]

    benchmark.extra_info.update(
        interactions=shape.interactions,
        examples=len(examples),
        kinds=dict(kinds),
        chains_per_second=round(rate(uniform, "uniform")),
        co_interaction_chains_per_second=round(rate(co_interaction, "co_interaction")),
        microseconds_per_example=round(1e6 * seconds["uniform"] / len(examples)),
        plain_python_chains_per_second=round(rate(baseline, "plain")),
        speedup_vs_plain_python=round(
            rate(ours, "ours on the same rows") / rate(baseline, "plain"), 1
        ),
    )
    print(f"\n{shape.label}: {benchmark.extra_info}")
