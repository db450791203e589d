"""The one scoring path (DESIGN §7): an output (text or scores) and the gold in, the fields of a
:class:`~r2rec_bench.task.records.Sample` out. The runner writes samples with it, ``leaderboard
verify`` recomputes them with it, and the trainer's rewards read answers with it, so a change
to the parser or to the tie rule reaches all three at once.

**Ties in scores** (rank mode, baselines): candidates are ordered by score, best first, and
candidates with equal scores by a seeded hash of (user id, candidate item id). The hash knows
nothing of the target, so a scorer that cannot tell candidates apart scores chance level in
expectation (neither the pessimistic zero nor a candidate-order artefact), and a backend that
writes a ranking as text can apply the very same rule: a model has one number wherever it is
printed. The key differs from the protocol's tie key (task.order), which decided the split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from r2rec_bench.hashing import canonical_json, sha256_text
from r2rec_bench.task.metrics import rank_of_target, summarize
from r2rec_bench.task.order import id_hashes, mix64
from r2rec_bench.task.parser import ParsedAnswer, parse_answer

SCORE_TIE_RULE = (
    "higher score first; equal scores ordered by a seeded hash of (user id, item id), "
    "blind to the target"
)
_SCORE_TIE_SEED = 0


def score_tie_keys(user_ids: Sequence[str], candidates: Sequence[Sequence[str]]) -> np.ndarray:
    """(users × candidates) uint64 keys that order equal scores (module docstring)."""
    items = np.asarray(candidates, dtype=object)
    users = id_hashes(list(user_ids), _SCORE_TIE_SEED, "score-tie-user")
    flat = id_hashes(items.ravel().tolist(), _SCORE_TIE_SEED, "score-tie-item")
    return mix64(users[:, None] ^ mix64(flat.reshape(items.shape)))


def ranking_from_scores(
    scores: Sequence[float], user_id: str, candidates: Sequence[str]
) -> list[int]:
    """Candidate positions by score, best first, ties by the score tie key."""
    keys = score_tie_keys([user_id], [list(candidates)])[0]
    return sorted(range(len(scores)), key=lambda j: (-scores[j], int(keys[j])))


def target_ranks(scores: np.ndarray, target_index: np.ndarray, user_ids, candidates) -> np.ndarray:
    """1-based rank of each row's target under :func:`ranking_from_scores`, vectorised."""
    scores = np.asarray(scores, dtype=np.float64)
    keys = score_tie_keys(user_ids, candidates)
    rows = np.arange(len(scores))
    target_score = scores[rows, target_index][:, None]
    target_key = keys[rows, target_index][:, None]
    above = (scores > target_score) | ((scores == target_score) & (keys < target_key))
    return above.sum(axis=1).astype(np.int64) + 1


@dataclass(frozen=True)
class Scored:
    """What one output says against the gold: the output-dependent fields of a Sample."""

    output: str | None
    scores: list[float | None] | None
    ranking: list[int]
    target_rank: int
    valid: bool
    match: str
    strict_format: bool | None
    problems: list[str]
    output_sha256: str
    parsed: ParsedAnswer | None = None

    def fields(self) -> dict:
        return {
            "output": self.output,
            "scores": self.scores,
            "ranking": self.ranking,
            "target_rank": self.target_rank,
            "hit@1": self.target_rank == 1,
            "valid": self.valid,
            "match": self.match,
            "strict_format": self.strict_format,
            "problems": self.problems,
            "output_sha256": self.output_sha256,
        }


def score_text(
    output: str, candidate_titles: Sequence[str], target_index: int, *, fuzzy: bool = False
) -> Scored:
    """A generated output parsed against the candidates (task.parser) and scored."""
    parsed = parse_answer(output, list(candidate_titles), fuzzy=fuzzy)
    ranking = list(parsed.ranking)
    return Scored(
        output=output,
        scores=None,
        ranking=ranking,
        target_rank=rank_of_target(ranking, target_index),
        valid=parsed.valid,
        match=parsed.match,
        strict_format=parsed.strict_format,
        problems=list(parsed.problems),
        output_sha256=sha256_text(output if isinstance(output, str) else ""),
        parsed=parsed,
    )


def score_scores(
    scores: Sequence[float | None], user_id: str, candidates: Sequence[str], target_index: int
) -> Scored:
    """One score per candidate (higher is better). A score that is not a finite number
    (NaN, infinite, or null as stored) makes the sample invalid: it cannot be ranked, nor
    its ranking recomputed from the stored JSON."""
    stored = [float(s) if s is not None and math.isfinite(s) else None for s in scores]
    valid = None not in stored and len(stored) == len(candidates)
    ranking = ranking_from_scores(stored, user_id, candidates) if valid else []
    return Scored(
        output=None,
        scores=stored,
        ranking=ranking,
        target_rank=rank_of_target(ranking, target_index),
        valid=valid,
        match="scores" if valid else "none",
        strict_format=None,
        problems=[] if valid else ["not_finite_score"],
        output_sha256=sha256_text(canonical_json(stored)),
    )


def summarize_samples(samples: Sequence[dict], seed: int) -> dict:
    """The figures of results.json that follow from the samples alone: ``n_users``,
    ``metrics`` and ``interval`` (task.metrics.summarize) and the ``answers`` counts. The
    runner reports them and ``leaderboard verify`` recomputes them with this function."""
    from collections import Counter

    summary = summarize([s["target_rank"] for s in samples], [s["valid"] for s in samples], seed)
    strict = [s["strict_format"] for s in samples if s["strict_format"] is not None]
    summary["answers"] = {
        "valid": sum(bool(s["valid"]) for s in samples),
        "strict_format": sum(strict) if strict else None,
        "match": dict(sorted(Counter(s["match"] for s in samples).items())),
    }
    return summary
