"""From a raw log to splits, histories and fixed candidates (DESIGN.md §4).

Everything here is vectorised over integer codes, so the protocol runs in time linear in the
log (plus sorts) and handles logs of tens of millions of interactions on a laptop.
"""

from __future__ import annotations

import re

import numpy as np

from r2rec_bench.errors import UserError
from r2rec_bench.protocol.candidates import draw_negatives, place_target
from r2rec_bench.protocol.types import (
    EvalSplit,
    ProtocolCatalog,
    ProtocolOutput,
    ProtocolParams,
    StepCount,
    TitleChange,
    TrainLog,
)
from r2rec_bench.sources.types import RawLog
from r2rec_bench.task.ids import factorize_sorted
from r2rec_bench.task.order import tie_keys

_SPACES = re.compile(r"\s+")
# Seed-sequence keys: each split draws its candidates from its own independent stream.
VALIDATION_STREAM, TEST_STREAM, TRAINING_STREAM = 1, 2, 3


def _present(codes: np.ndarray) -> np.ndarray:
    """The distinct values of an array of small non-negative codes, ascending.

    A bincount is linear; ``np.unique`` (hash-based in numpy 2) is not, on tens of millions.
    """
    return np.flatnonzero(np.bincount(codes))


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by a sort and a neighbour comparison: linearithmic, never hashed."""
    values = np.sort(values)
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def _order(*keys: np.ndarray) -> np.ndarray:
    """Stable sort order by ``keys``, the last one primary (like ``np.lexsort``).

    Keys (non-negative integers after shifting) are packed into as few int64 words as their
    bit widths allow, and each word is sorted with one stable argsort, least significant
    first: much faster than a multi-key lexsort on tens of millions of rows.
    """
    shifted = [k.astype(np.int64) - int(k.min()) if len(k) else k.astype(np.int64) for k in keys]
    widths = [max(1, int(k.max()).bit_length()) if len(k) else 1 for k in shifted]
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
            packed = (packed << widths[index]) | shifted[index][order]
        order = order[np.argsort(packed, kind="stable")]
    return order


def _recode(codes: np.ndarray, kept: np.ndarray, size: int) -> np.ndarray:
    """Map codes in ``kept`` (ascending) to 0..len(kept)-1 with a lookup table: linear."""
    table = np.full(size, -1, dtype=np.int64)
    table[kept] = np.arange(len(kept))
    return table[codes]


def _count(step: str, users: np.ndarray, items: np.ndarray) -> StepCount:
    return StepCount(step, len(users), len(_present(users)), len(_present(items)))


def _clean_title(title) -> str:
    """Whitespace collapsed, and double quotes made single: reasoning cites titles inside
    double quotes, so a title must never contain one."""
    if title is None:
        return ""
    return _SPACES.sub(" ", str(title)).strip().replace('"', "'")


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


def _disambiguate_titles(titles: list[str], item_ids: np.ndarray) -> list[TitleChange]:
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


def _eval_split(
    user_starts: np.ndarray,
    user_lengths: np.ndarray,
    target_offset: int,
    items: np.ndarray,
    timestamps: np.ndarray,
    history_length: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Targets at ``length - target_offset`` per user and the histories right before them."""
    target_position = user_starts + user_lengths - target_offset
    history_start = np.maximum(user_starts, target_position - history_length)
    history_sizes = target_position - history_start
    offsets = np.zeros(len(user_starts) + 1, dtype=np.int64)
    np.cumsum(history_sizes, out=offsets[1:])
    # Positions of every history entry, built without a Python loop over users.
    within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], history_sizes)
    positions = np.repeat(history_start, history_sizes) + within
    return (
        items[target_position],
        timestamps[target_position],
        offsets,
        items[positions],
        timestamps[positions],
        target_position,
    )


def _split_with_candidates(
    name: str,
    params: ProtocolParams,
    stream: int,
    users: np.ndarray,
    history: tuple[np.ndarray, ...],
    n_items: int,
    seen_keys: np.ndarray,
    popularity: np.ndarray,
) -> EvalSplit:
    """An EvalSplit from targets and histories, with seeded fixed candidates from ``stream``."""
    target, target_time, offsets, hist_items, hist_times, _ = history
    rng = np.random.default_rng(np.random.SeedSequence([params.seed, stream]))
    negatives = draw_negatives(
        rng,
        users,
        n_items,
        seen_keys,
        params.num_candidates - 1,
        popularity if params.negatives == "popular" else None,
    )
    candidates, slots = place_target(rng, negatives, target)
    return EvalSplit(
        name=name,
        user=users.astype(np.int32),
        target=target.astype(np.int32),
        target_timestamp=target_time,
        history_offsets=offsets,
        history_items=hist_items.astype(np.int32),
        history_timestamps=hist_times,
        candidates=candidates,
        target_index=slots,
    )


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


