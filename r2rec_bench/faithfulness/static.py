"""Static faithfulness: what a reasoning trace claims, checked against the data, no model calls.

Per sample (DESIGN §9, docs/faithfulness.md for formulas and caveats):

- **grounding**: share of the item mentions in the reasoning that resolve to the catalog and
  hold in the role the sentence gives them — "the user watched X" needs X in the history,
  "the user will watch Y" needs Y among the candidates, any other mention needs X in the
  catalog. Quoted names the catalog does not know count as ungrounded (off-catalog).
- **answer outside the candidates**: the answer names a catalog item that is not a candidate.
- **cited items** and the **cited share of the history**.
- **edge validity** at thresholds 1 and 5: each claimed co-interaction "users who watched X
  also watched Y" holds when at least that many training users interacted with both; a claim
  whose X or Y cannot be resolved is invalid. Beside it a **random-pair null** (same X, a
  random catalog Y, seeded) and the cited X's **strength percentile**: where co(X, Y) falls
  among co(h, Y) over the user's history h (1 = the strongest evidence was cited).
- **consistency**: the last candidate the reasoning reaches is the answer.

Role and claim detection reads the sentence around each mention with English cue words (the
system prompt's format); docs/faithfulness.md lists them and how they can be fooled.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from r2rec_bench.faithfulness.evidence import Evidence
from r2rec_bench.faithfulness.matcher import Mention, TitleMatcher, normalize
from r2rec_bench.memory import gc_paused
from r2rec_bench.parallel import map_in_chunks

THRESHOLDS = (1, 5)
# Below this many samples per process, forking and sending the values back cost more than
# the second core saves.
PARALLEL_FROM = 10_000
_ITEM = "\x00"  # stands for a mention in the skeleton of a reasoning
_THOUGHT = re.compile(r"^\s*thought\s*\d+\s*[:.)-]\s*", re.IGNORECASE)
# A cue is at most three words before the mention, in the same clause ([\w']+ and spaces
# cannot cross punctuation or another mention).
_MODALS = r"will|would|should|might|may|could|shall"
_ROLE_CUE = re.compile(
    rf"\b(?:(?P<candidate>{_MODALS}|recommend\w*|candidates?|answer|choose|chose|pick|"
    r"predict\w*)|(?P<history>the user(?:'s)?(?=\s+(?!(?:" + _MODALS + r")\b))))\b"
    r"(?:\s+[\w']+){0,3}\s*\"?\x00"  # the title's opening quote, if any, then the title
)
_CLAIM = re.compile(r"\bwho\b(?:[^\x00\n]*?(?P<x>\x00))?[^\x00\n]*?\balso\b")
# Every cue begins with one of these words (its \w* endings included): only where one of them
# starts can _ROLE_CUE match.
_CUE_WORDS = (
    *_MODALS.split("|"), "recommend", "candidate", "answer", "choose", "chose", "pick",
    "predict", "the user",
)  # fmt: skip
_CLAUSE_END = re.compile(r"[.;:!?](?:\s|$)|\n")
_PRONOUN = re.compile(r"\s*(?:[\w']+\s+){0,2}(?:it|this|that|them|these|those)\b")


def split_thoughts(reasoning: str) -> list[str]:
    """The thoughts of a reasoning: ``Thought N:`` lines (continued by the lines after
    them), or else every non-empty line."""
    lines = [line.strip() for line in reasoning.splitlines() if line.strip()]
    if not any(_THOUGHT.match(line) for line in lines):
        return lines
    thoughts: list[str] = []
    for line in lines:
        if _THOUGHT.match(line) or not thoughts:
            thoughts.append(line)
        else:
            thoughts[-1] += "\n" + line
    return thoughts


@dataclass
class _Reading:
    """The mentions of one reasoning, the role each is given, and the claimed edges."""

    mentions: list[Mention]
    roles: list[str]  # "history", "candidate" or "other", one per mention
    claims: list[tuple[Mention | None, Mention | None]]  # (X, Y) of each "who X also Y"


def read_reasoning(reasoning: str, matcher: TitleMatcher) -> _Reading:
    """Mentions, roles and claims of a reasoning, in one pass over its normalised text."""
    text = normalize_lines(reasoning)
    mentions = matcher.find(text)
    # The skeleton: the text with each mention replaced by one _ITEM character; slots maps
    # each such character's position to its mention.
    ends = [0, *(mention.end for mention in mentions)]
    gaps = [text[end : mention.start] for end, mention in zip(ends, mentions, strict=False)]
    skeleton = _ITEM.join([*gaps, text[ends[-1] :]])
    slots, removed = {}, 0
    for number, mention in enumerate(mentions):
        slots[mention.start - removed] = number
        removed += mention.end - mention.start - 1
    roles = ["other"] * len(mentions)
    for found in cue_matches(skeleton):
        roles[slots[found.end() - 1]] = found.lastgroup or "other"
    claims = []
    for claim in claim_matches(skeleton) if "also" in skeleton else ():
        x = mentions[slots[claim.start("x")]] if claim.group("x") else None
        end = _CLAUSE_END.search(skeleton, claim.end())
        clause_end = end.start() if end else len(skeleton)
        y_slot = skeleton.find(_ITEM, claim.end(), clause_end)
        if y_slot >= 0:
            y = mentions[slots[y_slot]]
        elif _PRONOUN.match(skeleton, claim.end()):
            # "users who watched X also watched it": "it" is the line's other item.
            line_start = skeleton.rfind("\n", 0, claim.start()) + 1
            line_end = skeleton.find("\n", claim.end())
            line_end = len(skeleton) if line_end < 0 else line_end
            y = next(
                (
                    mentions[number]
                    for position, number in slots.items()
                    if line_start <= position < line_end
                    and mentions[number] is not x
                    and mentions[number].codes
                ),
                None,
            )
        else:
            y = None
        claims.append((x, y))
    return _Reading(mentions, roles, claims)


def cue_matches(skeleton: str) -> Iterator[re.Match]:
    """The matches of ``_ROLE_CUE.finditer(skeleton)``, found faster: the regex is tried only
    where a cue word starts (found with ``str.find``), where the engine tries every position."""
    starts = set()
    for word in _CUE_WORDS:
        start = skeleton.find(word)
        while start >= 0:
            starts.add(start)
            start = skeleton.find(word, start + 1)
    cursor = 0
    for start in sorted(starts):
        if start >= cursor and (found := _ROLE_CUE.match(skeleton, start)):
            yield found
            cursor = found.end()


def claim_matches(skeleton: str) -> Iterator[re.Match]:
    """The matches of ``_CLAIM.finditer(skeleton)``, found faster: a claim starts at a
    "who", so only those positions are tried, where the regex engine tries every position."""
    cursor = 0
    while (start := skeleton.find("who", cursor)) >= 0:
        found = _CLAIM.match(skeleton, start)
        if found:
            yield found
        cursor = found.end() if found else start + 1


def normalize_lines(text: str) -> str:
    """:func:`normalize` line by line: the line breaks separate thoughts and clauses."""
    if text.isascii():  # normalize's own fast path, applied to the whole text at once
        lines = (" ".join(line.split()) for line in text.lower().splitlines())
        return "\n".join(line for line in lines if line)
    return "\n".join(normalize(line) for line in text.splitlines() if line.strip())


def _grounded(mention: Mention, role: str, history: frozenset, candidates: frozenset) -> bool:
    if not mention.codes:
        return False
    if role == "history":
        return not history.isdisjoint(mention.codes)
    if role == "candidate":
        return not candidates.isdisjoint(mention.codes)
    return True


def _pick(mention: Mention | None, preferred: frozenset[int]) -> int:
    """One code for a mention (the one in ``preferred`` when ambiguous); -1 for none."""
    if mention is None or not mention.codes:
        return -1
    return next((code for code in mention.codes if code in preferred), mention.codes[0])


def grounding_of(
    reasoning: str, matcher: TitleMatcher, history: frozenset[int], candidates: frozenset[int]
) -> tuple[int, int]:
    """(grounded mentions, mentions) of a reasoning, codes as ``matcher`` numbers titles."""
    reading = read_reasoning(reasoning, matcher)
    grounded = sum(
        _grounded(mention, role, history, candidates)
        for mention, role in zip(reading.mentions, reading.roles, strict=True)
    )
    return grounded, len(reading.mentions)


def _null_partners(user_hashes: np.ndarray, claim_numbers: np.ndarray, size: int) -> np.ndarray:
    """A random catalog item per claim for the null, a function of (seed, user, claim
    number) alone so that rescoring any subset of samples draws the same items:
    the splitmix64 finaliser of those three, vectorised."""
    with np.errstate(over="ignore"):
        z = user_hashes + (claim_numbers.astype(np.uint64) + np.uint64(1)) * np.uint64(
            0x9E3779B97F4A7C15
        )
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z % np.uint64(size)).astype(np.int64)


def _user_hash(seed: int, user_id: str) -> int:
    digest = hashlib.blake2b(f"{seed}\x00{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


@dataclass(frozen=True)
class SampleInput:
    """What static scoring needs of one sample."""

    user_id: str
    reasoning: str
    answer_text: str
    answer: int | None  # candidate index the parser chose (first of a ranking), or None
    history: list[str]  # item ids
    candidates: list[str]


class StaticScorer:
    """Scores samples of one dataset; build once (the catalog automaton, the evidence)."""

    def __init__(self, evidence: Evidence, seed: int = 0) -> None:
        self.evidence = evidence
        self.matcher = TitleMatcher(evidence.titles)
        self.seed = seed

    def score(self, samples: list[SampleInput], jobs: int | None = None) -> list[dict]:
        """One dict of static values per sample (see the module docstring). A batch of at
        least :data:`PARALLEL_FROM` samples is split over ``jobs`` processes (default: one
        per CPU); every sample's values depend on that sample alone, so the split changes
        nothing."""
        with gc_paused():
            return map_in_chunks(
                lambda rows: self._score(samples[rows.start : rows.stop]),
                len(samples),
                PARALLEL_FROM,
                jobs,
            )

    def _score(self, samples: list[SampleInput]) -> list[dict]:
        index = self.evidence.index
        parsed = []
        pairs_x: list[int] = []
        pairs_y: list[int] = []
        null_x: list[int] = []
        null_users: list[int] = []
        null_numbers: list[int] = []
        for sample in samples:
            history = [index.get(item, -1) for item in sample.history]
            candidates = [index.get(item, -1) for item in sample.candidates]
            history_set, candidate_set = frozenset(history), frozenset(candidates)
            reading = read_reasoning(sample.reasoning, self.matcher)
            everything = history_set | candidate_set
            claims = [(_pick(x, history_set), _pick(y, everything)) for x, y in reading.claims]
            # Pairs to look up, all at once below: each claim, then its Y against every
            # history item (the strength percentile); the nulls go in their own arrays.
            for x, y in claims:
                pairs_x.append(x)
                pairs_x += history
                pairs_y += [y] * (1 + len(history))
            if claims:
                user = _user_hash(self.seed, sample.user_id)
                null_x += [x for x, _ in claims]
                null_users += [user] * len(claims)
                null_numbers += range(len(claims))
            parsed.append(
                (sample, history, candidates, history_set, candidate_set, reading, claims)
            )
        counts = self.evidence.co_counts(pairs_x, pairs_y).tolist()
        partners = _null_partners(
            np.array(null_users, dtype=np.uint64), np.array(null_numbers), len(self.evidence)
        )
        nulls = self.evidence.co_counts(null_x, partners).tolist()
        values, at, null_at = [], 0, 0
        for entry in parsed:
            claims, width = len(entry[-1]), 1 + len(entry[1])
            mine, null_counts = counts[at : at + claims * width], nulls[null_at : null_at + claims]
            values.append(self._sample_values(*entry, mine, null_counts))
            at, null_at = at + claims * width, null_at + claims
        return values

    def _sample_values(
        self,
        sample,
        history,
        candidates,
        history_set,
        candidate_set,
        reading,
        claims,
        counts,
        null_counts,
    ) -> dict:
        """``counts``: per claim, co(X, Y) then co(h, Y) for each history item h;
        ``null_counts``: co(X, random Y) per claim."""
        mentions = reading.mentions
        grounded = sum(
            _grounded(mention, role, history_set, candidate_set)
            for mention, role in zip(mentions, reading.roles, strict=True)
        )
        off_catalog = sum(not mention.codes for mention in mentions)
        cited = {mention.codes[0] for mention in mentions if mention.codes}
        claim_counts, percentiles = [], []
        width = 1 + len(history)
        for number, (x, y) in enumerate(claims):
            claimed, *others = counts[number * width : (number + 1) * width]
            resolved = x >= 0 and y >= 0
            claim_counts.append(claimed if resolved else 0)
            if resolved and x in history_set and len(history) > 1:
                below = len([other for other in others if other < claimed])
                ties = len([other for other in others if other == claimed]) - 1  # X: history
                percentiles.append((below + 0.5 * ties) / (len(history) - 1))
        values: dict = {
            "mentions": len(mentions),
            "grounded_mentions": grounded,
            "off_catalog_mentions": off_catalog,
            "grounding": grounded / len(mentions) if mentions else None,
            "off_catalog": off_catalog / len(mentions) if mentions else None,
            "cited_items": len(cited),
            "cited_history_share": len(cited & history_set) / len(history_set)
            if history_set
            else None,
            "answer_outside_candidates": self._outside(sample.answer_text, candidate_set),
            "claims": len(claims),
            "strength_percentile": sum(percentiles) / len(percentiles) if percentiles else None,
            "consistency": self._consistency(sample, reading, candidates, candidate_set),
        }
        for threshold in THRESHOLDS:
            held = sum(count >= threshold for count in claim_counts)
            null = sum(count >= threshold for count in null_counts)
            values[f"edge_validity@{threshold}"] = held / len(claims) if claims else None
            values[f"edge_null@{threshold}"] = null / len(claims) if claims else None
        return values

    def _outside(self, answer_text: str, candidate_set: frozenset) -> bool | None:
        lines = [line for line in answer_text.splitlines() if line.strip()]
        if not lines:
            return None
        codes = self.matcher.resolve(lines[0])
        return bool(codes) and candidate_set.isdisjoint(codes)

    @staticmethod
    def _consistency(sample: SampleInput, reading: _Reading, candidates, candidate_set):
        """The last candidate the reasoning names (so: in the last thought that names one)
        is the answer; None without reasoning."""
        if not sample.reasoning.strip():
            return None
        if sample.answer is None:
            return False
        reached = [m for m in reading.mentions if not candidate_set.isdisjoint(m.codes)]
        return bool(reached) and candidates[sample.answer] in reached[-1].codes
