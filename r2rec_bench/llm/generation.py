"""Batched greedy chat generation with a local transformers model."""

from __future__ import annotations

from collections.abc import Sequence

from r2rec_bench.llm.batching import BatchSizer, as_sizer
from r2rec_bench.llm.chat import encode, render_chat
from r2rec_bench.task.prompt import ANSWER_CLOSE
from r2rec_bench.task.records import Generation


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
) -> list[Generation]:
    """Greedy answers to chat prompts, with the prompt and completion token counts.

    ``prefixes`` (one per prompt, may be empty) begin the assistant's turn: the model
    continues them, and the answer is the continuation alone.

    Decoding is plain greedy search for every model: the sampling settings and penalties of
    a model's own ``generation_config`` are not applied, so that models are compared under
    the same decoding; only its end-of-sequence ids are kept.

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
    config = GenerationConfig(
        do_sample=False,
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
        with torch.inference_mode():
            out = model.generate(**batch, generation_config=config, tokenizer=tokenizer)
        new = out[:, batch["input_ids"].shape[1] :].tolist()
        answers = []
        for i, tokens in zip(indices, new, strict=True):
            end = _completion_end(tokens, eos, tokenizer.pad_token_id)
            text = tokenizer.decode(tokens[:end], skip_special_tokens=True)
            answers.append(Generation(text, len(prompts[i]), end))
        return answers

    by_input = dict(zip(order, sizer.run(order, run), strict=True))
    return [by_input[i] for i in range(len(prompts))]