def run_protocol(log: RawLog, params: ProtocolParams) -> ProtocolOutput:
    """Apply DESIGN.md §4 to ``log``: the result does not depend on the raw row order."""
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
    steps = [_count("raw log", user_codes, item_codes)]

    # Attach the catalog: items without a catalog entry or a title cannot be shown to a model.
    catalog_row = _catalog_rows(log)
    item_catalog_row = np.array([catalog_row.get(i, -1) for i in item_ids], dtype=np.int64)
    item_titles = [
        _clean_title(log.catalog.title[row]) if row >= 0 else "" for row in item_catalog_row
    ]
    has_title = np.array([bool(t) for t in item_titles], dtype=bool)
    keep = has_title[item_codes]
    if not keep.all():
        steps.append(_count("items with a catalog title", user_codes[keep], item_codes[keep]))

    if params.min_rating is not None:
        keep &= ratings >= params.min_rating
        steps.append(_count(f"rating >= {params.min_rating:g}", user_codes[keep], item_codes[keep]))

    title_changes: list[TitleChange] = []
    if params.duplicate_titles == "merge":
        canonical, title_changes = _merge_duplicate_titles(item_titles, item_ids)
        item_codes = canonical[item_codes]
    # Every (user, item) pair the user touched, whatever its rating: never a negative.
    touched_users, touched_items = (
        user_codes[has_title[item_codes]],
        item_codes[has_title[item_codes]],
    )

    users, items = user_codes[keep], item_codes[keep]
    times, rates = timestamps[keep], ratings[keep]
    if title_changes:
        steps.append(_count("duplicate titles merged", users, items))

    # Duplicate (user, item) pairs keep the earliest; rating breaks exact ties so that the
    # choice never depends on row order.
    comparable = np.where(np.isnan(rates), -np.inf, rates)  # NaN (no rating) ranks lowest
    rating_codes = np.searchsorted(_sorted_unique(comparable), comparable)
    order = _order(rating_codes, times, items, users)
    users, items, times, rates = users[order], items[order], times[order], rates[order]
    first = np.ones(len(users), dtype=bool)
    first[1:] = (users[1:] != users[:-1]) | (items[1:] != items[:-1])
    users, items, times, rates = users[first], items[first], times[first], rates[first]
    steps.append(_count("duplicate pairs removed", users, items))

    if params.user_core or params.item_core:
        core = iterative_kcore(users, items, params.user_core, params.item_core)
        users, items, times, rates = users[core], items[core], times[core], rates[core]
        steps.append(_count(f"{params.user_core}/{params.item_core}-core", users, items))
    enough = np.bincount(users, minlength=len(user_ids))[users] >= 3
    if not enough.all():
        users, items, times, rates = users[enough], items[enough], times[enough], rates[enough]
        steps.append(_count("users with >= 3 interactions", users, items))
    if len(users) == 0:
        raise UserError(
            f"{log.source}: no interaction is left after filtering ({steps[-2].step} kept "
            f"{steps[-2].interactions}); lower user_core/item_core or min_rating"
        )

    # Re-code the survivors densely; codes still follow id order.
    kept_users = _present(users)
    kept_items = _present(items)
    users = _recode(users, kept_users, len(user_ids)).astype(np.int32)
    items = _recode(items, kept_items, len(item_ids)).astype(np.int32)
    n_items = len(kept_items)

    # Per-user chronological order; same-second ties by the seeded hash of (user, item)
    # (item codes only separate the vanishingly rare equal 48-bit keys).
    ties = tie_keys(users, items, user_ids[kept_users], item_ids[kept_items], params.tie_seed)
    order = _order(items, ties, times, users)
    users, items, times, rates = users[order], items[order], times[order], rates[order]
    lengths = np.bincount(users, minlength=len(kept_users))
    starts = np.zeros(len(kept_users), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])

    # Catalog of the survivors, with unique titles.
    titles = [item_titles[code] for code in kept_items]
    if params.duplicate_titles == "disambiguate":
        title_changes = _disambiguate_titles(titles, item_ids[kept_items])
    surviving_rows = item_catalog_row[kept_items]
    attributes = {
        name: [values[row] for row in surviving_rows]
        for name, values in log.catalog.attributes.items()
    }
    merged_into: dict[str, list[str]] = {}
    for change in title_changes:
        if change.kept_id is not None:
            merged_into[change.kept_id] = [i for i in change.item_ids if i != change.kept_id]
    kept_item_ids = item_ids[kept_items]

    tied_targets = _tied_targets(starts, lengths, times)
    is_train = np.ones(len(users), dtype=bool)
    is_train[starts + lengths - 1] = False
    is_train[starts + lengths - 2] = False
    train = TrainLog(users[is_train], items[is_train], times[is_train], rates[is_train])

    # Seen pairs for negative sampling: the raw log's touches of surviving users and items.
    touched = np.stack(
        [
            _recode(touched_users, kept_users, len(user_ids)),
            _recode(touched_items, kept_items, len(item_ids)),
        ]
    )
    touched = touched[:, (touched[0] >= 0) & (touched[1] >= 0)]
    seen_keys = _sorted_unique(touched[0] * n_items + touched[1])

    popularity = np.bincount(train.item, minlength=n_items).astype(np.int64)
    user_index = np.arange(len(kept_users), dtype=np.int32)
    splits = {}
    for name, offset, stream in (
        ("validation", 2, VALIDATION_STREAM),
        ("test", 1, TEST_STREAM),
    ):
        history = _eval_split(starts, lengths, offset, items, times, params.history_length)
        splits[name] = _split_with_candidates(
            name, params, stream, user_index, history, n_items, seen_keys, popularity
        )

    catalog = ProtocolCatalog(
        item_id=kept_item_ids,
        title=titles,
        attributes=attributes,
        attribute_specs=log.catalog.attribute_specs,
        merged_ids=[merged_into.get(str(i), []) for i in kept_item_ids],
        train_popularity=popularity,
    )
    return ProtocolOutput(
        params=params,
        user_id=user_ids[kept_users],
        catalog=catalog,
        train=train,
        validation=splits["validation"],
        test=splits["test"],
        steps=steps,
        title_changes=title_changes,
        seen_keys=seen_keys,
        tied_targets=tied_targets,
    )


