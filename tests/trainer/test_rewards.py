"""Each GRPO reward on hand-written completions, in TRL's calling convention."""

from __future__ import annotations

import math

import pytest

from r2rec_bench.trainer.rewards import (
    REWARDS,
    answer_format,
    answer_hit,
    answer_validity,
    grounding,
    rank_ndcg,
)

CANDIDATES = ["Heat (1995)", "Aliens (1986)", "Fargo (1996)", "Babe (1995)"]
HISTORY = ["Alien (1979)", "Casino (1995)"]
TARGET = 2  # Fargo


def _columns(n: int) -> dict:
    """The `rl` columns TRL passes beside the completions, one row per completion."""
    return {
        "candidate_titles": [CANDIDATES] * n,
        "history_titles": [HISTORY] * n,
        "target_index": [TARGET] * n,
        "trainer_state": None,  # TRL passes extra keywords the rewards must accept
    }


def _chat(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


GOOD = (
    '<think>\nThought 1: "Casino (1995)" leads to "Fargo (1996)".\n</think>\n'
    "<answer>Fargo (1996)</answer>"
)
WRONG = "<think>\nThought 1: crime films.\n</think>\n<answer>Heat (1995)</answer>"
RANKED_THIRD = (
    "<think>\nThought 1: x\n</think>\n<answer>\n1. Heat (1995)\n2. Babe (1995)\n"
    "3. Fargo (1996)\n</answer>"
)
NOT_A_CANDIDATE = "<think>\nThought 1: x\n</think>\n<answer>Titanic (1997)</answer>"
NO_TAGS = "I think Fargo (1996)"
NORMALIZED = "<think>\nThought 1: x\n</think>\n<answer>fargo</answer>"
UNCLOSED_THINK = "<think>\nThought 1: x\n<answer>Fargo (1996)</answer>"
TWO_ANSWERS = (
    "<think>\nThought 1: x\n</think>\n<answer>Heat (1995)</answer><answer>Fargo (1996)</answer>"
)
EMPTY_THINK = "<think>\n</think>\n<answer>Fargo (1996)</answer>"


def test_registry_names_are_the_function_names():
    # TRL logs rewards/<function name>/mean: the names a recipe uses must be those.
    assert list(REWARDS) == [
        "answer_hit",
        "answer_validity",
        "rank_ndcg",
        "answer_format",
        "grounding",
    ]
    assert all(function.__name__ == name for name, function in REWARDS.items())


def test_answer_hit():
    texts = [GOOD, WRONG, RANKED_THIRD, NOT_A_CANDIDATE, NO_TAGS, NORMALIZED, TWO_ANSWERS]
    # NO_TAGS: without answer tags, an output naming exactly one candidate answers it, as
    # `evaluate` reads it (the mention rule). TWO_ANSWERS: the last block, the final word.
    assert answer_hit(texts, **_columns(len(texts))) == [1, 0, 0, 0, 1, 1, 1]


def test_answer_hit_reads_chat_messages_and_plain_strings_alike():
    assert answer_hit([_chat(GOOD), _chat(WRONG)], **_columns(2)) == [1.0, 0.0]


def test_answer_validity():
    texts = [GOOD, WRONG, RANKED_THIRD, NOT_A_CANDIDATE, NORMALIZED]
    assert answer_validity(texts, **_columns(len(texts))) == [1, 1, 1, 0, 1]
    repeated = "<answer>\nHeat (1995)\nHeat (1995)\n</answer>"
    assert answer_validity([repeated], **_columns(1)) == [0.0]


def test_rank_ndcg():
    texts = [GOOD, WRONG, RANKED_THIRD, NOT_A_CANDIDATE]
    scores = rank_ndcg(texts, **_columns(len(texts)))
    assert scores == pytest.approx([1.0, 0.0, 1 / math.log2(4), 0.0])
    assert scores[2] == pytest.approx(0.5)


def test_answer_format():
    texts = [GOOD, NO_TAGS, UNCLOSED_THINK, TWO_ANSWERS, EMPTY_THINK, "<answer>Fargo (1996)"]
    assert answer_format(texts, **_columns(len(texts))) == [1.0, 0.0, 0.5, 0.5, 0.5, 0.0]


def test_grounding_scores_titles_in_their_role():
    answer = "</think>\n<answer>Fargo (1996)</answer>"
    grounded = '<think>\nThought 1: the user watched "Casino (1995)". ' + answer
    # "Heat (1995)" is a candidate, not something the user watched: a mention in the wrong role.
    wrong_role = '<think>\nThought 1: the user watched "Heat (1995)".\n' + answer
    # No item mentioned: grounding_score is None, and the reward 0.
    silent = "<think>\nThought 1: crime.\n" + answer
    assert grounding([grounded, wrong_role, silent], **_columns(3)) == [1.0, 0.0, 0.0]
