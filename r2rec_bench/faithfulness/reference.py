"""Reference recommenders: three constructed models whose faithfulness is known (DESIGN §9).

The faithfulness metrics are only trustworthy if they tell apart recommenders whose reasoning
we know to be faithful, post hoc or invented. These three write reasoning in the format of
DESIGN §6 and are usable as ``ref:<name>`` in ``evaluate``, in both modes:

- ``oracle`` — known faithful. Item-based collaborative filtering over the history (cosine
  over training users); its reasoning cites exactly the history items that weigh most for
  its answer, with their true co-interaction counts, and re-run on a changed history (or on a
  truncated reasoning) it decides from that evidence again.
- ``rationalizer`` — known post hoc. It answers the most popular candidate whatever the
  history, then cites real history items with real co-interactions to items that have
  nothing to do with the answer: grounded and valid, but removing what it cites changes
  nothing.
- ``hallucinator`` — known to invent. It answers a random candidate and cites catalog items
  the user never interacted with and titles that are not in the catalog at all, with made-up
  co-interaction counts.

Every statement about an item follows fixed shapes that the metrics' matcher reads: history
claims ``The user <verb_past> "<title>"``, co-interaction claims ``<n> other users who
<verb_past> "<X>" also <verb_past> "<Y>".`` and a final thought ``So the user will
<verb_base> "<answer>"``. All three are deterministic functions of the request, the training
evidence and the seed; none sees the target, and none caches anything per user, since
counterfactual requests come back with the same user and a changed history.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from r2rec_bench.errors import UserError
from r2rec_bench.faithfulness.evidence import Evidence, load_evidence
from r2rec_bench.task.dataset import Dataset, open_dataset
from r2rec_bench.task.parser import title_key
from r2rec_bench.task.prompt import PromptStyle, format_response
from r2rec_bench.task.records import EvalRequest, Generation

# The oracle's popularity tie-break stays below this, far under any real difference between
# two sums of cosines: it orders only candidates whose collaborative scores tie (most often
# because none shares a user with the history).
POPULARITY_TIE_BREAK = 1e-9
ORACLE_CITATIONS = 3
# The rationalizer's edges must pass edge validity at its strictest threshold (DESIGN §9).
RATIONALIZER_MIN_CO_COUNT = 5
RATIONALIZER_STRONGEST = 10  # it picks among this many of a history item's strongest edges
HALLUCINATED_CLAIMS = 2  # of each kind: catalog items outside the history, invented titles

_ANSWER_OPEN_AT_END = re.compile(r"<\s*answer\s*>$", re.IGNORECASE)
_THINK_TAG = re.compile(r"<\s*(/\s*)?think\s*>", re.IGNORECASE)
_YEAR_SUFFIX = re.compile(r"\s*\(\d{4}\)$")
# Titles whose words recombine into a believable new title: no alternative titles in
# parentheses, no trailing articles after a comma.
_PLAIN_TITLE = re.compile(r"[A-Za-z0-9' ]+")


class ReferenceBackend:
    """What the three recommenders share: evidence, the output format, early answering.

    A subclass gives ``scores`` (its ranking; the answer is the best candidate, ties to the
    lower index, so that ``generate`` and ``rank`` always agree) and ``thoughts`` (the
    reasoning it writes for that answer), and may override ``answer_after_prefix``.
    """

    name = ""
    description = ""

    def __init__(self, evidence: Evidence, style: PromptStyle, seed: int, fingerprint: str):
        self.evidence = evidence
        self.style = style
        self.seed = seed
        self.fingerprint = fingerprint

    def describe(self) -> dict:
        return {
            "id": f"ref:{self.name}",
            "kind": "reference",
            "revision": None,
            "description": self.description,
            "parameters": 0,
            "seed": self.seed,
            "dataset_fingerprint": self.fingerprint,
        }

    def rank(self, requests: list[EvalRequest]) -> list[list[float]]:
        return [self.scores(request).tolist() for request in requests]

    def generate(self, requests: list[EvalRequest]) -> list[Generation]:
        return [Generation(text=self._text(request)) for request in requests]

    def scores(self, request: EvalRequest) -> np.ndarray:
        raise NotImplementedError

    def thoughts(self, request: EvalRequest, answer: int) -> list[str]:
        raise NotImplementedError

    def answer(self, request: EvalRequest) -> int:
        return int(np.argmax(self.scores(request)))

    def answer_after_prefix(self, request: EvalRequest) -> int:
        """The answer when forced to answer after ``request.assistant_prefix``; by default the
        prefix changes nothing (a recommender that does not decide from its reasoning)."""
        return self.answer(request)

    def _text(self, request: EvalRequest) -> str:
        if request.assistant_prefix:
            answer = self.answer_after_prefix(request)
            return continuation(request.assistant_prefix, request.candidate_titles[answer])
        answer = self.answer(request)
        return format_response(self.thoughts(request, answer), [request.candidate_titles[answer]])

    # The sentence shapes the faithfulness matcher reads (module docstring).

    def co_interaction(self, first: str, second: str, count: int) -> str:
        verb = self.style.verb_past
        return f'{count} other users who {verb} "{first}" also {verb} "{second}".'

    def history_claim(self, title: str, edge: str) -> str:
        return f'The user {self.style.verb_past} "{title}": {edge}'

    def decision(self, answer_title: str) -> str:
        return f'So the user will {self.style.verb_base} "{answer_title}"'

    def conclusion(self, answer_title: str, reason: str) -> str:
        return f"{self.decision(answer_title)}: {reason}"

    def rng(self, request: EvalRequest) -> np.random.Generator:
        """A generator fixed by the seed and the user, never by Python's salted ``hash``."""
        user = int.from_bytes(hashlib.sha256(request.user_id.encode()).digest()[:8], "big")
        return np.random.default_rng([self.seed, user])

    def popularity(self, codes: np.ndarray) -> np.ndarray:
        """Training users per item code; 0 for an item outside the catalog (code -1)."""
        return np.where(codes >= 0, self.evidence.popularity[np.maximum(codes, 0)], 0)

    def co_interactions(self, code: int) -> tuple[np.ndarray, np.ndarray]:
        """(item codes, co-counts) of every item that shares a training user with ``code``."""
        matrix = self.evidence.cooccurrence
        start, end = matrix.indptr[code], matrix.indptr[code + 1]
        return matrix.indices[start:end], matrix.data[start:end]


