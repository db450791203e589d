"""Interaction-of-thought traces: what a teacher writes for one training example (DESIGN §6)."""

from __future__ import annotations

from dataclasses import dataclass

from r2rec_bench.chains.types import Chain, ChainEdge


@dataclass(frozen=True)
class Thought:
    """One reasoning step, written after its masked node was revealed."""

    text: str  # cites items by their exact catalog title, in double quotes
    cited_items: tuple[int, ...]  # item codes the text cites
    claimed_edge: ChainEdge | None  # the training edge this step walks (None: attribute-only)
    verified: bool  # the teacher predicted the masked node before it was revealed
    step: str = ""  # the kind of masked step (teacher.plan): pivot, user, item, target...
    options: int = 0  # how many options the prediction chose among (chance: 1 / options)


@dataclass(frozen=True)
class Trace:
    """A training example's reasoning: chains, thoughts, quality and teacher accounting."""

    example: int  # row of the training targets
    chains: tuple[Chain, ...]
    thoughts: tuple[Thought, ...]
    attribute_only: bool  # no chain existed: thoughts come from item attributes alone
    teacher: str
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def quality(self) -> float:
        """Share of verified steps (0 for a trace without steps)."""
        return sum(t.verified for t in self.thoughts) / len(self.thoughts) if self.thoughts else 0.0
