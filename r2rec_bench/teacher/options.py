"""The wrong options of a masked step: plausible nodes that the step's previous node does not
connect to, so that exactly one option is right, and none the prompt gives away.

A step's options must not be told apart by reading the prompt: when the true node is an item
of the history the prompt lists (a chain's first item, a loop's closing item), every option is
such an item (``history_distractors``); when it is not, no option is one of the user's items
(``item_distractors``), in any split — which also keeps the user's validation and test
targets out of the options.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from r2rec_bench.graph import TrainGraph

OPTIONS = 5
_WALKS = 25  # random-walk attempts per wanted distractor before falling back to a global draw


def history_distractors(
    rng: np.random.Generator, shown: Sequence[int], true: int, excluded: set[int]
) -> list[int]:
    """Up to ``OPTIONS - 1`` other shown history items, none in ``excluded``."""
    pool = [item for item in shown if item != true and item not in excluded]
    if len(pool) <= OPTIONS - 1:
        return pool
    return [pool[k] for k in sorted(rng.choice(len(pool), OPTIONS - 1, replace=False).tolist())]


def item_distractors(
    rng: np.random.Generator,
    graph: TrainGraph,
    popularity: np.ndarray,
    walk_from: Sequence[int],
    avoid_users: tuple[int, ...],
    touched: set[int],
) -> list[int]:
    """Items outside ``touched`` found two hops away through the ``walk_from`` items (never
    through the ``avoid_users``, whose hidden edges must not be walked), else popular ones."""
    wanted = OPTIONS - 1
    chosen: list[int] = []
    draws = rng.random((_WALKS * wanted, 3)) if len(walk_from) else np.empty((0, 3))
    for pick_item, pick_user, pick_next in draws:
        users = graph.users_of(walk_from[int(pick_item * len(walk_from))])
        other = int(users[int(pick_user * len(users))])
        if other in avoid_users:
            continue
        items = graph.items_of(other)
        item = int(items[int(pick_next * len(items))])
        if item not in touched and item not in chosen:
            chosen.append(item)
            if len(chosen) == wanted:
                return chosen
    for item in rng.choice(len(popularity), size=_WALKS * wanted, p=popularity):
        item = int(item)
        if item not in touched and item not in chosen:
            chosen.append(item)
            if len(chosen) == wanted:
                break
    return chosen


def user_distractors(
    rng: np.random.Generator, graph: TrainGraph, walk_from: np.ndarray, excluded: set[int]
) -> list[int]:
    """Users outside ``excluded`` reached through the ``walk_from`` items, so they resemble
    the user those items belong to, as the true one does."""
    wanted = OPTIONS - 1
    chosen: list[int] = []
    draws = rng.random((_WALKS * wanted, 2)) if len(walk_from) else np.empty((0, 2))
    for pick_item, pick_user in draws:
        users = graph.users_of(walk_from[int(pick_item * len(walk_from))])
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
