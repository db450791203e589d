"""The protocol on hand-made logs: each rule checked against a hand-computed answer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r2rec_bench.errors import UserError
from r2rec_bench.protocol import ProtocolParams, run_protocol
from r2rec_bench.protocol.cleaning import iterative_kcore
from r2rec_bench.sources.types import Catalog, Interactions, RawLog
from r2rec_bench.task.order import tie_keys


def make_log(rows, titles=None, catalog_ids=None) -> RawLog:
    """rows: (user, item, timestamp[, rating]) tuples; every item gets a title by default."""
    users, items, times, ratings = [], [], [], []
    for row in rows:
        users.append(str(row[0]))
        items.append(str(row[1]))
        times.append(row[2])
        ratings.append(row[3] if len(row) > 3 else 5.0)
    ids = catalog_ids or sorted({*items}, key=int)
    titles = {i: (titles or {}).get(i, f"Film {i}") for i in ids}
    return RawLog(
        source="hand/made",
        interactions=Interactions(
            np.array(users, dtype=object), np.array(items, dtype=object),
            np.array(times, dtype=np.int64), np.array(ratings, dtype=np.float64),
        ),
        catalog=Catalog(item_id=list(ids), title=[titles[i] for i in ids]),
        files={},
    )  # fmt: skip


LOOSE = {"user_core": 0, "item_core": 0, "num_candidates": 3}


def test_iterative_kcore_repeats_until_stable():
    # Item 2 has 2 users; dropping it leaves user 1 with one item, so user 1 goes too, which
    # then leaves item 1 with a single user: the 2-core is empty.
    users = np.array([0, 0, 1, 1, 2])
    items = np.array([0, 1, 1, 2, 2])
    assert not iterative_kcore(users, items, 2, 2).any()
    assert iterative_kcore(users, items, 1, 1).all()
    square = (np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    assert iterative_kcore(*square, 2, 2).all()


def test_split_order_ties_and_dedupe():
    rows = [
        # user 1: item 9 at t=5 twice (dedupe keeps the earliest, t=5 not t=50)
        (1, 9, 5), (1, 9, 50), (1, 3, 10), (1, 12, 20), (1, 4, 20),
        # user 2: a tie at the end: items 30 and 7 at t=100
        (2, 30, 100), (2, 7, 100), (2, 5, 1), (2, 6, 2),
        (3, 1, 1), (3, 2, 2), (3, 8, 3), (3, 10, 4), (3, 11, 5), (3, 13, 6),
    ]  # fmt: skip
    out = run_protocol(make_log(rows), ProtocolParams(**LOOSE, history_length=2))
    items = out.catalog.item_id
    users = {u: i for i, u in enumerate(out.user_id)}
    test, validation = out.test, out.validation
    u1, u2 = users["1"], users["2"]

    # Same-second ties follow the seeded hash of (user, item), here against item-id order:
    # tie_keys gives (1, 12) < (1, 4) and (2, 30) < (2, 7).
    def key(user, item):
        ids = np.array([user], dtype=object), np.array([item], dtype=object)
        return tie_keys(np.zeros(1, int), np.zeros(1, int), *ids, seed=0)[0]

    assert key("1", "12") < key("1", "4") and key("2", "30") < key("2", "7")
    # user 1 sequence: 9(t5), 3(t10), 12(t20), 4(t20)
    assert items[test.target[u1]] == "4" and items[validation.target[u1]] == "12"
    assert [items[i] for i in test.history(u1)] == ["3", "12"]
    assert [items[i] for i in validation.history(u1)] == ["9", "3"]
    # user 2 sequence: 5, 6, 30(t100), 7(t100)
    assert items[test.target[u2]] == "7" and items[validation.target[u2]] == "30"
    assert out.tied_targets == {"validation": 2, "test": 2}
    # training = all but the last two per user; the duplicate (1, 9) counted once
    assert len(out.train) == (4 - 2) + (4 - 2) + (6 - 2)
    assert out.train.timestamp[(out.train.user == u1)].tolist() == [5, 10]


def test_negatives_avoid_every_touched_item_even_below_the_rating_threshold():
    # user 1 rated items 1..5 highly and item 6 with one star: item 6 is not a negative.
    rows = [(1, i, i, 5.0) for i in range(1, 6)] + [(1, 6, 9, 1.0)]
    rows += [(2, i, i, 5.0) for i in range(1, 11)] + [(3, i, i, 5.0) for i in range(7, 15)]
    params = ProtocolParams(**{**LOOSE, "num_candidates": 5}, min_rating=3)
    out = run_protocol(make_log(rows), params)
    items = out.catalog.item_id
    u1 = list(out.user_id).index("1")
    for split in (out.test, out.validation):
        negatives = {items[i] for i in split.candidates[u1]} - {items[split.target[u1]]}
        assert negatives <= {str(i) for i in range(7, 15)}
        assert len(negatives) == 4


def test_too_few_items_for_the_candidates_is_a_user_error():
    rows = [(1, i, i) for i in range(1, 5)] + [(2, i, i) for i in range(1, 6)]
    with pytest.raises(UserError, match="fewer than 19 items left"):
        run_protocol(make_log(rows), ProtocolParams(user_core=0, item_core=0))


def test_merge_folds_duplicate_titles_into_the_smallest_id():
    titles = {"1": "Same (1997)", "2": "Other", "3": "Same (1997)", "4": "Fourth", "5": "Fifth"}
    rows = [(1, 3, 1), (1, 1, 2), (1, 2, 3), (1, 4, 4), (2, 1, 1), (2, 2, 2), (2, 4, 3),
            (2, 5, 4), (3, 5, 1), (3, 4, 2), (3, 2, 3), (4, 6, 1), (4, 7, 2), (4, 8, 3),
            (4, 9, 4)]  # fmt: skip
    out = run_protocol(make_log(rows, titles), ProtocolParams(**LOOSE))
    assert "3" not in set(out.catalog.item_id)
    assert out.catalog.merged_ids[list(out.catalog.item_id).index("1")] == ["3"]
    # user 1 touched the film under both ids; the earliest (id 3 at t=1) is kept, as item 1
    u1 = list(out.user_id).index("1")
    first = out.train.item[out.train.user == u1][0]
    assert out.catalog.item_id[first] == "1"
    assert out.train.timestamp[out.train.user == u1][0] == 1


def test_disambiguate_suffixes_every_colliding_title():
    titles = {"1": "Same", "2": "Other", "3": "Same", "4": "Four"}
    rows = [(u, i, i) for u in (1, 2) for i in (1, 2, 3, 4)] + [(3, i, i) for i in (5, 6, 7)]
    out = run_protocol(
        make_log(rows, titles), ProtocolParams(**LOOSE, duplicate_titles="disambiguate")
    )
    assert out.catalog.title[:4] == ["Same [1]", "Other", "Same [3]", "Four"]


def test_items_without_a_catalog_title_are_dropped_and_counted():
    rows = [(1, i, i) for i in range(1, 6)] + [(2, i, i) for i in range(1, 6)]
    rows += [(3, i, i) for i in (6, 7, 8)]
    log = make_log(rows, titles={"1": "A", "2": "B", "3": ""},
                   catalog_ids=["1", "2", "3", "4", "6", "7", "8"])  # fmt: skip
    out = run_protocol(log, ProtocolParams(**LOOSE))
    assert set(out.catalog.item_id) == {"1", "2", "4", "6", "7", "8"}
    step = next(s for s in out.steps if s.step == "items with a catalog title")
    assert (step.interactions, step.items) == (9, 6)


def test_popular_negatives_follow_training_popularity():
    rng = np.random.default_rng(0)
    rows = []
    for user in range(300):
        for position, item in enumerate(rng.choice(40, size=6, replace=False)):
            rows.append((user, int(item) + 1, position))
    rows += [(1000 + k, 1, 0) for k in range(3)]  # padding so item 1 is the most popular
    log = make_log(rows)
    out = run_protocol(log, ProtocolParams(user_core=0, item_core=0, num_candidates=10,
                                           negatives="popular"))  # fmt: skip
    drawn = np.bincount(out.test.candidates.ravel(), minlength=len(out.catalog))
    popularity = out.catalog.train_popularity
    assert np.corrcoef(drawn, popularity)[0, 1] > 0.8


@st.composite
def random_logs(draw):
    n_users = draw(st.integers(3, 12))
    rows = []
    for user in range(n_users):
        items = draw(st.lists(st.integers(1, 40), min_size=3, max_size=12))
        for item in items:
            rows.append((user, item, draw(st.integers(0, 5)), float(draw(st.integers(1, 5)))))
    return rows


@settings(max_examples=40, deadline=None)
@given(random_logs(), st.randoms(use_true_random=False))
def test_row_order_never_matters(rows, shuffler):
    log = make_log(rows, catalog_ids=[str(i) for i in range(1, 41)])
    shuffled_rows = list(rows)
    shuffler.shuffle(shuffled_rows)
    params = ProtocolParams(user_core=0, item_core=0, num_candidates=4)
    try:
        a = run_protocol(log, params)
    except UserError:
        with pytest.raises(UserError):
            run_protocol(make_log(shuffled_rows, catalog_ids=log.catalog.item_id), params)
        return
    b = run_protocol(make_log(shuffled_rows, catalog_ids=log.catalog.item_id), params)
    for split in ("train", "validation", "test"):
        for field_a, field_b in zip(vars(getattr(a, split)).values(),
                                    vars(getattr(b, split)).values(), strict=True):  # fmt: skip
            if isinstance(field_a, np.ndarray):
                np.testing.assert_array_equal(field_a, field_b)
    for split in (a.validation, a.test):
        for row in range(len(split)):
            candidates = split.candidates[row]
            assert len(set(candidates.tolist())) == 4
            assert candidates[split.target_index[row]] == split.target[row]
