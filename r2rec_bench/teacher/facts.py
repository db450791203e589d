"""What a teacher may know about one training example: graph statistics and item attributes.

Every statistic is taken over the *other* users of the training graph: the example's own user
``u0`` is left out of co-interaction counts and degrees, because ``u0``'s edge to the target
(and to anything after it) is itself a training edge, and counting it would let the teacher
read the answer off the graph.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Sequence

import numpy as np

from r2rec_bench.graph import TrainGraph
from r2rec_bench.protocol import ProtocolCatalog


def _missing(value) -> bool:
    """None, NaN or an empty string or list: an attribute the item does not have."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    return hasattr(value, "__len__") and len(value) == 0


class ItemText:
    """Titles and attributes of the catalog, as prompts and thoughts write them."""

    def __init__(self, catalog: ProtocolCatalog) -> None:
        self.titles = catalog.title
        self._specs = catalog.attribute_specs
        self._values = catalog.attributes
        self._described: dict[int, str] = {}
        self._tokens: dict[int, tuple[tuple[str, str], ...]] = {}
        numeric = [s.name for s in self._specs if s.kind in ("int", "float")]
        # One numeric attribute (a year, a price) summarises a history in attribute-only
        # reasoning; the first the source declares is its most characteristic.
        self.numeric_name = numeric[0] if numeric else None

    def describe(self, code: int) -> str:
        """``year 1995; genres Animation, Comedy`` (empty when the item has no attributes)."""
        if code not in self._described:
            parts = []
            for spec in self._specs:
                value = self._values[spec.name][code]
                if _missing(value):
                    continue
                if spec.kind == "list":
                    text = ", ".join(str(v) for v in value[:3])
                elif spec.kind == "float":
                    text = f"{value:g}"
                else:
                    text = str(value)
                # A double quote outside a title would break "every quoted span is a title".
                parts.append(f"{spec.name} {text}".replace('"', "'"))
            self._described[code] = "; ".join(parts)
        return self._described[code]

    def tokens(self, code: int) -> tuple[tuple[str, str], ...]:
        """Categorical attribute values of the item as (attribute, value) pairs."""
        if code not in self._tokens:
            found: list[tuple[str, str]] = []
            for spec in self._specs:
                value = self._values[spec.name][code]
                if _missing(value):
                    continue
                if spec.kind == "list":
                    found += [(spec.name, str(v).replace('"', "'")) for v in value]
                elif spec.kind == "str":
                    found.append((spec.name, str(value).replace('"', "'")))
            self._tokens[code] = tuple(dict.fromkeys(found))
        return self._tokens[code]

    def numeric(self, code: int) -> float | None:
        if self.numeric_name is None:
            return None
        value = self._values[self.numeric_name][code]
        return None if _missing(value) else float(value)

    def shared(self, a: int, b: int) -> list[str]:
        """Categorical values the two items have in common, in ``b``'s order."""
        mine = set(self.tokens(a))
        return [value for name, value in self.tokens(b) if (name, value) in mine]


# Multiply-adds up to which every count is computed at once, as a product of dense 0/1
# matrices (BLAS; about a second here for MovieLens-1M's 6,040 × 3,706²), before a build's
# planning processes fork and share it. Each vector on demand costs a pass over its
# item's audience instead, which is cheaper for a large sparse log.
DENSE_PRODUCT_WORK = 2 * 10**11
_USER_BLOCK = 4096  # users per product, to bound the 0/1 block's memory


def _all_counts(graph: TrainGraph) -> np.ndarray:
    """The item × item co-interaction counts (users with edges to both; the diagonal is the
    degree), summed over blocks of users as float32 products of their 0/1 rows: exact, as
    every sum of 0/1 products stays an integer below 2**24 (fewer users than that)."""
    n_items = graph.n_items
    counts = np.zeros((n_items, n_items), dtype=np.float32)
    for start in range(0, graph.n_users, _USER_BLOCK):
        stop = min(start + _USER_BLOCK, graph.n_users)
        ptr = graph.user_ptr[start : stop + 1]
        rows = np.repeat(np.arange(stop - start), np.diff(ptr))
        indicator = np.zeros((stop - start, n_items), dtype=np.float32)
        indicator[rows, graph.user_items[ptr[0] : ptr[-1]]] = 1.0
        counts += indicator.T @ indicator
    return counts.astype(np.int32)


