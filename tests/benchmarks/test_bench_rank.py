"""Benchmark: `rank` with the prompt encoded once, against naive per-candidate scoring.

Same model, same users, same token ids: the first 16 test users of the real ml-100k-iot
build, their prompts rendered with the chat template (about 450 tokens with this tokenizer),
20 candidate titles each; a randomly initialised Llama (hidden 256, 4 layers, grouped-query
attention, ~5M parameters) and a BPE tokenizer trained on the build's own text. The naive way
runs one full forward pass of prompt + candidate per candidate; the packed way (what the `hf`
backend does) runs each prompt once with its 20 candidates packed after it under a 4D
attention mask. Goal: at least 5x faster with scores equal within 1e-4.

Run with ``pytest tests/benchmarks/test_bench_rank.py --benchmark-enable``. Without it (the
default test run) each side runs once on 1 user, as a check that the scores agree.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from r2rec_bench.llm.chat import encode, render_chat
from r2rec_bench.llm.scoring import score_continuations
from r2rec_bench.task.prompt import ANSWER_PREFIX, ANSWER_SUFFIX
from tests.support.tiny_lm import make_llama, naive_logprob, train_tokenizer

USERS = 16


def _rows(build, pattern: str) -> list[dict]:
    return pq.read_table(sorted(build.glob(pattern))[0]).to_pylist()


@pytest.fixture(scope="module")
def workload(ml100k_build):
    titles = [row["title"] for row in _rows(ml100k_build, "items/catalog-*.parquet")]
    training_prompts = [
        message["content"]
        for row in _rows(ml100k_build, "eval/validation-*.parquet")[:200]
        for message in row["prompt"]
    ]
    tokenizer = train_tokenizer(titles + training_prompts, vocab_size=4000)
    users = _rows(ml100k_build, "eval/test-*.parquet")[:USERS]
    prompts = [
        encode(tokenizer, render_chat(tokenizer, u["prompt"]) + ANSWER_PREFIX) for u in users
    ]
    candidates = [
        [encode(tokenizer, t + ANSWER_SUFFIX) for t in u["candidate_titles"]] for u in users
    ]
    # A narrow initialisation keeps the larger model's logits, and so the float32 sums,
    # in the range of a trained model's.
    model = make_llama(len(tokenizer), hidden=256, layers=4, heads=4, kv_heads=2, init_range=0.05)
    return model, prompts, candidates


def _users(benchmark) -> int:
    return 1 if benchmark.disabled else USERS


def _describe(benchmark, prompts, candidates) -> None:
    benchmark.group = "rank: 20 candidates per user"
    benchmark.extra_info["users"] = len(prompts)
    benchmark.extra_info["mean_prompt_tokens"] = sum(map(len, prompts)) / len(prompts)
    benchmark.extra_info["candidates"] = sum(map(len, candidates))


def test_rank_prompt_encoded_once(benchmark, workload):
    model, prompts, candidates = workload
    n = _users(benchmark)
    _describe(benchmark, prompts[:n], candidates[:n])
    scores = benchmark.pedantic(
        score_continuations,
        args=(model, prompts[:n], candidates[:n]),
        kwargs={"batch_size": "auto"},
        rounds=3,
        warmup_rounds=1,
    )
    assert [len(row) for row in scores] == [20] * n


def test_rank_naive_per_candidate(benchmark, workload):
    model, prompts, candidates = workload
    n = _users(benchmark)
    _describe(benchmark, prompts[:n], candidates[:n])

    def naive():
        return [
            [naive_logprob(model, prompt, ids) for ids in options]
            for prompt, options in zip(prompts[:n], candidates[:n], strict=True)
        ]

    scores = benchmark.pedantic(naive, rounds=1)  # minutes per round on a CPU
    cached = score_continuations(model, prompts[:n], candidates[:n])
    for naive_row, cached_row in zip(scores, cached, strict=True):
        assert [c.logprob for c in cached_row] == pytest.approx(naive_row, abs=1e-4)
