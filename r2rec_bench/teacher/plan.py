"""Progressive masked prompting: the steps of one example, their options and template thoughts.

An example's steps are its chains' steps in order, each masking the node the step reaches,
followed by one final step that masks the target among the example's candidates:

- ``pivot``  (u0 → item): which item of the user leads on through the chain;
- ``user``   (item → user): which other user also interacted with the item;
- ``return`` (item → u0): the loop closes back at the example's user;
- ``item``   (user → item, the user not u0): which item that user also interacted with;
- final: ``target`` when a chain reaches the target (the bridges' last edge; with several
  bridges the final step claims the first one's), ``conclusion`` when the chains do not, and
  ``attributes`` when the example has no chain at all (attribute-only reasoning).

The target-reaching edge of every bridge is deferred to the single final step, so the target
is never revealed before the step that asks for it; a one-chain example with a bridge of k
edges therefore has exactly k steps, and a loop of k edges has k + 1.

Options. A non-final step shows the true node and up to ``OPTIONS - 1`` distractors drawn
(seeded by the protocol seed, the example's user and target) from plausible nodes that are
*not* connected to the step's previous node, so exactly one option is right:
items of users two hops away from the previous user (that user never touched them), or users
reached through another item of the user before (who never touched the previous item). Users
are shown anonymised by a short profile: the ``PROFILE_ITEMS`` of their items most
co-interacted with the item the chain reaches them through (counted without them, so the
profile never reads their own edge to it), leaving out every chain item and the target so no
profile gives a later step away. The final step's options are the example's candidates in
their stored order, the same list the `eval` prompt shows.

The template's guess reads what the step's prompt shows plus graph statistics over users
other than the example's (``facts.ExampleGraph``), never the edge in question:

- masked item: the option with the highest sum of item–item cosine co-interaction with the
  visible context — the history (pivot), or the item that led to the user and the user's
  profile (item step, that user left out of the counts);
- masked user: the option whose profile is most co-interacted with the previous item;
- final: the candidate with the highest cosine sum with the history and every item revealed
  so far (the bridges' last users left out); attribute-only: the candidate whose attributes
  the history shares most (``facts.attribute_scores``).

Ties go to the first option.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from r2rec_bench.chains.types import Chain, ChainEdge, ChainNode
from r2rec_bench.graph import TrainGraph
from r2rec_bench.protocol import EvalSplit, ProtocolOutput
from r2rec_bench.task.prompt import PromptStyle
from r2rec_bench.teacher.facts import CoVectors, ExampleGraph, ItemText, attribute_scores

OPTIONS = 5
PROFILE_ITEMS = 3
TEACHER_STREAM = 0x7EAC  # seed stream of the distractor draws, apart from the protocol's
_WALKS = 25  # random-walk attempts per wanted distractor before falling back to a global draw


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
    thought: str  # the template's thought: facts about the revealed step
    cited: tuple[int, ...]  # items the thought cites, in order


@dataclass(frozen=True)
class ExamplePlan:
    row: int
    history: tuple[int, ...]
    chains: tuple[Chain, ...]
    steps: tuple[Step, ...]

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


class Planner:
    """Builds every example's steps. Each example's draws depend only on that example, so
    plans do not depend on the order examples are planned in; the planner's caches make it
    one-thread-at-a-time."""

    def __init__(self, output: ProtocolOutput, graph: TrainGraph, style: PromptStyle) -> None:
        self.graph = graph
        self.style = style
        self.text = ItemText(output.catalog)
        self.seed = output.params.seed
        self.n_items = len(output.catalog)
        self.seen_keys = output.seen_keys
        popularity = output.catalog.train_popularity.astype(np.float64)
        self.popularity = popularity / popularity.sum()
        self._co_vectors = CoVectors(graph)

    # --- how nodes read -------------------------------------------------------------------

    def _named(self, cite: _Cite | None, code: int) -> str:
        title = cite(code) if cite else f'"{self.text.titles[code]}"'
        described = self.text.describe(code)
        return f"{title} ({described})" if described else title

    def _profile_text(self, cite: _Cite | None, items: Sequence[int]) -> str:
        quote = cite or (lambda code: f'"{self.text.titles[code]}"')
        if not items:
            return f"a user with no other {self.style.item_noun_plural}"
        return f"a user who {self.style.verb_past} {_listing([quote(i) for i in items])}"

    def _support(self, ex: ExampleGraph, cite: _Cite, context: Sequence[int], item: int) -> str:
        """Why ``item`` follows from the context, in graph statistics (other users only)."""
        vp = self.style.verb_past
        anchor, count = ex.best_support(context, item)
        if anchor is None:
            others = ex.degree(item)
            return f"{_plural(others, 'other user', 'other users')} {vp} it in all"
        text = f"{_plural(count, 'other user', 'other users')} who {vp} {cite(anchor)} also {vp} it"
        shared = self.text.shared(anchor, item)[:2]
        return text + (f", and the two share {_listing(shared)}" if shared else "")

    # --- the example ----------------------------------------------------------------------

    def plan(self, examples: EvalSplit, row: int, chains: tuple[Chain, ...]) -> ExamplePlan:
        user, target = int(examples.user[row]), int(examples.target[row])
        lo, hi = np.searchsorted(self.seen_keys, [user * self.n_items, (user + 1) * self.n_items])
        ex = ExampleGraph(
            self.graph,
            self._co_vectors,
            user,
            int(examples.target_timestamp[row]),
            self.seen_keys[lo:hi] - user * self.n_items,
        )
        history = [int(i) for i in examples.history(row)]
        candidates = [int(i) for i in examples.candidates[row]]
        state = _ExampleState(self, ex, history, target)
        for node in (n for chain in chains for n in chain.nodes):
            if node.kind == "item" and node.code == target:
                continue
            (state.chain_items if node.kind == "item" else state.chain_users).add(node.code)
        state.hidden[list(state.chain_items)] = True
        steps = []
        bridges = []
        for index, chain in enumerate(chains):
            if chain.nodes[0] != ChainNode("user", user):
                raise ValueError(f"chain {index} of example {row} does not start at its user")
            last = len(chain.edges)
            if chain.nodes[-1] == ChainNode("item", target):
                bridges.append(chain)
                last -= 1  # the target-reaching edge waits for the final step
            steps += [state.chain_step(index, chain, j) for j in range(1, last + 1)]
        steps.append(state.final_step(candidates, bridges, int(examples.target_index[row])))
        return ExamplePlan(row, tuple(history), tuple(chains), tuple(steps))


class _ExampleState:
    """What planning one example accumulates: revealed items, the seeded draws."""

    def __init__(
        self,
        planner: Planner,
        ex: ExampleGraph,
        history: list[int],
        target: int,
    ) -> None:
        self.p = planner
        self.ex = ex
        self.history = history
        self.target = target
        self.chain_items: set[int] = set()
        self.chain_users: set[int] = {ex.user}
        self.revealed: list[int] = []  # items revealed so far, in order
        self.hidden = np.zeros(planner.n_items, dtype=bool)  # chain items and the target:
        self.hidden[target] = True  # never in a profile (filled in as chains are read)
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

    # --- distractors ----------------------------------------------------------------------

    def item_distractors(self, previous_user: int, known: Sequence[int], true: int) -> list[int]:
        """Items the previous user never touched, found two hops away through ``known``."""
        graph, rng, ex = self.p.graph, self.rng, self.ex
        # For u0, every split: no future item of u0 is ever a distractor.
        mine = ex.seen if previous_user == ex.user else graph.items_of(previous_user)
        touched = {true, self.target, *self.chain_items, *mine.tolist()}
        wanted = OPTIONS - 1
        chosen: list[int] = []
        draws = rng.random((_WALKS * wanted, 3)) if len(known) else np.empty((0, 3))
        for pick_item, pick_user, pick_next in draws:
            users = graph.users_of(known[int(pick_item * len(known))])
            other = int(users[int(pick_user * len(users))])
            if other in (previous_user, ex.user):  # never walk through u0's hidden edges
                continue
            items = graph.items_of(other)
            item = int(items[int(pick_next * len(items))])
            if item not in touched and item not in chosen:
                chosen.append(item)
                if len(chosen) == wanted:
                    return chosen
        for item in rng.choice(self.p.n_items, size=_WALKS * wanted, p=self.p.popularity):
            item = int(item)
            if item not in touched and item not in chosen:
                chosen.append(item)
                if len(chosen) == wanted:
                    break
        return chosen

    def user_distractors(self, previous_item: int, user_before: int) -> list[int]:
        """Users who never touched the previous item, reached through another item of the user
        before it, so they resemble that user as the true one does."""
        graph, rng = self.p.graph, self.rng
        known = self.items_of(user_before)
        known = known[known != previous_item]
        excluded = {*self.chain_users, *graph.users_of(previous_item).tolist()}
        wanted = OPTIONS - 1
        chosen: list[int] = []
        draws = rng.random((_WALKS * wanted, 2)) if len(known) else np.empty((0, 2))
        for pick_item, pick_user in draws:
            users = graph.users_of(known[int(pick_item * len(known))])
            other = int(users[int(pick_user * len(users))])
            if other not in excluded and other not in chosen:
                chosen.append(other)
                if len(chosen) == wanted:
                    return chosen
        for other in rng.integers(graph.n_users, size=_WALKS * wanted):
            other = int(other)
            if other not in excluded and other not in chosen:
                chosen.append(other)
                if len(chosen) == wanted:
                    break
        return chosen

    def shuffled(self, true: int, distractors: list[int]) -> tuple[list[int], int]:
        nodes = [true, *distractors]
        order = self.rng.permutation(len(nodes))
        return [nodes[k] for k in order], int(np.flatnonzero(order == 0)[0])

    # --- steps ----------------------------------------------------------------------------

    def chain_step(self, index: int, chain: Chain, j: int) -> Step:
        """Step j of the chain: from nodes[j-1] over edges[j-1] to the masked nodes[j]."""
        p, ex, style = self.p, self.ex, self.p.style
        vp, vb = style.verb_past, style.verb_base
        nouns = style.item_noun_plural
        before, node, edge = chain.nodes[j - 1], chain.nodes[j], chain.edges[j - 1]
        cite = _Cite(p.text.titles)
        if node.kind == "item":
            if before.code == ex.user:
                kind, context = "pivot", self.history
                question = f"Which of these {nouns} did the user {vb}, leading on to the chain?"
                reveal = f"the user {vp} {p._named(None, node.code)}."
                thought = (
                    f"The user {vp} {p._named(cite, node.code)}: "
                    f"{p._support(ex, cite, context, node.code)}."
                )
            else:
                arrived = chain.nodes[j - 2].code  # the item that led to this user
                kind, context = "item", [arrived, *self.profiles([before.code], arrived)[0][0]]
                question = f"Which of these {nouns} did that user also {vb}?"
                reveal = f"that user also {vp} {p._named(None, node.code)}."
                thought = (
                    f"That user also {vp} {p._named(cite, node.code)}: "
                    f"{p._support(ex, cite, [arrived], node.code)}."
                )
            nodes, answer = self.shuffled(
                node.code, self.item_distractors(before.code, context, node.code)
            )
            without = [] if kind == "pivot" else [before.code]
            guess = int(np.argmax(ex.cosine_sum(context, nodes, without)))
            options = [p._named(None, n) for n in nodes]
            titles = [p.text.titles[n] for n in nodes]
            self.revealed.append(node.code)
            masked_item = node.code
        else:
            user_before = chain.nodes[j - 2].code
            nodes, answer = self.shuffled(
                node.code, self.user_distractors(before.code, user_before)
            )
            profiles, fits = zip(*self.profiles(nodes, before.code), strict=True)
            guess = int(np.argmax(fits))
            options = [p._profile_text(None, profile) for profile in profiles]
            titles = []
            question = f"Which of these users also {vp} {p._named(None, before.code)}?"
            # How alike the two users are: the other user against u0's visible items.
            other = user_before if node.code == ex.user else node.code
            shared = _plural(ex.overlap(other), style.item_noun, nouns)
            if node.code == ex.user:
                kind = "return"
                reveal = f'"{p.text.titles[before.code]}" leads back to the user.'
                thought = (
                    f"{cite(before.code)} leads back to the user, who {vp} it too: the loop "
                    f"closes, and the other user shares {shared} with them."
                )
            else:
                kind = "user"
                profile = profiles[answer]
                reveal = (
                    f'"{p.text.titles[before.code]}" was also {vp} by '
                    f"{p._profile_text(None, profile)}."
                )
                thought = (
                    f"{cite(before.code)} leads to another user who {vp} it: "
                    f"{p._profile_text(cite, profile)}, sharing {shared} with the user."
                )
            masked_item = None
        return Step(
            kind=kind,
            chain=index,
            edge=edge,
            question=question,
            options=tuple(options),
            codes=tuple(nodes),
            titles=tuple(titles),
            answer=answer,
            guess=guess,
            masked_item=masked_item,
            reveal=reveal,
            thought=thought,
            cited=tuple(cite.codes),
        )

    def final_step(self, candidates: list[int], bridges: list[Chain], answer: int) -> Step:
        p, ex, style = self.p, self.ex, self.p.style
        vp, vb, noun = style.verb_past, style.verb_base, style.item_noun
        nouns = style.item_noun_plural
        cite = _Cite(p.text.titles)
        target = self.target
        context = [*self.history, *self.revealed]
        edge = None
        if bridges:
            kind, edge = "target", bridges[0].edges[-1]
            last_users = [bridge.nodes[-2].code for bridge in bridges]
            question = (
                f"The chain ends at the {noun} the user {vp} next, which the last user of the "
                f"chain {vp} too. Which candidate is it?"
            )
            who = "the last user of the chain" if len(bridges) == 1 else "the chains' last users"
            thought = (
                f"So the user will {vb} {p._named(cite, target)} next: {who} {vp} it, and "
                f"{p._support(ex, cite, context, target)}."
            )
            guess = int(np.argmax(ex.cosine_sum(context, candidates, last_users)))
        elif self.revealed:
            kind = "conclusion"
            question = f"Which of these candidate {nouns} will the user {vb} next?"
            thought = (
                f"Putting the chain together, the user will {vb} {p._named(cite, target)} "
                f"next: {p._support(ex, cite, context, target)}."
            )
            guess = int(np.argmax(ex.cosine_sum(context, candidates)))
        else:
            kind = "attributes"
            question = (
                f"No chain links the user to the candidates. From the attributes of the "
                f"{nouns} alone, which candidate will the user {vb} next?"
            )
            thought = self._attribute_thought(cite, target)
            scores = attribute_scores(p.text, self.history, candidates)
            guess = max(range(len(candidates)), key=lambda k: (scores[k], -k))
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
            cited=tuple(cite.codes),
        )

    def _attribute_thought(self, cite: _Cite, target: int) -> str:
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
        return text + "."