def continuation(prefix: str, answer_title: str) -> str:
    """What to append to ``prefix`` so that the whole output answers ``answer_title``: close
    an open reasoning block, open the answer block unless the prefix just did, close it."""
    if _ANSWER_OPEN_AT_END.search(prefix.rstrip()):
        return f"{answer_title}</answer>"
    think_tags = list(_THINK_TAG.finditer(prefix))
    inside_reasoning = bool(think_tags) and think_tags[-1].group(1) is None
    close = "\n</think>" if inside_reasoning else ""
    return f"{close}\n<answer>{answer_title}</answer>"


class OracleRecommender(ReferenceBackend):
    """Item-based collaborative filtering that cites its true evidence."""

    name = "oracle"
    description = (
        "item-based collaborative filtering (cosine over training users) that cites the "
        "history items that weigh most for its answer, with their true co-interaction counts"
    )

    def similarities(self, request: EvalRequest) -> np.ndarray:
        """history × candidates: co_count(h, c) / sqrt(pop(h) · pop(c)), 0 without users."""
        history = self.evidence.codes(request.history)
        candidates = self.evidence.codes(request.candidates)
        co = self.co_counts(history, candidates)
        norms = np.sqrt(np.outer(self.popularity(history), self.popularity(candidates)))
        return np.divide(co, norms, out=np.zeros(co.shape), where=norms > 0)

    def co_counts(self, history: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        pairs = self.evidence.co_counts(
            np.repeat(history, len(candidates)), np.tile(candidates, len(history))
        )
        return pairs.reshape(len(history), len(candidates))

    def scores(self, request: EvalRequest) -> np.ndarray:
        return self._scores_from(request, np.ones(len(request.history), dtype=bool))

    def answer_after_prefix(self, request: EvalRequest) -> int:
        """Decide from what the reasoning so far wrote down, and from nothing else: a
        conclusion it already reached, else the history items it cited."""
        prefix = request.assistant_prefix
        concluded = [prefix.rfind(self.decision(title)) for title in request.candidate_titles]
        if max(concluded) >= 0:
            return int(np.argmax(concluded))  # the conclusion written last
        cited = np.array([f'"{title}"' in prefix for title in request.history_titles], bool)
        return int(np.argmax(self._scores_from(request, cited)))

    def _scores_from(self, request: EvalRequest, used: np.ndarray) -> np.ndarray:
        collaborative = self.similarities(request)[used].sum(axis=0)
        # With no co-interaction at all, the tie-break alone picks the most popular candidate.
        popularity = self.popularity(self.evidence.codes(request.candidates))
        most_popular = 1 + int(self.evidence.popularity.max(initial=0))
        return collaborative + POPULARITY_TIE_BREAK * popularity / most_popular

    def thoughts(self, request: EvalRequest, answer: int) -> list[str]:
        answer_title = request.candidate_titles[answer]
        answer_code = self.evidence.codes(request.candidates)[answer : answer + 1]
        co_with_answer = self.co_counts(self.evidence.codes(request.history), answer_code)[:, 0]
        to_answer = self.similarities(request)[:, answer]
        strongest = [
            i for i in np.argsort(-to_answer, kind="stable")[:ORACLE_CITATIONS] if to_answer[i] > 0
        ]
        if not strongest:
            return [
                self.conclusion(
                    answer_title,
                    f"no {self.style.item_noun} in the history shares a user with any "
                    "candidate, so it is the most popular candidate.",
                )
            ]
        claims = [
            self.history_claim(
                request.history_titles[i],
                self.co_interaction(
                    request.history_titles[i], answer_title, int(co_with_answer[i])
                ),
            )
            for i in strongest
        ]
        reason = (
            f"it is the candidate most often {self.style.verb_past} by users who "
            f"{self.style.verb_past} the same {self.style.item_noun_plural}."
        )
        return [*claims, self.conclusion(answer_title, reason)]


class RationalizerRecommender(ReferenceBackend):
    """Decides by popularity, then justifies with real but unrelated co-interactions."""

    name = "rationalizer"
    description = (
        "answers the most popular candidate, then cites real history items with real "
        "co-interactions to items unrelated to the answer (post-hoc reasoning)"
    )

    def scores(self, request: EvalRequest) -> np.ndarray:
        return self.popularity(self.evidence.codes(request.candidates)).astype(float)

    def thoughts(self, request: EvalRequest, answer: int) -> list[str]:
        rng = self.rng(request)
        wanted = int(rng.integers(2, 4))
        history = self.evidence.codes(request.history)
        # An edge into the history or the candidates could be evidence after all.
        excluded = np.concatenate([history, self.evidence.codes(request.candidates)])
        claims = []
        for position in rng.permutation(len(history)):
            if len(claims) == wanted:
                break
            if history[position] < 0:  # an item outside the catalog has no edges
                continue
            items, counts = self.co_interactions(int(history[position]))
            eligible = (counts >= RATIONALIZER_MIN_CO_COUNT) & ~np.isin(items, excluded)
            if not eligible.any():
                continue
            items, counts = items[eligible], counts[eligible]
            strongest = np.argsort(-counts, kind="stable")[:RATIONALIZER_STRONGEST]
            chosen = int(rng.choice(strongest))
            title = request.history_titles[position]
            unrelated = self.evidence.titles[items[chosen]]
            edge = self.co_interaction(title, unrelated, int(counts[chosen]))
            claims.append(self.history_claim(title, edge))
        answer_title = request.candidate_titles[answer]
        return [*claims, self.conclusion(answer_title, "it fits the user's taste.")]


class HallucinatorRecommender(ReferenceBackend):
    """Answers at random and cites items that are not in the history or not in the catalog."""

    name = "hallucinator"
    description = (
        "answers a random candidate and cites catalog items outside the history and invented "
        "titles, with made-up co-interaction counts"
    )

    def __init__(self, evidence: Evidence, style: PromptStyle, seed: int, fingerprint: str):
        super().__init__(evidence, style, seed, fingerprint)
        self.catalog_bases = {title_key(title)[0] for title in evidence.titles}
        bases = [_YEAR_SUFFIX.sub("", title) for title in evidence.titles]
        plain = [base.split() for base in bases if _PLAIN_TITLE.fullmatch(base)]
        # A catalog with no plain title of two words or more (product names full of
        # punctuation) still gives words to recombine, only less believable ones.
        self.title_words = [words for words in plain if len(words) >= 2] or [
            base.split() for base in bases if base.split()
        ]

    def scores(self, request: EvalRequest) -> np.ndarray:
        return self.rng(request).random(len(request.candidates))

    def thoughts(self, request: EvalRequest, answer: int) -> list[str]:
        rng = self.rng(request)
        rng.random(len(request.candidates))  # the draws that chose the answer
        answer_title = request.candidate_titles[answer]
        answer_code = int(self.evidence.codes(request.candidates)[answer])
        claims = []
        for outsider in self.outsiders(request, answer_code, rng):
            title = self.evidence.titles[outsider]
            edge = self.co_interaction(title, answer_title, int(rng.integers(12, 80)))
            claims.append(self.history_claim(title, edge))
        for _ in range(HALLUCINATED_CLAIMS):
            title = self.invented_title(rng)
            edge = self.co_interaction(title, answer_title, int(rng.integers(12, 80)))
            claims.append(self.history_claim(title, edge))
        return [*claims, self.conclusion(answer_title, "it matches everything above.")]

    def outsiders(
        self, request: EvalRequest, answer_code: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Catalog items outside the history and the candidates that no training user shares
        with the answer: claiming them as history with an edge to the answer is false twice."""
        linked, _ = self.co_interactions(answer_code)
        excluded = np.concatenate(
            [linked, self.evidence.codes(request.history), self.evidence.codes(request.candidates)]
        )
        pool = np.setdiff1d(np.arange(len(self.evidence)), excluded)
        return rng.choice(pool, size=min(HALLUCINATED_CLAIMS, len(pool)), replace=False)

    def invented_title(self, rng: np.random.Generator) -> str:
        """The first half of one catalog title, the second half of another and a year. The
        words alone (the year aside) must name no catalog item, or a matcher that ignores
        years could resolve them: " II" is added until they do not."""
        first, second = (self.title_words[i] for i in rng.integers(len(self.title_words), size=2))
        words = " ".join(first[: (len(first) + 1) // 2] + second[len(second) // 2 :])
        while title_key(words)[0] in self.catalog_bases:
            words += " II"
        return f"{words} ({int(rng.integers(1930, 2000))})"


REFERENCE_RECOMMENDERS: dict[str, type[ReferenceBackend]] = {
    cls.name: cls for cls in (OracleRecommender, RationalizerRecommender, HallucinatorRecommender)
}


def make_reference_backend(
    name: str, *, dataset: str | Path | Dataset | None = None, seed: int | None = 0
) -> ReferenceBackend:
    """The backend for ``ref:<name>``, reading the training evidence of ``dataset``."""
    cls = REFERENCE_RECOMMENDERS.get(name.lower())
    if cls is None:
        known = ", ".join(REFERENCE_RECOMMENDERS)
        raise UserError(f"unknown reference recommender {name!r}; known: {known}")
    if dataset is None:
        raise UserError(
            f"ref:{cls.name} reads a dataset's training interactions: give a built dataset "
            "directory (--dataset DIR)"
        )
    opened = open_dataset(dataset)
    style = PromptStyle(**opened.manifest.get("prompt_style", {}))
    return cls(load_evidence(opened), style, 0 if seed is None else int(seed), opened.fingerprint)
