"""Benchmark: `rank` on the real SmolLM2-135M-Instruct, prompt encoded once against the fair
naive baseline.

The first 4 ml-100k-iot test users (prompts of about 570 tokens with SmolLM2's chat
template), 20 candidate titles each, float32 on the CPU. Packed (what the `hf` backend does):
one forward pass per batch of users, each row the prompt followed by its 20 candidates under a
4D attention mask. Naive, batched: per user, the 20 sequences prompt + candidate padded into
one batch and run in one forward pass (the strongest naive baseline: a loop of single
sequences wastes the CPU on thread overhead). Goal: at least 5x faster at equal scores
(within 1e-4).

Run with ``pytest tests/benchmarks/test_bench_rank_real.py --benchmark-enable``; skipped in
the default test run (tests/models/test_real_model.py checks the scores there).
"""

from __future__ import annotations

import pytest

from r2rec_bench.llm.chat import encode, render_chat
from r2rec_bench.llm.loading import load_causal_lm
from r2rec_bench.llm.scoring import score_continuations
from r2rec_bench.task.dataset import open_dataset
from r2rec_bench.task.prompt import ANSWER_PREFIX, ANSWER_SUFFIX

USERS = 4
FP32_NOISE = 3e-4  # see tests/models/test_real_model.py


@pytest.fixture(scope="module")
def workload(smollm2_checkpoint, ml100k_build):
    model, tokenizer = load_causal_lm(str(smollm2_checkpoint), dtype="float32")
    examples = open_dataset(ml100k_build).split("test").examples(range(USERS))
    prompts = [
        encode(tokenizer, render_chat(tokenizer, e.request.prompt) + ANSWER_PREFIX)
        for e in examples
    ]
    candidates = [
        [encode(tokenizer, title + ANSWER_SUFFIX) for title in e.request.candidate_titles]
        for e in examples
    ]
    return model, prompts, candidates


def naive_batched(model, prompts, candidates) -> list[list[float]]:
    """Per user: every prompt + candidate sequence, right-padded into one batch."""
    import torch

    scores = []
    for prompt, options in zip(prompts, candidates, strict=True):
        width = len(prompt) + max(map(len, options))
        ids = torch.zeros(len(options), width, dtype=torch.long)
        mask = torch.zeros(len(options), width, dtype=torch.long)
        for row, option in enumerate(options):
            ids[row, : len(prompt) + len(option)] = torch.tensor(prompt + option)
            mask[row, : len(prompt) + len(option)] = 1
        with torch.inference_mode():
            logprobs = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits, -1)
        row_scores = []
        for row, option in enumerate(options):
            positions = torch.arange(len(prompt) - 1, len(prompt) + len(option) - 1)
            row_scores.append(float(logprobs[row, positions, torch.tensor(option)].sum()))
        scores.append(row_scores)
    return scores


def _skip_unless_enabled(benchmark) -> None:
    if benchmark.disabled:
        pytest.skip("real-model benchmark: run with --benchmark-enable")
    benchmark.group = "rank on SmolLM2-135M-Instruct: 20 candidates per user"


def test_rank_real_model_packed(benchmark, workload):
    _skip_unless_enabled(benchmark)
    model, prompts, candidates = workload
    packed = benchmark.pedantic(
        score_continuations, args=(model, prompts, candidates), kwargs={"batch_size": 4},
        rounds=3, warmup_rounds=1,
    )  # fmt: skip
    naive = naive_batched(model, prompts, candidates)
    for packed_row, naive_row in zip(packed, naive, strict=True):
        assert [s.logprob for s in packed_row] == pytest.approx(naive_row, abs=FP32_NOISE)


def test_rank_real_model_naive_batched(benchmark, workload):
    _skip_unless_enabled(benchmark)
    model, prompts, candidates = workload
    benchmark.pedantic(naive_batched, args=(model, prompts, candidates), rounds=1)
