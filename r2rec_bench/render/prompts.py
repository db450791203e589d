"""The chat prompt every model sees: the same text in `eval`, `sft` and `rl` (DESIGN.md §6)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PromptStyle:
    """Domain words, so that a prompt about games does not speak of movies."""

    item_noun: str = "movie"
    item_noun_plural: str = "movies"
    verb_past: str = "watched"
    verb_base: str = "watch"


SYSTEM_PROMPT = (
    "You are a recommender system that reasons step by step. Think inside <think></think>, "
    "one thought per line starting with 'Thought N:', and cite every item by its exact "
    "title in double quotes. Then write the exact title of the chosen candidate inside "
    "<answer></answer>. To give a ranking instead, put several candidate titles inside "
    "<answer></answer>, one per line, best first."
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