class CoVectors:
    """Each item's co-interaction counts with every item, computed on demand (a vector costs
    a pass over its item's whole audience). When the whole item × item matrix fits in
    ``budget`` bytes its rows are kept in one array, so a block of counts is one fancy index
    rather than a Python loop over rows; otherwise rows are kept while they fit, least
    recently used first out (anchors repeat across examples: popular items)."""

    def __init__(
        self, graph: TrainGraph, budget: int = 1 << 28, dense_work: int = DENSE_PRODUCT_WORK
    ) -> None:
        self.graph = graph
        self.degree = graph.item_degree()
        n_items = max(1, graph.n_items)
        self.capacity = max(16, budget // (4 * n_items))
        self._dense, self._done = None, np.zeros(n_items, dtype=bool)
        if (
            self.capacity >= n_items
            and graph.n_users * n_items * n_items <= dense_work
            and graph.n_users < 1 << 24
        ):
            self._dense, self._done[:] = _all_counts(graph), True
        elif self.capacity >= n_items:
            # np.zeros maps zeroed pages lazily: rows never asked for cost no memory.
            self._dense = np.zeros((n_items, n_items), np.int32)
        self._kept: OrderedDict[int, np.ndarray] = OrderedDict()

    def __call__(self, item: int) -> np.ndarray:
        if self._dense is not None:
            if not self._done[item]:
                self._dense[item] = self._count(item)
                self._done[item] = True
            return self._dense[item]
        if item in self._kept:
            self._kept.move_to_end(item)
            return self._kept[item]
        vector = self._count(item)
        self._kept[item] = vector
        if len(self._kept) > self.capacity:
            self._kept.popitem(last=False)
        return vector

    def block(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """The counts of ``rows`` × ``columns`` (int64)."""
        if self._dense is None:
            found = [self(a)[columns] for a in rows.tolist()]
            return np.array(found, dtype=np.int64).reshape(len(rows), len(columns))
        for item in rows[~self._done[rows]].tolist():
            self(item)
        return self._dense[np.ix_(rows, columns)].astype(np.int64)

    def _count(self, item: int) -> np.ndarray:
        graph = self.graph
        theirs = [graph.items_of(user) for user in graph.users_of(item).tolist()]
        return np.bincount(
            np.concatenate([np.empty(0, np.int32), *theirs]), minlength=graph.n_items
        ).astype(np.int32)


class ExampleGraph:
    """Graph statistics for one example, over every user but the example's own.

    A prediction must not read the edge it is asked about, so the scoring statistics
    (``cosine_sum``, ``profiles``) also leave out the users whose edge the step questions:
    the user an item step starts from, each masked-user option, the users a chain reaches
    the target through (``without``). The thoughts' counts (``best_support``), written once
    the step is revealed, leave out only the example's user.
    """

    def __init__(
        self,
        graph: TrainGraph,
        co_vectors: CoVectors,
        user: int,
        before: int,
        seen: np.ndarray,
    ) -> None:
        self.graph = graph
        self.user = user
        self.visible = graph.items_of(user, before=before)  # u0's edges the chains may use
        self.visible_set = set(self.visible.tolist())
        self.seen = seen  # sorted items u0 touched in any split: never a distractor for u0
        self._co = co_vectors
        self._own = np.zeros(graph.n_items, dtype=bool)  # every training item of u0
        self._own[graph.items_of(user)] = True

    def _left_out(self, items: np.ndarray, without: Sequence[int]) -> np.ndarray:
        """For each of ``items``, which left-out users (u0 first, then ``without``) have it."""
        rows = [self._own[items]]
        for user in without:
            theirs = np.zeros(self.graph.n_items, dtype=bool)
            theirs[self.graph.items_of(user)] = True
            rows.append(theirs[items])
        return np.array(rows, dtype=np.int64)

    def co(self, context: Sequence[int], options: Sequence[int], without: Sequence[int] = ()):
        """Users other than u0 and ``without`` with edges to both, context × options; the
        diagonal of an item with itself is its degree."""
        context = np.asarray(context, dtype=np.int64)
        options = np.asarray(options, dtype=np.int64)
        return self._co.block(context, options) - (
            self._left_out(context, without).T @ self._left_out(options, without)
        )

    def degrees(self, items: Sequence[int], without: Sequence[int] = ()) -> np.ndarray:
        items = np.asarray(items, dtype=np.int64)
        return self._co.degree[items] - self._left_out(items, without).sum(axis=0)

    def cosine_sum(
        self, context: Sequence[int], options: Sequence[int], without: Sequence[int] = ()
    ) -> np.ndarray:
        """For each option ``o``: Σ over context items ``a`` of co(a, o) / √(deg a · deg o),
        counting neither u0 nor the users in ``without``. An option that is itself in the
        context scores 1 from itself, as a reader who sees it listed would."""
        context = list(dict.fromkeys(int(a) for a in context))
        counts = self.co(context, options, without)
        scale = np.sqrt(np.outer(self.degrees(context, without), self.degrees(options, without)))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(scale > 0, counts / scale, 0.0).sum(axis=0)

    def degree(self, item: int) -> int:
        return int(self.degrees([item])[0])

    def best_support(self, context: Sequence[int], item: int) -> tuple[int | None, int]:
        """The context item (other than ``item``) with the most other users in common with
        ``item``, and that count; ties go to the earliest in ``context``."""
        context = [a for a in dict.fromkeys(context) if a != item]
        if not context:
            return None, 0
        counts = self.co(context, [item])[:, 0]
        best = int(np.argmax(counts))
        return (context[best], int(counts[best])) if counts[best] else (None, 0)

    def profiles(
        self, anchor: int, users: Sequence[int], hidden: np.ndarray, size: int
    ) -> list[tuple[list[int], float]]:
        """For each user: their ``size`` items most co-interacted with ``anchor`` (cosine over
        users other than u0 and that user, so their own edge to ``anchor`` is never read),
        most recent first on ties, leaving out ``hidden`` items and the anchor; and the
        summed cosine of those items. u0's items are its visible ones."""
        graph = self.graph
        users = np.asarray(users, dtype=np.int64)
        # Every user's items, newest first; u0's cut to its visible prefix.
        starts = graph.user_ptr[users]
        lengths = graph.user_ptr[users + 1] - starts
        lengths[users == self.user] = len(self.visible)
        ends = np.cumsum(lengths)
        owner = np.repeat(np.arange(len(users)), lengths)
        newest_first = np.repeat(starts + lengths - 1 + ends - lengths, lengths) - np.arange(
            ends[-1]
        )
        items = graph.user_items[newest_first].astype(np.int64)
        other = (users != self.user).astype(np.int64)  # u0 is already out of every count
        watched = other * graph.has_edges(users, np.full(len(users), anchor))
        # Co-interactions with the anchor, u0's own (if it has the anchor) taken out.
        co = self._co(anchor)[items] - self._own[anchor] * self._own[items] - watched[owner]
        all_degrees = self._co.degree
        degree = all_degrees[items] - self._own[items] - other[owner]
        anchor_degree = (all_degrees[anchor] - self._own[anchor] - watched)[owner]
        with np.errstate(divide="ignore", invalid="ignore"):
            cosine = np.where(
                (degree > 0) & (anchor_degree > 0), co / np.sqrt(degree * anchor_degree), 0.0
            )
        keep = ~hidden[items] & (items != anchor)
        found = []
        for start, end in zip((ends - lengths).tolist(), ends.tolist(), strict=True):
            mine, scores = items[start:end][keep[start:end]], cosine[start:end][keep[start:end]]
            best = np.argsort(-scores, kind="stable")[:size]  # stable: newest first on ties
            found.append((mine[best].tolist(), float(scores[best].sum())))
        return found

    def overlap(self, other: int) -> int:
        """Items the other user shares with u0's visible items."""
        visible = self.visible_set
        return sum(1 for i in self.graph.items_of(other).tolist() if i in visible)


def attribute_scores(
    text: ItemText, history: Sequence[int], options: Sequence[int]
) -> list[tuple[float, float]]:
    """Attribute-only preference of the history for each option, as sortable pairs.

    First: the mean, over the option's categorical values, of how many history items carry
    that value. Then (ties): closeness of the option's numeric attribute to the history median.
    """
    support = Counter(token for h in history for token in text.tokens(h))
    numbers = [v for v in (text.numeric(h) for h in history) if v is not None]
    median = float(np.median(numbers)) if numbers else None
    scores = []
    for o in options:
        tokens = text.tokens(o)
        share = sum(support[t] for t in tokens) / len(tokens) if tokens else 0.0
        value = text.numeric(o)
        closeness = -abs(value - median) if value is not None and median is not None else -np.inf
        scores.append((share, closeness))
    return scores
