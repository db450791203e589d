"""What flows through the harness: requests to backends, their outputs, and parsed answers.

A backend is "prompts in, texts or scores out" (DESIGN §7): it never sees the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class EvalRequest:
    """One user (or example) to answer for: the chat prompt and what it was built from."""

    user_id: str
    prompt: list[dict]  # chat messages, as stored in the dataset's `prompt` column
    history: list[str]  # item ids, oldest first
    history_titles: list[str]
    candidates: list[str]  # item ids, in prompt order
    candidate_titles: list[str]
    # Text the assistant turn must begin with: a backend continues it (early answering
    # forces an answer after a truncated reasoning this way). Empty for a normal request.
    assistant_prefix: str = ""


@dataclass(frozen=True)
class Generation:
    """A backend's free-text answer, with the token counts it cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class ParsedAnswer:
    """What the parser made of an output: a ranking of candidate positions, or invalid.

    ``ranking`` lists candidate indices best first (one for a single answer); ``valid`` is
    False when the answer resolves to no candidate, to a non-candidate, or is ambiguous.
    """

    ranking: tuple[int, ...]
    valid: bool
    reasoning: str = ""
    answer_text: str = ""
    match: str = "none"  # how the answer matched: exact, normalized, fuzzy or none
    problems: tuple[str, ...] = field(default_factory=tuple)


@runtime_checkable
class Backend(Protocol):
    """A model or recommender under evaluation."""

    def describe(self) -> dict:
        """Model id, revision, dtype, parameter count, settings: goes into results.json."""

    def generate(self, requests: list[EvalRequest]) -> list[Generation]:
        """Free-text answers (reasoning + answer) in the format of DESIGN §6."""

    def rank(self, requests: list[EvalRequest]) -> list[list[float]]:
        """A score per candidate (higher is better), one list per request."""
