"""Progressive masked prompting: the steps of one example, their options and template thoughts.

An example's steps are its chains' steps in order, each masking the node the step reaches,
followed by one final step that masks the target among the example's candidates:

- ``pivot``  (u0 → item): which item of the user's history the chain starts from;
- ``user``   (item → user): which other user also interacted with the item;
- ``item``   (user → item, the user not u0): which item that user also interacted with;
- ``loop_item`` (a loop's u1 → i1): which other history item that user also interacted with;
  the loop's last edge (i1 → u0) closes it and is no question of its own, as every option
  of a loop_item step is one of the user's items;
- final: ``target`` when a chain reaches the target (the bridges' last edge; with several
  bridges the final step claims the first one's), ``conclusion`` when the chains do not, and
  ``attributes`` when the example has no chain at all (attribute-only reasoning).

The target-reaching edge of every bridge is deferred to the single final step, so the target
is never revealed before the step that asks for it: a one-chain example with a bridge of k
edges has exactly k steps, and one with a loop (4 edges) and a bridge of k edges k + 3.

Options (``options.py``): the true node and up to ``OPTIONS - 1`` wrong ones, drawn (seeded by
the protocol seed, the example's user and target) so that exactly one is right and none can be
told apart by reading the prompt: when the true node is an item of the shown history, the
others are history items too; otherwise none is any item of the user's, in any split. Users
are shown anonymised by a short profile: the ``PROFILE_ITEMS`` of their items most
co-interacted with the item the chain reaches them through (counted without them, so the
profile never reads their own edge to it), leaving out every chain item, the target and the
user's own later items (so no profile gives a later step, or the user's validation or test
target, away). The final step's options are the example's candidates in their stored order,
the same list the `eval` prompt shows. Each step records how many options it had, so a
verified share can be read against its chance level.

The template's guess reads what the step's prompt shows plus graph statistics over users
other than the example's (``facts.ExampleGraph``), never the edge in question:

- pivot: the history item with the highest item–item cosine co-interaction sum with the
  candidates (a chain that reaches the target) or with the rest of the history (a loop);
- masked item: the option with the highest cosine sum with the item that led to the user and
  the user's profile (that user left out of the counts);
- masked user: the option whose profile is most co-interacted with the previous item;
- final: the candidate with the highest cosine sum with the history and every item revealed
  so far (the bridges' last users left out); attribute-only: the candidate whose attributes
  the history shares most (``facts.attribute_scores``).

Ties go to the first option. Thoughts (``phrasing.py``) are written once the node is revealed,
in one of a few phrasings; the final thought weighs the answer against the strongest other
candidate, and a step the template predicted wrongly is written as the correction it is (the
wrong guess named, then the truth) — kept, not dropped, so that a chain stays whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from r2rec_bench.chains.types import Chain, ChainNode
from r2rec_bench.graph import TrainGraph
from r2rec_bench.protocol import EvalSplit, ProtocolOutput
from r2rec_bench.task.prompt import PromptStyle
from r2rec_bench.teacher.facts import CoVectors, ExampleGraph, ItemText
from r2rec_bench.teacher.steps import ExamplePlan, ExampleState, Step, _Cite, _listing, _plural

__all__ = ["ExamplePlan", "Planner", "Step"]


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
        state = ExampleState(self, ex, history, candidates, target)
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
            reaches = chain.nodes[-1] == ChainNode("item", target)
            if reaches:
                bridges.append(chain)
                last -= 1  # the target-reaching edge waits for the final step
            elif chain.nodes[-1] == chain.nodes[0]:
                last -= 1  # a loop's closing edge is revealed with the item before it
            steps += [state.chain_step(index, chain, j, reaches) for j in range(1, last + 1)]
        steps.append(state.final_step(candidates, bridges, int(examples.target_index[row])))
        return ExamplePlan(row, tuple(history), tuple(chains), tuple(steps), state.forbidden)
