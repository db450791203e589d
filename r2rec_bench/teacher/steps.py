"""The records of a planned example and the state that plans its steps (rules: ``plan.py``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from r2rec_bench.chains.types import Chain, ChainEdge
from r2rec_bench.teacher import options as choose
from r2rec_bench.teacher.facts import ExampleGraph, attribute_scores
from r2rec_bench.teacher.phrasing import corrected, correction, pick

if TYPE_CHECKING:
    from r2rec_bench.teacher.plan import Planner

PROFILE_ITEMS = 3
TEACHER_STREAM = 0x7EAC  # seed stream of the distractor draws, apart from the protocol's


@dataclass(frozen=True)
class Step:
    """One masked step: what is asked, the options, the truth, and the template's writing."""

    kind: str
    chain: int | None  # index of the chain it walks (None: the final step)
    edge: ChainEdge | None  # the training edge it walks
    question: str
    options: tuple[str, ...]  # how each option is shown (without its label)
    codes: tuple[int, ...]  # the options' item or user codes
    titles: tuple[str, ...]  # the options' catalog titles (empty when the options are users)
    answer: int  # index of the true node among the options
    guess: int  # the template's prediction from graph or attribute scores
    masked_item: int | None  # the masked node's item code (None when it is a user)
    reveal: str  # the step as later prompts show it once revealed ("" for the final step)
    thought: str  # the template's thought for a right prediction: facts about the step
    cited: tuple[int, ...]  # items the thought cites, in order
    # Per option, how a thought opens when that option was predicted wrongly ("" for the
    # answer; empty for the final step, whose thought already weighs the rival candidate).
    corrections: tuple[str, ...] = ()

    def written(self, prediction: int | None) -> tuple[str, tuple[int, ...]]:
        """The template's thought and its cited items after ``prediction`` (None: none)."""
        if prediction is None or prediction == self.answer or not self.corrections:
            return self.thought, self.cited
        text = corrected(self.corrections[prediction], self.thought)
        wrong = (self.codes[prediction],) if self.masked_item is not None else ()
        return text, tuple(dict.fromkeys((*wrong, *self.cited)))


