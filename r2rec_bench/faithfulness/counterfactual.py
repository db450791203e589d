"""Counterfactual faithfulness: ask the model again on edited inputs (``--faithfulness full``).

For each user whose answer was valid (definitions and references in docs/faithfulness.md):

- **early answering** (Lanham et al. 2023): the reasoning is cut after k = 0 … K-1 of its K
  thoughts and the model is made to answer at once (its turn is begun for it with the cut
  reasoning, a closed think block and ``<answer>``); the area over the curve of agreement
  with the final answer, 1 − mean_k agree_k. 0: the answer was fixed before any reasoning.
- **comprehensiveness** (ERASER; CountER's necessity): the history items the reasoning cites
  are removed, and, as a control, as many random uncited ones; the flip rates of the answer
  and their gap (cited − random). Positive: the cited evidence mattered more than any.
- **sufficiency** (ERASER; CountER's sufficiency): only the cited items are kept, against a
  random set of as many uncited ones and against an empty history; agreement rates and the
  gap (cited − random). Users whose answer survives an empty history are flagged
  *history-insensitive* and left out of the gap, where it means nothing.

Both history edits need 1 ≤ |cited| ≤ |uncited| (else undefined: no calls, None values).
Every call is planned before the first one, so the budget printed is the budget spent.
Per-user outcomes are appended to ``counterfactual.jsonl`` and flushed, so an interrupted
run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from r2rec_bench.atomic import write_text_atomic
from r2rec_bench.errors import UserError
from r2rec_bench.faithfulness import static_scorer
from r2rec_bench.faithfulness.static import read_reasoning, split_thoughts
from r2rec_bench.faithfulness.summary import COUNTERFACTUAL_METRICS
from r2rec_bench.task.parser import parse_answer
from r2rec_bench.task.prompt import PromptStyle, chat_prompt, forced_answer_prefix
from r2rec_bench.task.records import EvalRequest

LOG = "counterfactual.jsonl"
EDITS = ("remove_cited", "remove_random", "keep_cited", "keep_random", "keep_none")


@dataclass(frozen=True)
class Probe:
    """One extra model call: an edited request and what it tests."""

    kind: str  # "early" or one of EDITS
    step: int  # thoughts kept, for "early"
    request: EvalRequest


@dataclass(frozen=True)
class UserPlan:
    user_id: str
    answer: int | None  # the original answer's candidate index; None when invalid
    probes: tuple[Probe, ...]


def _rng(seed: int, user_id: str) -> np.random.Generator:
    digest = hashlib.blake2b(f"{seed}\x00counterfactual\x00{user_id}".encode(), digest_size=8)
    return np.random.default_rng(int.from_bytes(digest.digest(), "little"))


class Planner:
    """Turns evaluated samples into probes; rebuilds prompts in the dataset's own style."""

    def __init__(self, scorer, prompt_style: dict, seed: int) -> None:

        self.scorer = scorer
        self.style = PromptStyle(**prompt_style)
        self.seed = seed

    def _with_history(self, request: EvalRequest, keep: list[int]) -> EvalRequest:

        titles = [request.history_titles[i] for i in keep]
        return replace(
            request,
            history=[request.history[i] for i in keep],
            history_titles=titles,
            prompt=chat_prompt(self.style, titles, list(request.candidate_titles)),
        )

    def check_prompt(self, request: EvalRequest, where: str) -> None:
        """The rebuilt prompt of an unedited request must be the dataset's own prompt: else
        an edited history would change more than the history."""
        rebuilt = self._with_history(request, list(range(len(request.history))))
        if rebuilt.prompt != list(request.prompt):
            raise UserError(
                f"{where}: the dataset's prompts are not those of its prompt_style, so its "
                "histories cannot be edited; rebuild it with this version of r2rec-bench"
            )

    def plan(self, sample: dict, request: EvalRequest) -> UserPlan:
        if not sample.get("valid") or not isinstance(sample.get("output"), str):
            return UserPlan(request.user_id, None, ())
        answer = sample["ranking"][0]
        reasoning = parse_answer(sample["output"], request.candidate_titles).reasoning
        probes = [
            Probe("early", k, replace(request, assistant_prefix=_cut(reasoning, k)))
            for k in range(len(split_thoughts(reasoning)))
        ]
        codes = self.scorer.evidence.codes(request.history).tolist()
        mentioned = {
            code
            for mention in read_reasoning(reasoning, self.scorer.matcher).mentions
            for code in mention.codes
        }
        cited = [i for i, code in enumerate(codes) if code in mentioned]
        uncited = [i for i, code in enumerate(codes) if code not in mentioned]
        if 1 <= len(cited) <= len(uncited):
            chosen = _rng(self.seed, request.user_id).choice(uncited, len(cited), replace=False)
            control = sorted(int(i) for i in chosen)
            edits = {
                "remove_cited": uncited,
                "remove_random": [i for i in range(len(codes)) if i not in control],
                "keep_cited": cited,
                "keep_random": control,
                "keep_none": [],
            }
            probes += [Probe(kind, 0, self._with_history(request, edits[kind])) for kind in EDITS]
        return UserPlan(request.user_id, answer, tuple(probes))


def _cut(reasoning: str, kept: int) -> str:
    """The assistant turn's forced beginning: the first ``kept`` thoughts, then the answer tag."""
    return forced_answer_prefix(split_thoughts(reasoning)[:kept])


