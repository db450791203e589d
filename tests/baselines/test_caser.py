"""Caser: its training examples, hand-checked, and a score that depends on the user and on the
last ``max_len`` items only."""

from __future__ import annotations

import numpy as np

from r2rec_bench.baselines.caser import training_examples
from r2rec_bench.baselines.data import TrainingData


def _data(sequences: list[list[int]]) -> TrainingData:
    users = np.concatenate([[u] * len(s) for u, s in enumerate(sequences)]).astype(np.int64)
    items = np.concatenate(sequences).astype(np.int64)
    return TrainingData(
        dataset="hand",
        fingerprint="-",
        user_ids=np.array([f"u{u}" for u in range(len(sequences))]),
        item_ids=np.array([f"i{i}" for i in range(int(items.max()) + 1)]),
        users=users,
        items=items,
        validation=None,  # type: ignore[arg-type]  # not read by training_examples
    )


def test_one_example_per_interaction_after_the_first_left_padded_newest_last():
    users, inputs, targets = training_examples(_data([[4, 2, 7, 1], [3], [5, 6]]), 2)
    np.testing.assert_array_equal(users, [0, 0, 0, 2])
    np.testing.assert_array_equal(targets, [2, 7, 1, 6])
    # Codes shifted by one (0 pads): user 0's contexts are (4), (4, 2), (2, 7); user 2's (5).
    np.testing.assert_array_equal(inputs, [[0, 5], [5, 3], [3, 8], [0, 6]])


def test_the_score_reads_the_user_and_the_last_max_len_items(fitted, test_split):
    baseline, _ = fitted["caser"]
    length = baseline.hyperparameters["max_len"]
    row = next(r for r, h in enumerate(test_split.histories) if len(h) > length + 1)
    user = test_split.users[row]
    history, candidates = list(test_split.histories[row]), [list(test_split.candidates[row])]

    def scores(user_id, items):
        return baseline.score([user_id], [items], candidates)

    base = scores(user, history)
    # Items older than the window change nothing: swap the two oldest shown items.
    older = [history[1], history[0], *history[2:]]
    np.testing.assert_array_equal(scores(user, older), base)
    newest = [*history[:-1], candidates[0][0]]
    assert not np.array_equal(scores(user, newest), base)
    stranger = scores("no such user", history)
    assert not np.array_equal(stranger, base) and np.isfinite(stranger).all()
