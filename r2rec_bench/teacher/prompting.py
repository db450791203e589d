"""The chat messages of one masked step, and how a language model's reply to it is judged.

Prompt j (0-based) shows the user's history, steps 1..j with the thoughts kept for them, then
step j+1 hidden with lettered options; the model reasons and ends with ``Prediction: <letter>``.

Judging a reply (``judge``) never raises. The prediction is read from the last line that
starts with "Prediction" (markdown emphasis tolerated): an option label ("B", "(B)", "B.",
"Option B", a lone lowercase "b"), else a double-quoted exact option title, else an option
title matched case- and space-insensitively. No readable prediction = a wrong one.
The step is verified when the prediction is the true option. The reply's reasoning (the
reply without the prediction line, ``<think>`` tags and "Thought N:" prefixes, on one line)
becomes the step's thought only when the step is verified *and* the reasoning is grounded:
non-empty, balanced double quotes, every quoted span an exact catalog title and none of the
user's later items (its validation and test targets among them), the masked item (when the
step masks an item) among them, and no ``<answer>`` tag; otherwise the template's thought for
the step is kept — written as the correction of the model's wrong prediction when there was
one — so every kept thought argues for the true node and cites only real titles.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from r2rec_bench.teacher.plan import ExamplePlan, Planner, Step
from r2rec_bench.teacher.types import Thought

_QUOTED = re.compile(r'"([^"]*)"')
_THINK_TAG = re.compile(r"</?think>", re.IGNORECASE)
_THOUGHT_PREFIX = re.compile(r"\bThought\s+\d+\s*:\s*", re.IGNORECASE)
_PREDICTION = re.compile(r"^[\s*_#>-]*prediction\b[\s*_:=-]*(.*)$", re.IGNORECASE)
_LABEL = re.compile(r"^(?:option\s+)?[(\[]?([A-Za-z]{1,2})(?:[)\].:,]|\s|$)", re.IGNORECASE)


def label(index: int) -> str:
    """A, B, ..., Z, AA, AB, ... for option ``index`` (0-based)."""
    text = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        text = chr(ord("A") + rest) + text
    return text


def system_message(planner: Planner) -> str:
    style = planner.style
    return (
        f"You explain recommendations step by step. You see a user's history and chains of "
        f"interactions in a training graph of users and the {style.item_noun_plural} they "
        f"{style.verb_past}, revealed one step at a time. At each step the next node of the "
        f"chain is hidden: reason briefly about what is visible, citing every "
        f"{style.item_noun} by its exact title in double quotes, then pick the hidden node "
        f'among the options. End your reply with one line: "Prediction: <option letter>".'
    )


def step_messages(
    planner: Planner, plan: ExamplePlan, j: int, thoughts: Sequence[str]
) -> list[dict]:
    """The chat request for step ``j`` of ``plan``; ``thoughts`` are those kept for 0..j-1."""
    style = planner.style
    lines = [f"The user has {style.verb_past} these {style.item_noun_plural}, oldest first:"]
    lines += [f"{n}. {planner._named(None, item)}" for n, item in enumerate(plan.history, 1)]
    if j:
        lines += ["", "The chains so far:"]
        for n, (step, thought) in enumerate(zip(plan.steps[:j], thoughts, strict=True), 1):
            lines.append(f"Step {n} (chain {step.chain + 1}): {step.reveal}")
            lines.append(f"Thought {n}: {thought}")
    step = plan.steps[j]
    where = "final" if step.chain is None else f"chain {step.chain + 1}"
    lines += ["", f"Step {j + 1} ({where}) is hidden. {step.question}"]
    lines += [f"{label(n)}. {option}" for n, option in enumerate(step.options)]
    lines += [
        "",
        f"Reason about what is visible, citing every {style.item_noun} by its exact title in "
        f'double quotes, then end with one line "Prediction: <letter>".',
    ]
    return [
        {"role": "system", "content": system_message(planner)},
        {"role": "user", "content": "\n".join(lines)},
    ]


def _normal(text: str) -> str:
    return " ".join(text.strip().strip('"').rstrip(".").split()).casefold()


def parse_prediction(reply: str, step: Step) -> int | None:
    """The option the reply predicts, or None when it names none."""
    lines = [m for m in map(_PREDICTION.match, reply.splitlines()) if m]
    if not lines:
        return None
    payload = lines[-1].group(1).strip().strip("*_").strip()
    labels = [label(n) for n in range(len(step.options))]
    found = _LABEL.match(payload)
    if found:
        letters = found.group(1)
        # A lowercase word ("a user who...") is not a label; a lone lowercase letter is.
        if (letters.isupper() or payload.rstrip(".)").lstrip("([") == letters) and (
            letters.upper() in labels
        ):
            return labels.index(letters.upper())
    for quoted in _QUOTED.findall(payload):
        if quoted in step.titles:
            return step.titles.index(quoted)
    normal = [_normal(title) for title in step.titles]
    return normal.index(_normal(payload)) if _normal(payload) in normal else None


def reasoning(reply: str) -> str:
    """The reply's reasoning on one line, without the prediction and thought numbering."""
    kept = [line for line in reply.splitlines() if not _PREDICTION.match(line)]
    text = _THOUGHT_PREFIX.sub("", _THINK_TAG.sub(" ", "\n".join(kept)))
    return " ".join(text.split())


def judge(
    reply: str, step: Step, title_codes: dict[str, int], forbidden: frozenset[int] = frozenset()
) -> Thought:
    """The thought kept for a step the model answered with ``reply`` (see module doc);
    ``forbidden``: items the thought must not cite (the user's later items)."""
    prediction = parse_prediction(reply, step)
    verified = prediction == step.answer
    text = reasoning(reply)
    quoted = _QUOTED.findall(text)
    cited = list(dict.fromkeys(title_codes.get(q, -1) for q in quoted))
    grounded = (
        bool(text)
        and text.count('"') % 2 == 0
        and -1 not in cited
        and forbidden.isdisjoint(cited)
        and (step.masked_item is None or step.masked_item in cited)
        and "<answer" not in text.lower()
        and "</answer" not in text.lower()
    )
    if verified and grounded:
        return Thought(text, tuple(cited), step.edge, True, step.kind, len(step.options))
    return Thought(*step.written(prediction), step.edge, verified, step.kind, len(step.options))
