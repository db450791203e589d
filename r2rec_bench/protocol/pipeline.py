"""From a raw log to splits, histories and fixed candidates (DESIGN.md §4).

Everything here is vectorised over integer codes, so the protocol runs in time linear in the
log (plus sorts) and handles logs of tens of millions of interactions on a laptop.
"""

from __future__ import annotations

import numpy as np

from r2rec_bench.errors import UserError
from r2rec_bench.protocol.candidates import draw_negatives, place_target
from r2rec_bench.protocol.cleaning import clean_log, disambiguate_titles, present, stable_order
from r2rec_bench.protocol.types import (
    EvalSplit,
    ProtocolCatalog,
    ProtocolOutput,
    ProtocolParams,
    TrainLog,
)
from r2rec_bench.sources.types import RawLog
from r2rec_bench.task.order import tie_keys

# Seed-sequence keys: each split draws its candidates from its own independent stream.
VALIDATION_STREAM, TEST_STREAM, TRAINING_STREAM = 1, 2, 3


def _recode(codes: np.ndarray, kept: np.ndarray, size: int) -> np.ndarray:
    """Map codes in ``kept`` (ascending) to 0..len(kept)-1 with a lookup table: linear."""
    table = np.full(size, -1, dtype=np.int64)
    table[kept] = np.arange(len(kept))
    return table[codes]


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


def run_protocol(log: RawLog, params: ProtocolParams) -> ProtocolOutput:
    """Apply DESIGN.md §4 to ``log``: the result does not depend on the raw row order."""
    clean = clean_log(log, params)
    user_ids, item_ids, steps = clean.user_ids, clean.item_ids, clean.steps
    users, items, times, rates = clean.users, clean.items, clean.times, clean.rates
    item_titles, item_catalog_row = clean.item_titles, clean.item_catalog_row
    title_changes, touched = clean.title_changes, clean.touched
    del clean  # each of its arrays is replaced below: holding them all is the peak at 10M

    # Re-code the survivors densely; codes still follow id order.
    kept_users = present(users)
    kept_items = present(items)
    users = _recode(users, kept_users, len(user_ids)).astype(np.int32)
    items = _recode(items, kept_items, len(item_ids)).astype(np.int32)
    n_items = len(kept_items)

    # Per-user chronological order; same-second ties by the seeded hash of (user, item)
    # (item codes only separate the vanishingly rare equal 48-bit keys).
    ties = tie_keys(users, items, user_ids[kept_users], item_ids[kept_items], params.tie_seed)
    order = stable_order(items, ties, times, users)
    users, items, times, rates = users[order], items[order], times[order], rates[order]
    lengths = np.bincount(users, minlength=len(kept_users))
    starts = np.zeros(len(kept_users), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])

    # Catalog of the survivors, with unique titles.
    titles = [item_titles[code] for code in kept_items]
    if params.duplicate_titles == "disambiguate":
        title_changes = disambiguate_titles(titles, item_ids[kept_items])
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
    # Re-coding is monotone in both codes, so the keys stay sorted and distinct.
    touched_users, touched_items = np.divmod(touched, len(item_ids))
    touched_users = _recode(touched_users, kept_users, len(user_ids))
    touched_items = _recode(touched_items, kept_items, len(item_ids))
    survives = (touched_users >= 0) & (touched_items >= 0)
    seen_keys = touched_users[survives] * n_items + touched_items[survives]
    del touched_users, touched_items

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
