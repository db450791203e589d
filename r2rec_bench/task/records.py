"""The benchmark's records: what a backend is asked and answers, the gold kept apart from
it, and the per-user ``Sample`` and per-run ``Results`` that every run writes and every reader
(``leaderboard verify``, ``compare``, the site) validates.

A backend is "prompts in, texts or scores out" (DESIGN §7): it never sees the target.
``Sample`` and ``Results`` are pydantic models, so a malformed or hostile file is rejected
with the field that is wrong; their JSON Schemas are published in docs/schema/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt

RESULTS_SCHEMA_VERSION = 2
SEEDS_SCHEMA_VERSION = 1
MODES = ("generate", "rank")
MATCHES = ("exact", "normalized", "mention", "fuzzy", "scores", "none")
_SHA256 = r"^[0-9a-f]{64}$"


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


@runtime_checkable
class Backend(Protocol):
    """A model or recommender under evaluation."""

    def describe(self) -> dict:
        """Model id, revision, dtype, parameter count, settings: goes into results.json."""

    def generate(self, requests: list[EvalRequest]) -> list[Generation]:
        """Free-text answers (reasoning + answer) in the format of DESIGN §6."""

    def rank(self, requests: list[EvalRequest]) -> list[list[float]]:
        """A score per candidate (higher is better), one list per request."""


@dataclass(frozen=True)
class Gold:
    """What the model should have answered: never handed to a backend."""

    target: str
    target_index: int
    target_title: str


@dataclass(frozen=True)
class EvalExample:
    index: int  # row of the split, which fixes the order of samples and of shards
    request: EvalRequest
    gold: Gold


class _Record(BaseModel):
    # Strict: a number written as a string, an unknown field or a missing one is an error
    # naming the field, never coerced.
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, frozen=True)


class Sample(_Record):
    """One evaluated user, as a line of samples.jsonl."""

    index: NonNegativeInt = Field(description="row of the split")
    user_id: str = Field(max_length=1024)
    candidates: list[str] = Field(description="item ids, in prompt order")
    target: str
    target_index: NonNegativeInt
    output: str | None = Field(description="the raw output (generate mode)")
    scores: list[float | None] | None = Field(
        description="one score per candidate (rank mode); null for a score that was not finite"
    )
    ranking: list[NonNegativeInt] = Field(description="candidate positions, best first")
    target_rank: NonNegativeInt = Field(description="1-based; 0 when the target is unranked")
    hit_at_1: bool = Field(alias="hit@1")
    valid: bool
    match: Literal[MATCHES]
    strict_format: bool | None = Field(
        description="the output is exactly one think block and one answer block (generate)"
    )
    problems: list[str]
    prompt_sha256: str = Field(pattern=_SHA256)
    output_sha256: str = Field(pattern=_SHA256)
    prompt_tokens: NonNegativeInt | None
    completion_tokens: NonNegativeInt | None
    seconds: float | None = Field(ge=0)
    faithfulness: dict[str, Any] | None

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True), ensure_ascii=False)


class Interval(_Record):
    value: float | None
    ci_low: float | None
    ci_high: float | None


class DatasetBlock(_Record):
    id: str
    name: str
    source: Literal["local", "hub"]
    revision: str | None
    fingerprint: str = Field(pattern=_SHA256)
    builder_version: str
    hub_repo: str | None


class ParserBlock(_Record):
    fuzzy: bool
    fuzzy_threshold: float
    untagged: str = Field(description="how an output without answer tags is read")


class Answers(_Record):
    valid: NonNegativeInt
    strict_format: NonNegativeInt | None
    match: dict[Literal[MATCHES], NonNegativeInt]


class Cost(_Record):
    prompt_tokens: NonNegativeInt
    completion_tokens: NonNegativeInt
    total_tokens: NonNegativeInt
    wall_seconds: float = Field(ge=0)
    users_per_second: float | None


class Results(_Record):
    """A run's results.json: everything needed to interpret its metrics."""

    schema_version: Literal[RESULTS_SCHEMA_VERSION]
    harness: dict[str, str]
    dataset: DatasetBlock
    split: Literal["test", "validation"]
    mode: Literal[MODES]
    model: dict[str, Any]
    backend: dict[str, Any]
    parser: ParserBlock
    seed: NonNegativeInt
    limit: PositiveInt | None
    shard: tuple[NonNegativeInt, PositiveInt] | None
    n_users: PositiveInt
    metrics: dict[str, Interval]
    interval: dict[str, Any]
    answers: Answers
    faithfulness: dict[str, Any] | None
    cost: Cost
    environment: dict[str, Any]
    created_at: str

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


class SeedSpread(_Record):
    """One metric across a model's seeds."""

    mean: float
    sd: float = Field(description="sample standard deviation (n - 1); 0 for one seed")
    min: float
    max: float
    values: list[float] = Field(description="one per seed, in the order of `seeds`")


class SeedRun(_Record):
    """One more seed of a submitted model: what it answered (each user's ranking, in the
    order of the submission's samples.jsonl) and the metric values those rankings give."""

    seed: NonNegativeInt
    model: dict[str, Any] = Field(description="the run's model block (its own fit and revision)")
    rankings: list[list[NonNegativeInt]] = Field(description="candidate positions, best first")
    valid: list[bool]
    metrics: dict[str, float]


class SeedRuns(_Record):
    """A submission's seeds.json: the same model run under other seeds beside the run its
    samples.jsonl holds, and each metric's spread across all of them."""

    schema_version: Literal[SEEDS_SCHEMA_VERSION]
    seeds: list[NonNegativeInt] = Field(description="every seed, the samples.jsonl run's first")
    runs: list[SeedRun] = Field(description="the runs of seeds[1:], in that order")
    spread: dict[str, SeedSpread]


def json_schemas() -> dict[str, dict]:
    """The published JSON Schemas (docs/schema/), by file name."""
    return {
        "results.schema.json": Results.model_json_schema(by_alias=True),
        "sample.schema.json": Sample.model_json_schema(by_alias=True),
        "seeds.schema.json": SeedRuns.model_json_schema(by_alias=True),
    }
