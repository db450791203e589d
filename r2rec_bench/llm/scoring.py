"""Log-likelihood of continuations after a prompt, the prompt encoded once for all of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from r2rec_bench.llm.batching import BatchSizer, as_sizer


@dataclass(frozen=True)
class ContinuationScore:
    """Log-likelihood of a continuation given its prompt: ``logprob`` is the sum over its
    ``tokens`` tokens; ``mean`` is the length-normalised (per-token) value."""

    logprob: float
    tokens: int

    @property
    def mean(self) -> float:
        return self.logprob / self.tokens if self.tokens else 0.0


def score_continuations(
    model,
    prompts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[Sequence[int]]],
    *,
    batch_size: int | str | BatchSizer = "auto",
) -> list[list[ContinuationScore]]:
    """Log-likelihood of every continuation after its prompt, the prompt encoded once.

    ``prompts[u]`` are token ids; ``continuations[u]`` the token ids of each continuation of
    prompt ``u`` (non-empty). Each row of a batch holds a prompt followed by all of its
    continuations packed one after another, with a 4D attention mask under which every
    continuation sees the prompt and its own earlier tokens only, and position ids that
    restart after the prompt for each continuation: one forward pass scores them all, with
    the prompt's keys and values computed once and never copied (copying a cache once per
    candidate cost more than the model itself on CPU). The result equals running ``prompt +
    continuation`` through the model for each continuation (the naive way). ``batch_size``
    counts prompts per pass (each brings all its continuations).

    Ids are taken as given: callers that tokenize prompt and continuation separately get the
    log-likelihood of exactly those ids, which may differ from tokenizing the joined text
    where a tokenizer would merge characters across the boundary.
    """
    if len(prompts) != len(continuations):
        raise ValueError("one list of continuations per prompt")
    for user, options in enumerate(continuations):
        if not prompts[user] or any(not ids for ids in options):
            raise ValueError(f"prompt {user}: empty prompt or continuation")
    sizer = as_sizer(batch_size, model.device)
    users = list(range(len(prompts)))
    return sizer.run(users, lambda batch: _score_batch(model, prompts, continuations, batch))


def _score_batch(
    model, prompts, continuations, users: Sequence[int]
) -> list[list[ContinuationScore]]:
    import torch

    device = model.device
    width = max(len(prompts[u]) for u in users)
    packed = [[token for ids in continuations[u] for token in ids] for u in users]
    length = max(len(row) for row in packed)
    total = width + length
    ids = torch.zeros(len(users), total, dtype=torch.long)
    # keep[b, q, k]: query position q of row b may attend to key position k.
    keep = torch.zeros(len(users), total, total, dtype=torch.bool)
    positions = torch.zeros(len(users), total, dtype=torch.long)
    causal = torch.ones(total, total, dtype=torch.bool).tril()
    for row, u in enumerate(users):
        start = width - len(prompts[u])  # left padding: every prompt ends at column width - 1
        ids[row, start:width] = torch.tensor(prompts[u])
        keep[row, start:width, start:width] = causal[: len(prompts[u]), : len(prompts[u])]
        positions[row, start:width] = torch.arange(len(prompts[u]))
        cursor = width
        for option in continuations[u]:
            end = cursor + len(option)
            ids[row, cursor:end] = torch.tensor(option)
            # A continuation sees the whole prompt and its own earlier tokens, never another
            # continuation: the same attention as ``prompt + continuation`` run alone.
            keep[row, cursor:end, start:width] = True
            keep[row, cursor:end, cursor:end] = causal[: len(option), : len(option)]
            positions[row, cursor:end] = len(prompts[u]) + torch.arange(len(option))
            cursor = end
    # Padding positions attend to themselves only, so no softmax row is empty.
    diagonal = torch.arange(total)
    keep[:, diagonal, diagonal] |= ~keep.any(dim=-1)
    mask = torch.zeros(keep.shape, dtype=model.dtype)
    mask.masked_fill_(~keep, torch.finfo(model.dtype).min)

    with torch.inference_mode():
        logits = model(
            input_ids=ids.to(device),
            attention_mask=mask[:, None].to(device),
            position_ids=positions.to(device),
            use_cache=False,
            # The last prompt position and every continuation position but the last predict
            # a continuation token: only those logits are computed.
            logits_to_keep=length + 1,
        ).logits[:, :-1]
        predicted = torch.zeros(len(users), length, dtype=torch.long)
        predictor = torch.zeros(len(users), length, dtype=torch.long)
        scored = torch.zeros(len(users), length, dtype=torch.bool)
        spans = []
        for row, u in enumerate(users):
            cursor = 0
            for option in continuations[u]:
                end = cursor + len(option)
                predicted[row, cursor:end] = torch.tensor(option)
                # Token k of a continuation is predicted at its own position k - 1, and its
                # first token at the prompt's last position (column 0 of the kept logits).
                predictor[row, cursor] = 0
                predictor[row, cursor + 1 : end] = torch.arange(cursor + 1, end)
                scored[row, cursor:end] = True
                spans.append((row, cursor, end))
                cursor = end
        # log p(token) = its logit - logsumexp of its position's logits, read by index: no
        # copy of the (rows x positions x vocabulary) logits is ever made.
        rows = torch.arange(len(users), device=device)[:, None]
        predictor, predicted = predictor.to(device), predicted.to(device)
        normaliser = _logsumexp(logits).gather(1, predictor)
        token_logprobs = (logits[rows, predictor, predicted].float() - normaliser).cpu()
    token_logprobs = token_logprobs.masked_fill(~scored, 0.0)
    scores: list[list[ContinuationScore]] = [[] for _ in users]
    for row, start, end in spans:
        total_logprob = float(token_logprobs[row, start:end].sum())
        scores[row].append(ContinuationScore(total_logprob, end - start))
    return scores


def _logsumexp(logits, positions_per_chunk: int = 64):
    """logsumexp over the vocabulary at every (row, position), in float32, a few positions at
    a time: a float32 copy of all the logits can exceed the model's own size."""
    import torch

    out = torch.empty(logits.shape[:2], dtype=torch.float32, device=logits.device)
    for start in range(0, logits.shape[1], positions_per_chunk):
        chunk = logits[:, start : start + positions_per_chunk].float()
        out[:, start : start + positions_per_chunk] = torch.logsumexp(chunk, dim=-1)
    return out
