"""The bipartite user–item graph of training interactions (DESIGN §3, §6).

Two views of the same edges: compressed adjacency arrays (numpy) that the chain sampler and
teachers query in O(log d) per lookup, and an igraph ``Graph`` (built on demand) for
structural statistics and for checking chains against the graph independently.
Only ``interactions/train`` ever enters it: no validation or test target can be reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from r2rec_bench.protocol import TrainLog


def _csr(keys: np.ndarray, n: int) -> np.ndarray:
    pointer = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=pointer[1:])
    return pointer


@dataclass(frozen=True, eq=False)
class TrainGraph:
    n_users: int
    n_items: int
    # By user, each user's edges in the protocol's order (timestamp, then the tie rule).
    user_ptr: np.ndarray
    user_items: np.ndarray
    user_times: np.ndarray
    user_ratings: np.ndarray
    # By item, each item's edges in (user) order.
    item_ptr: np.ndarray
    item_users: np.ndarray
    item_times: np.ndarray
    # Sorted ``user * n_items + item`` keys with the matching edge index into the user view.
    edge_keys: np.ndarray
    edge_index: np.ndarray

    @classmethod
    def from_train(cls, train: TrainLog, n_users: int, n_items: int) -> TrainGraph:
        users = train.user.astype(np.int64)
        items = train.item.astype(np.int64)
        # ``train`` comes in the protocol's order; a stable sort by (user, time) keeps its
        # same-second order, so "the last H items before T" are the history the prompt shows.
        by_user = np.lexsort((train.timestamp, users))
        by_item = np.lexsort((users, items))
        keys = users[by_user] * n_items + items[by_user]
        key_order = np.argsort(keys, kind="stable")
        return cls(
            n_users=n_users,
            n_items=n_items,
            user_ptr=_csr(users, n_users),
            user_items=items[by_user].astype(np.int32),
            user_times=train.timestamp[by_user].astype(np.int64),
            user_ratings=train.rating[by_user].astype(np.float64),
            item_ptr=_csr(items, n_items),
            item_users=users[by_item].astype(np.int32),
            item_times=train.timestamp[by_item].astype(np.int64),
            edge_keys=keys[key_order],
            edge_index=key_order,
        )

    @property
    def n_edges(self) -> int:
        return len(self.user_items)

    def user_degree(self) -> np.ndarray:
        return np.diff(self.user_ptr)

    def item_degree(self) -> np.ndarray:
        return np.diff(self.item_ptr)

    def items_of(self, user: int, before: int | None = None) -> np.ndarray:
        """The user's items in time order, only those strictly before ``before`` if given."""
        start, end = self.user_ptr[user], self.user_ptr[user + 1]
        if before is not None:
            end = start + np.searchsorted(self.user_times[start:end], before, side="left")
        return self.user_items[start:end]

    def users_of(self, item: int) -> np.ndarray:
        return self.item_users[self.item_ptr[item] : self.item_ptr[item + 1]]

    def edge(self, user: int, item: int) -> tuple[int, float] | None:
        """(timestamp, rating) of the training edge, or None if there is none."""
        key = user * self.n_items + item
        position = np.searchsorted(self.edge_keys, key)
        if position == len(self.edge_keys) or self.edge_keys[position] != key:
            return None
        index = self.edge_index[position]
        return int(self.user_times[index]), float(self.user_ratings[index])

    def has_edges(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Vectorised edge test for many (user, item) pairs."""
        keys = np.asarray(users, dtype=np.int64) * self.n_items + np.asarray(items, np.int64)
        position = np.minimum(np.searchsorted(self.edge_keys, keys), len(self.edge_keys) - 1)
        return self.edge_keys[position] == keys

    def co_interactions(self, item_a: int, item_b: int) -> int:
        """Number of users with training edges to both items."""
        return len(np.intersect1d(self.users_of(item_a), self.users_of(item_b), True))

    @cached_property
    def paths_via_item_entries(self) -> np.ndarray:
        """Cumulative 2-path counts over the item view, for drawing uniform 2-paths: entry j
        (user u of item i) starts ``user_degree[u]`` paths i → u → any item of u, and element j
        is the number of paths before it (computed once per graph, for the chain sampler)."""
        return np.concatenate([[0], np.cumsum(self.user_degree()[self.item_users])])

    @cached_property
    def paths_via_user_entries(self) -> np.ndarray:
        """The same over the user view: entry e (item i of user u) starts ``item_degree[i]``
        paths u → i → any user of i."""
        return np.concatenate([[0], np.cumsum(self.item_degree()[self.user_items])])

    @cached_property
    def igraph(self):
        """The same graph in igraph: vertices 0..n_users-1 are users, then items; edges carry
        ``timestamp`` and ``rating``."""
        import igraph

        users = np.repeat(np.arange(self.n_users), self.user_degree())
        graph = igraph.Graph(
            n=self.n_users + self.n_items,
            edges=np.column_stack([users, self.user_items.astype(np.int64) + self.n_users]),
        )
        graph.vs["type"] = [False] * self.n_users + [True] * self.n_items
        graph.es["timestamp"] = self.user_times.tolist()
        graph.es["rating"] = self.user_ratings.tolist()
        return graph

    def statistics(self) -> dict:
        """Structural facts for the dataset card."""
        graph = self.igraph
        components = graph.connected_components()
        user_degree, item_degree = self.user_degree(), self.item_degree()
        return {
            "users": self.n_users,
            "items": self.n_items,
            "edges": self.n_edges,
            "density": self.n_edges / max(1, self.n_users * self.n_items),
            "connected_components": len(components),
            "largest_component_share": max(components.sizes()) / graph.vcount(),
            "user_degree_median": float(np.median(user_degree)),
            "item_degree_median": float(np.median(item_degree)),
        }