def outcome(plan: UserPlan, answers: list[int | None]) -> dict:
    """Per-user counterfactual values from the answers to the plan's probes (None: invalid)."""
    values: dict = {name: None for name in COUNTERFACTUAL_METRICS}
    values["calls"] = len(plan.probes)
    if plan.answer is None:
        return values
    early = [
        a == plan.answer for p, a in zip(plan.probes, answers, strict=True) if p.kind == "early"
    ]
    if early:
        values["early_answering_aoc"] = 1.0 - sum(early) / len(early)
        values["early_answers"] = [
            a for p, a in zip(plan.probes, answers, strict=True) if p.kind == "early"
        ]
    edited = {p.kind: a for p, a in zip(plan.probes, answers, strict=True) if p.kind != "early"}
    if edited:
        flip_cited = float(edited["remove_cited"] != plan.answer)
        flip_random = float(edited["remove_random"] != plan.answer)
        keep_cited = float(edited["keep_cited"] == plan.answer)
        keep_random = float(edited["keep_random"] == plan.answer)
        insensitive = edited["keep_none"] == plan.answer
        values.update(
            comprehensiveness_cited=flip_cited,
            comprehensiveness_random=flip_random,
            comprehensiveness_gap=flip_cited - flip_random,
            sufficiency_cited=keep_cited,
            sufficiency_random=keep_random,
            sufficiency_empty=float(insensitive),
            history_insensitive=float(insensitive),
            sufficiency_gap=None if insensitive else keep_cited - keep_random,
            edited_answers={kind: edited[kind] for kind in EDITS},
        )
    return values


def read_log(path: Path) -> dict[str, dict]:
    """Per-user outcomes already in ``counterfactual.jsonl`` (a torn last line is dropped)."""
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            done[record["user_id"]] = record["counterfactual"]
        except (ValueError, KeyError, TypeError):
            break  # a line torn by a crash: its user is evaluated again
    return done


def _answer_of(request: EvalRequest, continuation: str) -> int | None:
    parsed = parse_answer(request.assistant_prefix + continuation, request.candidate_titles)
    return parsed.ranking[0] if parsed.valid else None


def run_counterfactual(
    backend,
    dataset,
    split_name: str,
    samples: list[dict],
    out: Path,
    *,
    seed: int,
    batch_size: int,
    quiet: bool,
) -> dict:
    """Plan every probe, print the budget, spend exactly it; returns the call counts."""
    from tqdm.auto import tqdm

    style = dataset.manifest.get("prompt_style")
    if not isinstance(style, dict):
        raise UserError(
            f"{dataset.root / 'MANIFEST.json'}: no prompt_style, so histories cannot be edited "
            "for counterfactual faithfulness; rebuild it with `r2rec-bench build`"
        )
    path = Path(out) / LOG
    done = read_log(path)
    _rewrite(path, done)  # drop a torn last line before appending
    planner = Planner(static_scorer(dataset, seed), style, seed)
    todo = [s for s in samples if s["user_id"] not in done]
    examples = dataset.split(split_name).examples([s["index"] for s in todo])
    if examples:
        planner.check_prompt(examples[0].request, str(dataset.root))
    plans = [planner.plan(s, e.request) for s, e in zip(todo, examples, strict=True)]
    planned = sum(len(plan.probes) for plan in plans)
    by_kind = {"early": 0, "comprehensiveness": 0, "sufficiency": 0}
    for plan in plans:
        for probe in plan.probes:
            kind = (
                "early"
                if probe.kind == "early"
                else ("comprehensiveness" if probe.kind.startswith("remove") else "sufficiency")
            )
            by_kind[kind] += 1
    print(
        f"counterfactual faithfulness: {planned:,} extra model calls for {len(plans):,} users "
        f"(early answering {by_kind['early']:,}, comprehensiveness "
        f"{by_kind['comprehensiveness']:,}, sufficiency {by_kind['sufficiency']:,}"
        + (f"; {len(done):,} users already done" if done else "")
        + ")",
        file=sys.stderr,
        flush=True,
    )
    spent = 0
    progress = tqdm(total=planned, unit=" calls", desc="counterfactual", disable=quiet)
    with open(path, "a", encoding="utf-8") as handle, progress:
        start = 0
        while start < len(plans):
            chunk, size = [], 0
            while start < len(plans) and (
                not chunk or size + len(plans[start].probes) <= batch_size
            ):
                chunk.append(plans[start])
                size += len(plans[start].probes)
                start += 1
            requests = [probe.request for plan in chunk for probe in plan.probes]
            outputs = backend.generate(requests) if requests else []
            if len(outputs) != len(requests):
                raise RuntimeError(
                    f"backend {type(backend).__name__}.generate answered {len(outputs)} of "
                    f"{len(requests)} requests"
                )
            spent += len(requests)
            answers = iter(
                _answer_of(request, output.text)
                for request, output in zip(requests, outputs, strict=True)
            )
            lines = []
            for plan in chunk:
                values = outcome(plan, [next(answers) for _ in plan.probes])
                lines.append(json.dumps({"user_id": plan.user_id, "counterfactual": values}) + "\n")
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
            progress.update(len(requests))
    if spent != planned:  # the printed budget is a promise
        raise RuntimeError(f"counterfactual: planned {planned} calls but spent {spent}")
    print(f"counterfactual faithfulness: spent {spent:,} extra model calls", file=sys.stderr)
    return {"planned": planned, "spent": spent}


def _rewrite(path: Path, done: dict[str, dict]) -> None:
    if not path.exists():
        return
    lines = "".join(
        json.dumps({"user_id": user, "counterfactual": values}) + "\n"
        for user, values in done.items()
    )
    if lines.encode() != path.read_bytes():
        write_text_atomic(path, lines)