def _tied_targets(starts: np.ndarray, lengths: np.ndarray, times: np.ndarray) -> dict[str, int]:
    """How many users' validation and test targets share their second with another of the
    user's interactions: where only the tie rule decides what is held out."""
    test, validation = starts + lengths - 1, starts + lengths - 2
    test_tied = times[test] == times[validation]  # the test target is the user's last
    before_validation = np.maximum(validation - 1, starts)
    validation_tied = test_tied | (
        (validation > starts) & (times[validation] == times[before_validation])
    )
    return {"validation": int(validation_tied.sum()), "test": int(test_tied.sum())}


def training_targets(output: ProtocolOutput, per_user: int) -> EvalSplit:
    """Each user's last ``per_user`` training interactions as targets, with histories and
    candidates built exactly like the evaluation splits' (for the `sft` and `rl` configs).

    Only training interactions are used: a history is the training items before the target,
    so no validation or test target can appear in it. A target needs at least one history
    item, so a user with ``n`` training interactions gives ``min(per_user, n - 1)`` targets.
    """
    if per_user < 1:
        raise UserError("training targets per user must be at least 1")
    train, params = output.train, output.params
    n_users = len(output.user_id)
    lengths = np.bincount(train.user, minlength=n_users)
    starts = np.zeros(n_users, dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    counts = np.minimum(per_user, np.maximum(lengths - 1, 0))
    # Row r of user u targets position len - k with k = counts[u] .. 1 (oldest target first).
    row_user = np.repeat(np.arange(n_users), counts)
    first_row = np.zeros(n_users, dtype=np.int64)
    np.cumsum(counts[:-1], out=first_row[1:])
    offset_from_end = counts[row_user] - (np.arange(len(row_user)) - first_row[row_user])
    history = _eval_split(
        starts[row_user],
        lengths[row_user],
        offset_from_end,
        train.item,
        train.timestamp,
        params.history_length,
    )
    return _split_with_candidates(
        "train",
        params,
        TRAINING_STREAM,
        row_user.astype(np.int32),
        history,
        len(output.catalog),
        output.seen_keys,
        output.catalog.train_popularity,
    )
