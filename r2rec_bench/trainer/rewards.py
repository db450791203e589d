"""GRPO rewards, scored by the harness's own parser and metrics (DESIGN §10).

Every reward has TRL's signature ``f(completions, **columns) -> list[float]``: ``completions``
are the sampled outputs (chat messages for a conversational prompt, else strings) and the
columns are the `rl` rows' (``candidate_titles``, ``target_index``, ``history_titles``, ...).
An answer is scored exactly as ``r2rec-bench evaluate`` scores it, by the benchmark's one
scoring path (:func:`r2rec_bench.task.scoring.score_text`), and turned into a reward with the
functions its metrics come from, so a reward can never disagree with the number the
checkpoint is later judged by.

- ``answer_hit``: HR@1 of the answer: 1 when the (first) answer is the target.
- ``answer_validity``: ValidRatio: 1 when the answer resolves to candidates (one title, or a
  ranking without repeats).
- ``rank_ndcg``: NDCG over all candidates of a ranked answer: 1/log2(rank+1) for the target's
  rank; a single correct title gets 1, a ranking with the target third 0.5.
- ``answer_format``: the response format of DESIGN §6: 0.5 for a closed, non-empty
  ``<think>`` block and 0.5 for exactly one ``<answer>`` block; the parser's problem codes say
  which part failed.
- ``grounding``: the share of item mentions in the output that are history or candidate titles
  in their role (:func:`r2rec_bench.faithfulness.grounding_score`); 0 when no item is mentioned.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from r2rec_bench.faithfulness import grounding_score
from r2rec_bench.task.metrics import hit_ratio, ndcg
from r2rec_bench.task.parser import (
    MISSING_ANSWER_OPEN_TAG,
    MULTIPLE_ANSWER_BLOCKS,
    NO_ANSWER_TAG,
    UNCLOSED_ANSWER_TAG,
)
from r2rec_bench.task.scoring import Scored, score_text

# Problems that mean the output did not hold exactly one well-formed answer block.
_ANSWER_BLOCK_PROBLEMS = (
    MULTIPLE_ANSWER_BLOCKS,
    UNCLOSED_ANSWER_TAG,
    MISSING_ANSWER_OPEN_TAG,
    NO_ANSWER_TAG,
)
_CLOSED_THINK = re.compile(r"<\s*/\s*think\s*>", re.IGNORECASE)


def completion_text(completion) -> str:
    """The generated text of a completion: a string, or the content of its chat messages."""
    if isinstance(completion, str):
        return completion
    return "".join(str(message.get("content") or "") for message in completion)


def _scored(completions, candidate_titles, target_index) -> list[Scored]:
    rows = zip(completions, candidate_titles, target_index, strict=True)
    return [score_text(completion_text(c), list(titles), int(t)) for c, titles, t in rows]


def answer_hit(completions, candidate_titles, target_index, **_) -> list[float]:
    ranks = [s.target_rank for s in _scored(completions, candidate_titles, target_index)]
    return hit_ratio(ranks, 1).tolist()


def answer_validity(completions, candidate_titles, target_index, **_) -> list[float]:
    return [float(s.valid) for s in _scored(completions, candidate_titles, target_index)]


def rank_ndcg(completions, candidate_titles, target_index, **_) -> list[float]:
    ranks = [s.target_rank for s in _scored(completions, candidate_titles, target_index)]
    cutoff = max(len(titles) for titles in candidate_titles)
    return ndcg(ranks, cutoff).tolist()


def answer_format(completions, candidate_titles, target_index, **_) -> list[float]:
    scores = []
    for scored in _scored(completions, candidate_titles, target_index):
        answer = scored.parsed
        thought = bool(answer.reasoning.strip()) and _CLOSED_THINK.search(scored.output)
        one_answer = not any(
            problem.startswith(_ANSWER_BLOCK_PROBLEMS) for problem in answer.problems
        )
        scores.append(0.5 * bool(thought) + 0.5 * one_answer)
    return scores


def grounding(completions, history_titles, candidate_titles, **_) -> list[float]:
    scores = []
    for completion, history, candidates in zip(
        completions, history_titles, candidate_titles, strict=True
    ):
        score = grounding_score(completion_text(completion), list(history), list(candidates))
        scores.append(0.0 if score is None else float(score))
    return scores


# The registry a recipe's `rewards:` names; TRL logs each as rewards/<name>/mean.
REWARDS: dict[str, Callable[..., list[float]]] = {
    reward.__name__: reward
    for reward in (answer_hit, answer_validity, rank_ndcg, answer_format, grounding)
}