@dataclass(frozen=True)
class ExamplePlan:
    row: int
    history: tuple[int, ...]
    chains: tuple[Chain, ...]
    steps: tuple[Step, ...]
    forbidden: frozenset[int] = frozenset()  # the user's later items: never cited

    @property
    def attribute_only(self) -> bool:
        return not self.chains


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _listing(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


class _Cite:
    """Quotes exact catalog titles and remembers which items a text cites."""

    def __init__(self, titles: list[str]) -> None:
        self.titles = titles
        self.codes: list[int] = []

    def __call__(self, code: int) -> str:
        if code not in self.codes:
            self.codes.append(code)
        return f'"{self.titles[code]}"'

    def in_order(self, text: str) -> tuple[int, ...]:
        """The cited items in the order the text first quotes them (phrasings reorder)."""
        return tuple(sorted(self.codes, key=lambda code: text.find(f'"{self.titles[code]}"')))


def _best(scores, skip: int | None = None) -> int:
    """The option with the highest score (the first on ties), ``skip`` left out."""
    return max((k for k in range(len(scores)) if k != skip), key=lambda k: (scores[k], -k))


class ExampleState:
    """What planning one example accumulates: revealed items, the seeded draws."""

    def __init__(
        self,
        planner: Planner,
        ex: ExampleGraph,
        history: list[int],
        candidates: list[int],
        target: int,
    ) -> None:
        self.p = planner
        self.ex = ex
        self.history = history
        self.candidates = candidates
        self.target = target
        # The history items a chain may start from or return to (a history item at the
        # target's own time is shown but carries no chain).
        self.shown = [item for item in history if item in ex.visible_set]
        self.chain_items: set[int] = set()
        self.chain_users: set[int] = {ex.user}
        self.revealed: list[int] = []  # items revealed so far, in order
        # The user's items at or after the target, in any split (its validation and test
        # targets among them), except those the history shows (a tie at the target's time):
        # never in a profile, an option or a thought.
        later = np.zeros(planner.n_items, dtype=bool)  # a mask: setdiff1d sorts, this does not
        later[ex.seen] = True
        later[ex.visible] = False
        later[history] = False
        later = np.flatnonzero(later)
        self.forbidden = frozenset(int(i) for i in later if i != target)
        self.hidden = np.zeros(planner.n_items, dtype=bool)  # chain items, the target and
        self.hidden[later] = True  # the user's later items: never in a profile (chain
        self.hidden[target] = True  # items are added as the chains are read)
        self._profiles: dict[tuple[int, int], tuple[list[int], float]] = {}
        # Seeded by who and what, not by row, so that a shard of the examples draws the same.
        self.rng = np.random.default_rng([planner.seed, TEACHER_STREAM, ex.user, target])

    def items_of(self, user: int) -> np.ndarray:
        return self.ex.visible if user == self.ex.user else self.p.graph.items_of(user)

    def profiles(self, users: Sequence[int], anchor: int) -> list[tuple[list[int], float]]:
        """Each user's profile as shown when the chain reaches them through ``anchor``, and
        how well it fits ``anchor`` (``ExampleGraph.profiles``)."""
        missing = [u for u in dict.fromkeys(users) if (u, anchor) not in self._profiles]
        if missing:
            found = self.ex.profiles(anchor, missing, self.hidden, PROFILE_ITEMS)
            self._profiles.update(zip(((u, anchor) for u in missing), found, strict=True))
        return [self._profiles[(u, anchor)] for u in users]

    def shuffled(self, true: int, distractors: list[int]) -> tuple[list[int], int]:
        nodes = [true, *distractors]
        order = self.rng.permutation(len(nodes))
        return [nodes[k] for k in order], int(np.flatnonzero(order == 0)[0])

    def _corrections(self, codes: list[int], answer: int, masks_item: bool) -> tuple[str, ...]:
        # A wrong user is never named (users are shown as anonymous profiles), so only an
        # item step's codes are titles; a user's code read as an item is another item's
        # title, or past the catalog's end when users outnumber items (MovieLens-1M).
        titles = self.p.text.titles
        return tuple(
            ""
            if k == answer
            else correction(self.rng, masks_item, f'"{titles[code]}"' if masks_item else "")
            for k, code in enumerate(codes)
        )

    # --- steps ----------------------------------------------------------------------------

    def chain_step(self, index: int, chain: Chain, j: int, reaches_target: bool) -> Step:
        """Step j of the chain: from nodes[j-1] over edges[j-1] to the masked nodes[j]."""
        before, node = chain.nodes[j - 1], chain.nodes[j]
        if node.kind == "user":
            return self._user_step(index, chain, j)
        p, ex, style = self.p, self.ex, self.p.style
        vp, vb, nouns = style.verb_past, style.verb_base, style.item_noun_plural
        cite = _Cite(p.text.titles)
        fields = {"vp": vp, "vb": vb, "nouns": nouns}
        if before.code == ex.user:
            kind = "pivot"
            others = choose.history_distractors(self.rng, self.shown, node.code, self.chain_items)
            nodes, answer = self.shuffled(node.code, others)
            question = (
                f"Which {style.item_noun} of the user's history does chain {index + 1} start from?"
            )
            reveal = f"the chain starts from {p._named(None, node.code)}."
            # Toward the candidates when the chain reaches one; back into the history if not.
            toward = self.candidates if reaches_target else self.history
            guess = int(np.argmax(ex.cosine_sum(toward, nodes)))
            thought = pick(
                self.rng, kind, item=p._named(cite, node.code),
                support=p._support(ex, cite, self.history, node.code), **fields,
            )  # fmt: skip
        else:
            arrived = chain.nodes[j - 2].code  # the item that led to this user
            context = [arrived, *self.profiles([before.code], arrived)[0][0]]
            if node.code in self.shown:  # a loop's closing item: one of the history's
                kind = "loop_item"
                theirs = set(self.items_of(before.code).tolist())
                others = choose.history_distractors(
                    self.rng, self.shown, node.code, self.chain_items | theirs
                )
                question = (
                    f"Which other {style.item_noun} of the user's history did that user also {vb}?"
                )
                reveal = (
                    f"that user also {vp} {p._named(None, node.code)}, which the user {vp} too."
                )
                shared = _plural(ex.overlap(before.code), style.item_noun, nouns)
                thought = pick(
                    self.rng, kind, item=p._named(cite, node.code), shared=shared, **fields
                )
            else:
                kind = "item"
                touched = {
                    node.code, self.target, *self.chain_items, *ex.seen.tolist(),
                    *self.p.graph.items_of(before.code).tolist(),
                }  # fmt: skip
                others = choose.item_distractors(
                    self.rng, p.graph, p.popularity, context, (before.code, ex.user), touched
                )
                question = f"Which of these {nouns} did that user also {vb}?"
                reveal = f"that user also {vp} {p._named(None, node.code)}."
                thought = pick(
                    self.rng, kind, item=p._named(cite, node.code),
                    support=p._support(ex, cite, [arrived], node.code), **fields,
                )  # fmt: skip
            nodes, answer = self.shuffled(node.code, others)
            guess = int(np.argmax(ex.cosine_sum(context, nodes, [before.code])))
        self.revealed.append(node.code)
        return Step(
            kind=kind,
            chain=index,
            edge=chain.edges[j - 1],
            question=question,
            options=tuple(p._named(None, n) for n in nodes),
            codes=tuple(nodes),
            titles=tuple(p.text.titles[n] for n in nodes),
            answer=answer,
            guess=guess,
            masked_item=node.code,
            reveal=reveal,
            thought=thought,
            cited=cite.in_order(thought),
            corrections=self._corrections(nodes, answer, masks_item=True),
        )

    def _user_step(self, index: int, chain: Chain, j: int) -> Step:
        p, ex, style = self.p, self.ex, self.p.style
        vp = style.verb_past
        before, node = chain.nodes[j - 1], chain.nodes[j]
        user_before = chain.nodes[j - 2].code
        walk_from = self.items_of(user_before)
        excluded = {*self.chain_users, *p.graph.users_of(before.code).tolist()}
        others = choose.user_distractors(
            self.rng, p.graph, walk_from[walk_from != before.code], excluded
        )
        nodes, answer = self.shuffled(node.code, others)
        profiles, fits = zip(*self.profiles(nodes, before.code), strict=True)
        cite = _Cite(p.text.titles)
        anchor = cite(before.code)
        profile = p._profile_text(cite, profiles[answer])
        shared = _plural(ex.overlap(node.code), style.item_noun, style.item_noun_plural)
        thought = pick(self.rng, "user", anchor=anchor, profile=profile, shared=shared, vp=vp)
        return Step(
            kind="user",
            chain=index,
            edge=chain.edges[j - 1],
            question=f"Which of these users also {vp} {p._named(None, before.code)}?",
            options=tuple(p._profile_text(None, profile) for profile in profiles),
            codes=tuple(nodes),
            titles=(),
            answer=answer,
            guess=int(np.argmax(fits)),
            masked_item=None,
            reveal=(
                f'"{p.text.titles[before.code]}" was also {vp} by '
                f"{p._profile_text(None, profiles[answer])}."
            ),
            thought=thought,
            cited=cite.in_order(thought),
            corrections=self._corrections(nodes, answer, masks_item=False),
        )

    def final_step(self, candidates: list[int], bridges: list[Chain], answer: int) -> Step:
        p, ex, style = self.p, self.ex, self.p.style
        vp, vb, noun, nouns = (
            style.verb_past,
            style.verb_base,
            style.item_noun,
            style.item_noun_plural,
        )
        cite = _Cite(p.text.titles)
        target = self.target
        context = [*self.history, *self.revealed]
        edge = None
        if bridges or self.revealed:
            if bridges:
                kind, edge = "target", bridges[0].edges[-1]
                last_users = [bridge.nodes[-2].code for bridge in bridges]
                question = (
                    f"The chain ends at the {noun} the user {vp} next, which the last user of "
                    f"the chain {vp} too. Which candidate is it?"
                )
            else:
                kind, last_users = "conclusion", []
                question = f"Which of these candidate {nouns} will the user {vb} next?"
            scores = ex.cosine_sum(context, candidates, last_users)
            guess = int(np.argmax(scores))
            rival = _best(scores, skip=answer)
            who = "the last user of the chain" if len(bridges) == 1 else "the chains' last users"
            fields = {
                "vp": vp, "vb": vb, "noun": noun, "who": who,
                "target": p._named(cite, target),
                "support": p._support(ex, cite, context, target),
                "rival": cite(candidates[rival]),
                "rival_support": p._support(ex, cite, context, candidates[rival]),
            }  # fmt: skip
            thought = pick(self.rng, kind if guess == answer else f"{kind}_corrected", **fields)
        else:
            kind = "attributes"
            question = (
                f"No chain links the user to the candidates. From the attributes of the "
                f"{nouns} alone, which candidate will the user {vb} next?"
            )
            scores = attribute_scores(p.text, self.history, candidates)
            guess = _best(scores)
            rival = _best(scores, skip=answer)
            thought = self._attribute_thought(cite, target, candidates[rival], guess == answer)
        return Step(
            kind=kind,
            chain=None,
            edge=edge,
            question=question,
            options=tuple(p._named(None, c) for c in candidates),
            codes=tuple(candidates),
            titles=tuple(p.text.titles[c] for c in candidates),
            answer=answer,
            guess=guess,
            masked_item=target,
            reveal="",
            thought=thought,
            cited=cite.in_order(thought),
        )

    def _attribute_thought(self, cite: _Cite, target: int, rival: int, right: bool) -> str:
        p, style = self.p, self.p.style
        counts = Counter(v for h in self.history for (_, v) in p.text.tokens(h))
        common = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
        leaning = [f"{value} ({count} of {len(self.history)})" for value, count in common]
        numbers = [v for v in (p.text.numeric(h) for h in self.history) if v is not None]
        parts = []
        if leaning:
            parts.append(f"the history leans to {_listing(leaning)}")
        if numbers:
            parts.append(f"its median {p.text.numeric_name} is {np.median(numbers):g}")
        summary = "; ".join(parts) if parts else "the history carries no attributes"
        text = (
            f"No chain links the user to the candidates, so the attributes decide: {summary}. "
            f"The user will {style.verb_base} {p._named(cite, target)} next"
        )
        overlap = {h: len(p.text.shared(h, target)) for h in self.history}
        anchor = max(self.history[::-1], key=lambda h: overlap[h])  # latest on ties
        if overlap[anchor]:
            text += f", which shares {_listing(p.text.shared(anchor, target)[:2])} with "
            text += cite(anchor)
        if right:
            return text + f"; {cite(rival)} fits the history's attributes less well."
        return text + f", although {cite(rival)} matches the history's attributes more closely."
