"""Seeded negative sampling: fixed candidate lists stored in the dataset (DESIGN.md §4)."""

from __future__ import annotations

import numpy as np

from r2rec_bench.errors import UserError


def _later_duplicates(rows: np.ndarray) -> np.ndarray:
    """Mask of entries that repeat an item already present earlier in the same row."""
    order = np.argsort(rows, axis=1, kind="stable")
    sorted_rows = np.take_along_axis(rows, order, axis=1)
    repeat_sorted = np.zeros_like(rows, dtype=bool)
    repeat_sorted[:, 1:] = sorted_rows[:, 1:] == sorted_rows[:, :-1]
    repeats = np.zeros_like(repeat_sorted)
    np.put_along_axis(repeats, order, repeat_sorted, axis=1)
    return repeats


def draw_negatives(
    rng: np.random.Generator,
    users: np.ndarray,
    n_items: int,
    seen_keys: np.ndarray,
    count: int,
    popularity: np.ndarray | None = None,
) -> np.ndarray:
    """``count`` distinct items per user that the user never touched.

    Uniform (``popularity`` None) or with probability proportional to ``popularity``.
    Rejection sampling, vectorised over users: every entry that is a seen item or repeats an
    earlier entry of its row is redrawn until none is left; it gives a uniform (or
    popularity-weighted, successive) sample without replacement from the allowed items.
    """
    users = users.astype(np.int64)
    seen_per_user = np.bincount(seen_keys // n_items, minlength=int(users.max(initial=0)) + 1)
    if popularity is None:
        allowed = n_items - seen_per_user[users]
    else:
        # Items of zero popularity can never be drawn; count what each user can still get.
        drawable = popularity > 0
        seen_items = seen_keys % n_items
        seen_drawable = np.bincount(
            seen_keys[drawable[seen_items]] // n_items, minlength=len(seen_per_user)
        )
        allowed = int(drawable.sum()) - seen_drawable[users]
    short = np.flatnonzero(allowed < count)
    if len(short):
        raise UserError(
            f"protocol: {len(short)} user(s) have fewer than {count} items left to draw as "
            f"negatives (first: user code {int(users[short[0]])}); lower 'num_candidates' "
            f"or use a larger catalog"
        )
    probabilities = None if popularity is None else popularity / popularity.sum()

    def draw(size):
        if probabilities is None:
            return rng.integers(0, n_items, size=size, dtype=np.int64)
        return rng.choice(n_items, size=size, p=probabilities)

    sample = draw((len(users), count))
    row_users = np.broadcast_to(users[:, None], sample.shape)
    while True:
        keys = row_users * n_items + sample
        position = np.minimum(np.searchsorted(seen_keys, keys), len(seen_keys) - 1)
        bad = (seen_keys[position] == keys) | _later_duplicates(sample)
        n_bad = int(bad.sum())
        if not n_bad:
            return sample.astype(np.int32)
        sample[bad] = draw(n_bad)


def place_target(
    rng: np.random.Generator, negatives: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates with the target at a uniform random slot; returns (candidates, slots)."""
    rows, width = negatives.shape[0], negatives.shape[1] + 1
    slots = rng.integers(0, width, size=rows)
    candidates = np.empty((rows, width), dtype=np.int32)
    is_target = np.arange(width)[None, :] == slots[:, None]
    candidates[is_target] = target
    candidates[~is_target] = negatives.reshape(-1)
    return candidates, slots.astype(np.int32)
