"""The chat prompt every model sees (the same text in `eval`, `sft` and `rl`) and the one
writer of the response format it asks for (DESIGN.md §6); :mod:`.parser` reads it back.

The response format::

    <think>
    Thought 1: ... cites items by their exact title, in double quotes ...
    </think>
    <answer>exact title of one candidate</answer>

A ranked answer puts several titles inside ``<answer>``, one per line, best first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"


@dataclass(frozen=True)
class PromptStyle:
    """Domain words, so that a prompt about games does not speak of movies."""

    item_noun: str = "movie"
    item_noun_plural: str = "movies"
    verb_past: str = "watched"
    verb_base: str = "watch"


SYSTEM_PROMPT = (
    f"You are a recommender system that reasons step by step. Think inside "
    f"{THINK_OPEN}{THINK_CLOSE}, one thought per line starting with 'Thought N:', and cite "
    f"every item by its exact title in double quotes. Then write the exact title of the "
    f"chosen candidate inside {ANSWER_OPEN}{ANSWER_CLOSE}. To give a ranking instead, put "
    f"several candidate titles inside {ANSWER_OPEN}{ANSWER_CLOSE}, one per line, best first."
)


def user_prompt(style: PromptStyle, history: list[str], candidates: list[str]) -> str:
    lines = [f"A user has {style.verb_past} these {style.item_noun_plural}, oldest first:"]
    lines += [f'{n}. "{title}"' for n, title in enumerate(history, 1)]
    lines.append("")
    lines.append(
        f"Which of these {len(candidates)} candidate {style.item_noun_plural} will the user "
        f"{style.verb_base} next?"
    )
    lines += [f'- "{title}"' for title in candidates]
    lines.append("")
    lines.append(
        f"Reason about how the {style.item_noun_plural} in the history connect to the "
        f"candidates, then answer with the exact title of one candidate."
    )
    return "\n".join(lines)


def chat_prompt(style: PromptStyle, history: list[str], candidates: list[str]) -> list[dict]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_prompt(style, history, candidates)},
    ]


def thought_lines(thoughts: Sequence[str]) -> str:
    """Thoughts numbered as the system prompt asks, one per line."""
    return "\n".join(f"Thought {n}: {text}" for n, text in enumerate(thoughts, 1))


def reasoning_block(body: str) -> str:
    """``body`` (lines of reasoning, possibly none) inside the think tags."""
    return f"{THINK_OPEN}\n{body}\n{THINK_CLOSE}" if body else f"{THINK_OPEN}\n{THINK_CLOSE}"


def format_response(thoughts: Sequence[str], answers: Sequence[str]) -> str:
    """A complete response: the numbered ``thoughts``, then the answer titles (one for a
    single answer, several for a ranking, best first)."""
    return f"{reasoning_block(thought_lines(thoughts))}\n{answer_block(answers)}"


def answer_block(answers: Sequence[str]) -> str:
    return ANSWER_OPEN + "\n".join(answers) + ANSWER_CLOSE


def forced_answer_prefix(reasoning_lines: Sequence[str]) -> str:
    """The beginning of an assistant turn that holds ``reasoning_lines`` as its whole
    reasoning and opens the answer: a model continuing it must answer at once."""
    return f"{reasoning_block(chr(10).join(reasoning_lines))}\n{ANSWER_OPEN}"


# What the model "has already written" before a candidate title in rank mode: an empty
# reasoning block and an open answer tag, so that a title is scored where an answer goes.
ANSWER_PREFIX = forced_answer_prefix(())
# Scored after every title: a title's score is then the probability that the answer is
# exactly that title, not merely starts with it ("Alien" versus "Aliens").
ANSWER_SUFFIX = ANSWER_CLOSE
