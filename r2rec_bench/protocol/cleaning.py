"""The protocol's first half (DESIGN.md §4): from a raw log to the interactions that survive
the catalog, rating, duplicate and k-core filters, still coded against the raw ids.

It is a function of its own so that the raw log's codes die when it returns: at tens of
millions of interactions they are tens of bytes per interaction that the splits and the
candidate draws never need.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from r2rec_bench.errors import UserError
from r2rec_bench.protocol.types import ProtocolParams, StepCount, TitleChange
from r2rec_bench.sources.types import RawLog
from r2rec_bench.task.ids import factorize_sorted

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class CleanLog:
    """Surviving interactions as codes into ``user_ids`` / ``item_ids`` (merged titles already
    mapped to the item kept), sorted by user, then item; one row per (user, item)."""

    users: np.ndarray
    items: np.ndarray
    times: np.ndarray
    rates: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    item_titles: list[str]
    item_catalog_row: np.ndarray  # -1: no catalog entry
    title_changes: list[TitleChange]
    steps: list[StepCount]
    # Every (user, item) pair a user touched, whatever its rating, as the sorted distinct keys
    # user * len(item_ids) + item: never a negative. One array rather than two code columns,
    # and deduplicated, so it is at most half their size.
    touched: np.ndarray


def present(codes: np.ndarray) -> np.ndarray:
    """The distinct values of an array of small non-negative codes, ascending.

    A bincount is linear; ``np.unique`` (hash-based in numpy 2) is not, on tens of millions.
    """
    return np.flatnonzero(np.bincount(codes))


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by a sort and a neighbour comparison: linearithmic, never hashed."""
    values = np.sort(values)
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def stable_order(*keys: np.ndarray) -> np.ndarray:
    """Stable sort order by ``keys``, the last one primary (like ``np.lexsort``).

    Keys (non-negative integers after shifting) are packed into as few int64 words as their
    bit widths allow, and each word is sorted with one stable argsort, least significant
    first: much faster than a multi-key lexsort on tens of millions of rows. Each key is
    gathered and shifted only while its word is packed, so at most one int64 copy of a key
    is alive at a time.
    """
    lows = [int(k.min()) if len(k) else 0 for k in keys]
    widths = [
        max(1, (int(k.max()) - low).bit_length() if len(k) else 1)
        for k, low in zip(keys, lows, strict=True)
    ]
    words: list[list[int]] = [[]]
    used = 0
    for index, width in enumerate(widths):  # least significant key first
        if used + width > 62 and words[-1]:
            words.append([])
            used = 0
        words[-1].append(index)
        used += width
    order = np.arange(len(keys[0]))
    for word in words:
        packed = np.zeros(len(order), dtype=np.int64)
        for index in reversed(word):
            column = np.asarray(keys[index][order], dtype=np.int64)
            column -= lows[index]
            packed <<= widths[index]
            packed |= column
            del column  # before the next key's copy, not after it
        order = order[np.argsort(packed, kind="stable")]
    return order


def count_step(step: str, users: np.ndarray, items: np.ndarray) -> StepCount:
    return StepCount(step, len(users), len(present(users)), len(present(items)))


def iterative_kcore(
    users: np.ndarray, items: np.ndarray, user_core: int, item_core: int
) -> np.ndarray:
    """Mask of interactions kept by the iterative k-core (every user and item has at least
    ``user_core`` / ``item_core`` interactions, recomputed until nothing changes)."""
    keep = np.ones(len(users), dtype=bool)
    n_users, n_items = int(users.max(initial=-1)) + 1, int(items.max(initial=-1)) + 1
    while True:
        user_degree = np.bincount(users[keep], minlength=n_users)
        item_degree = np.bincount(items[keep], minlength=n_items)
        drop = keep & ((user_degree[users] < user_core) | (item_degree[items] < item_core))
        if not drop.any():
            return keep
        keep &= ~drop


def disambiguate_titles(titles: list[str], item_ids: np.ndarray) -> list[TitleChange]:
    """Give every item whose title collides the suffix ``[id]`` (in place)."""
    by_title: dict[str, list[int]] = {}
    for code, title in enumerate(titles):
        by_title.setdefault(title, []).append(code)
    changes = []
    for title, codes in by_title.items():
        if len(codes) > 1:
            for code in codes:
                titles[code] = f"{title} [{item_ids[code]}]"
            changes.append(
                TitleChange(
                    title=title,
                    kept_id=None,
                    item_ids=tuple(str(item_ids[c]) for c in codes),
                    new_titles=tuple(titles[c] for c in codes),
                )
            )
    if len(set(titles)) != len(titles):  # a suffixed title met an existing one: vanishingly rare
        raise UserError("protocol: titles are still not unique after disambiguation")
    return changes


