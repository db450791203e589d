"""The protocol on synthetic power-law logs of 1M and 10M interactions, and the writer at 1M.

Time per million interactions at both sizes shows whether the protocol grows linearly; the
issue asks for the 1M case under 30 s on 2 cores. Generating a log is never timed.
"""

from __future__ import annotations

import numpy as np
import pytest
from tqdm.auto import tqdm

from r2rec_bench.protocol import ProtocolOutput, ProtocolParams, run_protocol
from r2rec_bench.render.dataset import write_dataset
from tests.benchmarks.synthetic import LARGE, SMALL, synthetic_log, synthetic_spec

# 1M repeats for a stable mean; 10M takes a minute or more per round on 2 cores, so two.
ROUNDS = {SMALL: 5, LARGE: 2}


@pytest.fixture(
    scope="module",
    # 10M is the one case that takes minutes: it runs only when benchmarking (tests/conftest.py).
    params=[SMALL, pytest.param(LARGE, marks=pytest.mark.full_scale)],
    ids=lambda shape: shape.label,
)
def log(request):
    """One log per size; pytest finishes the 1M tests and drops that log before making the
    10M one, so that at most one large log is in memory at a time."""
    return request.param, synthetic_log(request.param)


def check_output(output: ProtocolOutput, interactions: int) -> None:
    """The protocol kept a sensible share of the log and every split is complete."""
    users = len(output.user_id)
    assert len(output.test) == len(output.validation) == users
    assert len(output.train) + 2 * users == output.steps[-1].interactions
    assert output.steps[-1].interactions > 0.9 * interactions
    assert output.test.candidates.shape == (users, output.params.num_candidates)
    targets = output.test.candidates[np.arange(users), output.test.target_index]
    assert np.array_equal(targets, output.test.target)


@pytest.mark.benchmark(group="protocol (synthetic)")
def test_protocol(benchmark, log):
    shape, raw = log
    benchmark.extra_info["interactions"] = shape.interactions
    output = benchmark.pedantic(
        run_protocol, args=(raw, ProtocolParams()), rounds=ROUNDS[shape], iterations=1
    )
    check_output(output, shape.interactions)


@pytest.mark.benchmark(group="write (synthetic)")
@pytest.mark.parametrize("log", [SMALL], ids=lambda shape: shape.label, indirect=True)
def test_write_dataset(benchmark, log, tmp_path):
    shape, raw = log
    output = run_protocol(raw, ProtocolParams())
    spec = synthetic_spec(shape)
    meta = {"format": raw.source, "files": raw.files, "notes": raw.notes}
    root = tmp_path / spec.name
    root.mkdir()

    def write():
        # The builder's own writer: four Parquet configs, the card and the manifest.
        with tqdm(disable=True) as progress:
            return write_dataset(root, spec, output, meta, progress)

    # The warm-up round pays the one-off import of the card library, not the writing.
    manifest = benchmark.pedantic(write, rounds=ROUNDS[shape], iterations=1, warmup_rounds=1)
    rows = {(c["config"], c["split"]): c["rows"] for c in manifest["configs"]}
    assert rows["eval", "test"] == rows["eval", "validation"] == len(output.test)
    assert rows["interactions", "train"] == len(output.train)
    assert rows["items", "catalog"] == len(output.catalog)
