"""The stages of an IoT build on an ML-1M-sized log: protocol, graph, chains, template traces.

A seeded synthetic log of MovieLens-1M's size (1,000,209 ratings, 6,040 users, 3,706 items;
tests/benchmarks/synthetic.py) goes through the ml-1m-iot builder's stages one by one, each
timed in wall-clock seconds (the traces are planned in one process per CPU) and in this
process's CPU seconds. The protocol is the yardstick: issue 17's goal is that no stage costs
more than 3× the protocol (template traces ≤ 2 s).

Run with ``pytest tests/benchmarks/test_bench_build_stages.py --benchmark-enable -s``.
Without it (the default test run) a log of 100,000 ratings runs once as a check.
"""

from __future__ import annotations

import time

import pytest

from r2rec_bench.builders import load_builder
from r2rec_bench.chains.sampler import sample_chains
from r2rec_bench.graph import TrainGraph
from r2rec_bench.protocol import run_protocol, training_targets
from r2rec_bench.teacher import build_traces, make_teacher
from tests.benchmarks.synthetic import Shape, synthetic_log

ML1M = Shape(1_000_209, 6_040, 3_706)
CHECK = Shape(100_000, 943, 1_682)


def timed(seconds: dict, cpu: dict, stage: str, function, *args, **options):
    wall, began = time.perf_counter(), time.process_time()
    result = function(*args, **options)
    seconds[stage], cpu[stage] = time.perf_counter() - wall, time.process_time() - began
    return result


@pytest.mark.benchmark(group="build stages (ML-1M-sized)")
def test_bench_build_stages(benchmark, request):
    shape = ML1M if request.config.getoption("benchmark_enable") else CHECK
    spec = load_builder("ml-1m-iot")
    log = synthetic_log(shape)
    seconds, cpu = {}, {}
    output = timed(seconds, cpu, "protocol", run_protocol, log, spec.protocol)
    examples = training_targets(output, spec.iot.targets_per_user)
    graph = timed(
        seconds, cpu, "graph",
        TrainGraph.from_train, output.train, len(output.user_id), len(output.catalog),
    )  # fmt: skip
    iot = spec.iot
    chains = timed(
        seconds, cpu, "chains",
        sample_chains, graph, examples, kinds=iot.chain_kinds, per_example=iot.chains_per_example,
        weighting=iot.weighting, seed=spec.protocol.seed, held_out=output.seen_keys,
    )  # fmt: skip

    def traces():
        teacher = make_teacher("template")
        return timed(
            seconds, cpu, "template traces",
            build_traces, teacher, output, graph, examples, chains, spec.prompt,
        )  # fmt: skip

    found = benchmark.pedantic(traces, rounds=1, iterations=1)
    assert len(found) == len(examples)
    assert all(trace.thoughts for trace in found)
    ratios = {stage: value / seconds["protocol"] for stage, value in seconds.items()}
    benchmark.extra_info.update(
        interactions=shape.interactions, wall_seconds=seconds, cpu_seconds=cpu
    )
    stages = ", ".join(
        f"{stage} {seconds[stage]:.2f} s ({ratios[stage]:.1f}×; CPU here {cpu[stage]:.2f} s)"
        for stage in seconds
    )
    print(f"\n{shape.interactions:,} ratings, {len(examples):,} examples: {stages}")