def clean_log(log: RawLog, params: ProtocolParams) -> CleanLog:
    """Catalog titles, minimum rating, merged duplicate titles, one row per (user, item) (the
    earliest; the lower rating breaks exact ties, so the choice never depends on row order),
    the iterative k-core and users with at least 3 interactions, each step counted."""
    raw = log.interactions
    if len(raw) == 0:
        raise UserError(f"{log.source}: the interaction log is empty; check the raw files")
    try:
        user_codes, user_ids = factorize_sorted(raw.user_id, "user id")
        item_codes, item_ids = factorize_sorted(raw.item_id, "item id")
    except UserError as exc:
        raise UserError(f"{log.source}: {exc}") from None
    timestamps = np.asarray(raw.timestamp, dtype=np.int64)
    ratings = np.asarray(raw.rating, dtype=np.float64)
    steps = [count_step("raw log", user_codes, item_codes)]

    # Attach the catalog: items without a catalog entry or a title cannot be shown to a model.
    catalog_row = _catalog_rows(log)
    item_catalog_row = np.array([catalog_row.get(i, -1) for i in item_ids], dtype=np.int64)
    item_titles = [
        _clean_title(log.catalog.title[row]) if row >= 0 else "" for row in item_catalog_row
    ]
    has_title = np.array([bool(t) for t in item_titles], dtype=bool)
    keep = has_title[item_codes]
    if not keep.all():
        steps.append(count_step("items with a catalog title", user_codes[keep], item_codes[keep]))

    if params.min_rating is not None:
        keep &= ratings >= params.min_rating
        steps.append(
            count_step(f"rating >= {params.min_rating:g}", user_codes[keep], item_codes[keep])
        )

    title_changes: list[TitleChange] = []
    if params.duplicate_titles == "merge":
        canonical, title_changes = _merge_duplicate_titles(item_titles, item_ids)
        item_codes = canonical[item_codes]
    titled = has_title[item_codes]
    touched = sorted_unique(user_codes[titled] * len(item_ids) + item_codes[titled])

    users, items = user_codes[keep], item_codes[keep]
    times, rates = timestamps[keep], ratings[keep]
    if title_changes:
        steps.append(count_step("duplicate titles merged", users, items))

    comparable = np.where(np.isnan(rates), -np.inf, rates)  # NaN (no rating) ranks lowest
    rating_codes = np.searchsorted(sorted_unique(comparable), comparable)
    del comparable  # these dels free 8 bytes per interaction each before the next peak
    order = stable_order(rating_codes, times, items, users)
    del rating_codes
    users, items, times, rates = users[order], items[order], times[order], rates[order]
    del order
    first = np.ones(len(users), dtype=bool)
    first[1:] = (users[1:] != users[:-1]) | (items[1:] != items[:-1])
    users, items, times, rates = users[first], items[first], times[first], rates[first]
    steps.append(count_step("duplicate pairs removed", users, items))

    if params.user_core or params.item_core:
        core = iterative_kcore(users, items, params.user_core, params.item_core)
        users, items, times, rates = users[core], items[core], times[core], rates[core]
        steps.append(count_step(f"{params.user_core}/{params.item_core}-core", users, items))
    enough = np.bincount(users, minlength=len(user_ids))[users] >= 3
    if not enough.all():
        users, items, times, rates = users[enough], items[enough], times[enough], rates[enough]
        steps.append(count_step("users with >= 3 interactions", users, items))
    if len(users) == 0:
        raise UserError(
            f"{log.source}: no interaction is left after filtering ({steps[-2].step} kept "
            f"{steps[-2].interactions}); lower user_core/item_core or min_rating"
        )
    return CleanLog(
        users, items, times, rates, user_ids, item_ids, item_titles, item_catalog_row,
        title_changes, steps, touched,
    )  # fmt: skip


def _clean_title(title) -> str:
    """Whitespace collapsed, and double quotes made single: reasoning cites titles inside
    double quotes, so a title must never contain one."""
    if title is None:
        return ""
    return _SPACES.sub(" ", str(title)).strip().replace('"', "'")


def _merge_duplicate_titles(
    titles: list[str], item_ids: np.ndarray
) -> tuple[np.ndarray, list[TitleChange]]:
    """Map every item to the smallest-id item carrying the same title."""
    canonical = np.arange(len(titles), dtype=np.int64)
    first_with_title: dict[str, int] = {}
    groups: dict[int, list[int]] = {}
    for code, title in enumerate(titles):  # codes ascend in id order: the first one is kept
        keeper = first_with_title.setdefault(title, code)
        if keeper != code:
            canonical[code] = keeper
            groups.setdefault(keeper, [keeper]).append(code)
    changes = [
        TitleChange(
            title=titles[keeper],
            kept_id=str(item_ids[keeper]),
            item_ids=tuple(str(item_ids[c]) for c in codes),
        )
        for keeper, codes in sorted(groups.items())
    ]
    return canonical, changes


def _catalog_rows(log: RawLog) -> dict[str, int]:
    """Catalog row of each item id. An id listed twice is an error naming both entries: which
    entry to keep would depend on the row order, and with it the titles and the fingerprint."""
    rows: dict[str, int] = {}
    for row, item_id in enumerate(log.catalog.item_id):
        first = rows.setdefault(item_id, row)
        if first != row:
            shown = str(item_id)[:80]
            raise UserError(
                f"{log.source}: item id {shown!r} is listed twice in the catalog (entries "
                f"{first + 1:,} and {row + 1:,}); keep one entry per item in the item file"
            )
    return rows
