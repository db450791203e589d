"""Data the teacher tests share: ml-100k's last training target of every user (943 examples),
with hand-walked chains of every shape and with the project's chain sampler."""

from __future__ import annotations

import pytest

from r2rec_bench.chains.sampler import sample_chains
from tests.support.teacher_driver import load_examples


@pytest.fixture(scope="session")
def ml100k_examples(ml100k_raw):
    """(output, graph, examples, hand_chains) over all 943 examples."""
    return load_examples(ml100k_raw)


@pytest.fixture(scope="session")
def sampled_chains(ml100k_examples):
    """Two sampled chains per example where they exist, as a build would draw them."""
    output, graph, examples, _ = ml100k_examples
    return sample_chains(graph, examples, per_example=2, held_out=output.seen_keys, progress=False)
