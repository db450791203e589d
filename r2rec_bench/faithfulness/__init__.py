"""Reasoning faithfulness (DESIGN §9; formulas and caveats in docs/faithfulness.md).

- :mod:`.static`: grounding, edge validity, consistency — read off the output, no model calls;
  on by default in ``evaluate``.
- :mod:`.counterfactual`: early answering, comprehensiveness, sufficiency — the model is asked
  again on edited inputs (``evaluate --faithfulness full``).
- :mod:`.reference`: recommenders whose faithfulness is known (``ref:oracle``,
  ``ref:rationalizer``, ``ref:hallucinator``), which the metrics must tell apart.
- :mod:`.summary`: per-sample values aggregated with bootstrap intervals.

Reported beside accuracy, never averaged into it.
"""

from __future__ import annotations

from r2rec_bench.faithfulness.evidence import load_evidence
from r2rec_bench.faithfulness.matcher import TitleMatcher
from r2rec_bench.faithfulness.static import SampleInput, StaticScorer, grounding_of
from r2rec_bench.faithfulness.summary import aggregate
from r2rec_bench.task.parser import ParsedAnswer, parse_answer


def grounding_score(text: str, history_titles: list[str], candidate_titles: list[str]):
    """Share of the item mentions in an output's reasoning that are history or candidate
    titles in their role (the static grounding of one sample, with only the prompt's titles
    as the catalog, so it needs no dataset); None when the reasoning mentions no item.

    The trainer's grounding reward uses it.
    """

    titles = list(history_titles) + list(candidate_titles)
    history = frozenset(range(len(history_titles)))
    candidates = frozenset(range(len(history_titles), len(titles)))
    reasoning = parse_answer(text, list(candidate_titles)).reasoning
    grounded, mentions = grounding_of(reasoning, TitleMatcher(titles), history, candidates)
    return grounded / mentions if mentions else None


def static_scorer(dataset, seed: int = 0):
    """A :class:`~r2rec_bench.faithfulness.static.StaticScorer` for an opened dataset."""

    return StaticScorer(load_evidence(dataset), seed)


def sample_input(request, parsed):
    """The static scorer's view of one evaluated request and its parsed answer."""

    return SampleInput(
        user_id=request.user_id,
        reasoning=parsed.reasoning,
        answer_text=parsed.answer_text,
        answer=parsed.ranking[0] if parsed.valid else None,
        history=list(request.history),
        candidates=list(request.candidates),
    )


def rescore_static(dataset, split: str, samples: list[dict], seed: int = 0) -> list[dict | None]:
    """Each sample's static values recomputed from its output text and the dataset (None for
    a sample without output text, as in rank mode): what the leaderboard checks."""

    examples = dataset.split(split).examples([sample["index"] for sample in samples])
    scorer = static_scorer(dataset, seed)
    inputs, positions = [], []
    for position, (sample, example) in enumerate(zip(samples, examples, strict=True)):
        if not isinstance(sample.get("output"), str):
            continue
        parsed = parse_answer(sample["output"], example.request.candidate_titles)
        ranking = tuple(sample.get("ranking") or ())
        stored = ParsedAnswer(
            ranking,
            bool(sample.get("valid")) and bool(ranking),
            parsed.reasoning,
            parsed.answer_text,
        )
        inputs.append(sample_input(example.request, stored))
        positions.append(position)
    rescored: list[dict | None] = [None] * len(samples)
    for position, values in zip(positions, scorer.score(inputs), strict=True):
        rescored[position] = values
    return rescored


__all__ = ["aggregate", "grounding_score", "rescore_static", "sample_input", "static_scorer"]
