"""Batched chat generation with a local transformers model: greedy, or sampled and seeded."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import contextmanager

from r2rec_bench.llm.batching import BatchSizer, as_sizer
from r2rec_bench.llm.chat import encode, render_chat
from r2rec_bench.task.prompt import ANSWER_CLOSE
from r2rec_bench.task.records import Generation

# transformers' own default top_k is 50, which would silently truncate sampling; top_k 0
# turns it off unless the run asks for a top_k.
_NO_TOP_K = {"top_k": 0}


def _eos_ids(model, tokenizer) -> set[int]:
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def _completion_end(tokens: list[int], eos: set[int], pad: int | None) -> int:
    """How many generated tokens are the completion: up to and including the first
    end-of-sequence token; a row that stopped (at ``</answer>``) while others ran on is
    padded from there, and the padding is not part of it."""
    for position, token in enumerate(tokens):
        if token in eos:
            return position + 1
        if token == pad:
            return position
    return len(tokens)


def generate_chat(
    model,
    tokenizer,
    messages_batch: Sequence[Sequence[dict]],
    *,
    max_new_tokens: int,
    batch_size: int | str | BatchSizer = "auto",
    prefixes: Sequence[str] | None = None,
    sampling: dict | None = None,
    seed: int = 0,
) -> list[Generation]:
    """Answers to chat prompts, with the prompt and completion token counts.

    ``prefixes`` (one per prompt, may be empty) begin the assistant's turn: the model
    continues them, and the answer is the continuation alone.

    Decoding is plain greedy search for every model unless ``sampling`` (temperature, top_p,
    top_k) asks for sampling: the sampling settings and penalties of a model's own
    ``generation_config`` are never applied, so that models are compared under the decoding
    the run records; only its end-of-sequence ids are kept. Sampling is seeded per batch
    from ``seed`` and the batch's prompts, so the same command gives the same answers
    again, a resume included (with the same batch size).

    Prompts are rendered with :func:`render_chat` and run longest first (batches then hold
    prompts of similar length, so less padding; and an out-of-memory error shows up on the
    first batch); answers come back in input order. Generation stops at the end-of-sequence
    token or right after ``</answer>``; a completion's tokens run up to and including that
    token; its text excludes special tokens.
    """
    from transformers import GenerationConfig

    sizer = as_sizer(batch_size, model.device)
    prefixes = prefixes or [""] * len(messages_batch)
    prompts = [
        encode(tokenizer, render_chat(tokenizer, m) + prefix)
        for m, prefix in zip(messages_batch, prefixes, strict=True)
    ]
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    eos = _eos_ids(model, tokenizer)
    sampling = dict(sampling or {})
    config = GenerationConfig(
        **({**_NO_TOP_K, **sampling} if sampling else {}),
        do_sample=bool(sampling),
        num_beams=1,
        max_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=sorted(eos) or None,
        # Nothing after a closed answer is read: stop there instead of paying for it.
        stop_strings=[ANSWER_CLOSE],
    )

    def run(indices: Sequence[int]) -> list[Generation]:
        import torch

        batch = tokenizer.pad(
            {"input_ids": [prompts[i] for i in indices]},
            padding=True,
            padding_side="left",
            return_tensors="pt",
        ).to(model.device)
        if sampling:
            torch.manual_seed(_batch_seed(seed, [prompts[i] for i in indices]))
        with torch.inference_mode():
            out = model.generate(**batch, generation_config=config, tokenizer=tokenizer)
        new = out[:, batch["input_ids"].shape[1] :].tolist()
        answers = []
        for i, tokens in zip(indices, new, strict=True):
            end = _completion_end(tokens, eos, tokenizer.pad_token_id)
            text = tokenizer.decode(tokens[:end], skip_special_tokens=True)
            answers.append(Generation(text, len(prompts[i]), end))
        return answers

    with _without_checkpoint_defaults(model):
        by_input = dict(zip(order, sizer.run(order, run), strict=True))
    return [by_input[i] for i in range(len(prompts))]


@contextmanager
def _without_checkpoint_defaults(model):
    """transformers fills every setting a GenerationConfig leaves unset from the model's own
    ``generation_config`` (e.g. Qwen2.5's repetition_penalty 1.05, which changes even greedy
    search): for the call, the model's is an empty one, so only transformers' fixed defaults
    and the run's recorded settings apply."""
    from transformers import GenerationConfig

    own = model.generation_config
    model.generation_config = GenerationConfig()
    try:
        yield
    finally:
        model.generation_config = own


def _batch_seed(seed: int, prompts: list[list[int]]) -> int:
    """A seed for one batch that depends on nothing but the run's seed and the batch's
    prompts (not on how many batches ran before it)."""
    digest = hashlib.blake2b(repr((seed, prompts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1
