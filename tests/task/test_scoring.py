"""The one scoring path: the tie rule for equal scores, and text and scores scored alike."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from r2rec_bench.task.scoring import (
    ranking_from_scores,
    score_scores,
    score_text,
    score_tie_keys,
    target_ranks,
)

ITEMS = [str(i) for i in range(20)]


def test_distinct_scores_rank_by_score_alone():
    scores = [0.5, 0.9, 0.1]
    assert ranking_from_scores(scores, "u", ["a", "b", "c"]) == [1, 0, 2]
    ranks = target_ranks(np.array([scores]), np.array([0]), ["u"], [["a", "b", "c"]])
    assert ranks.tolist() == [2]


def test_equal_scores_follow_the_seeded_key_of_user_and_item():
    keys = score_tie_keys(["u"], [["a", "b", "c"]])[0]
    expected = sorted(range(3), key=lambda j: int(keys[j]))
    assert ranking_from_scores([1.0, 1.0, 1.0], "u", ["a", "b", "c"]) == expected
    # The key belongs to the (user, item) pair, not to the slot: moving an item moves it.
    moved = ranking_from_scores([1.0, 1.0, 1.0], "u", ["c", "a", "b"])
    assert [["c", "a", "b"][j] for j in moved] == [["a", "b", "c"][j] for j in expected]


def test_a_constant_scorer_is_at_chance_not_at_zero():
    # Pessimistic ties would rank every target last; candidate order would favour slot 0.
    users = [f"user{u}" for u in range(4000)]
    rng = np.random.default_rng(0)
    targets = rng.integers(20, size=len(users))
    ranks = target_ranks(np.zeros((len(users), 20)), targets, users, [ITEMS] * len(users))
    assert abs(ranks.mean() - 10.5) < 0.3
    assert abs((ranks == 1).mean() - 0.05) < 0.012


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=20, max_size=20),
    st.integers(0, 19),
    st.text(min_size=1, max_size=8),
)
def test_vectorised_ranks_agree_with_the_ranking(scores, target, user):
    ranking = ranking_from_scores([float(s) for s in scores], user, ITEMS)
    rank = target_ranks(np.array([scores], float), np.array([target]), [user], [ITEMS])[0]
    assert ranking.index(target) + 1 == rank
    assert score_scores(scores, user, ITEMS, target).target_rank == rank


def test_a_ranking_written_as_text_scores_as_the_scores_do():
    titles = [f"Film {i} (1999)" for i in range(20)]
    scores = [float(i % 4) for i in range(20)]
    ranking = ranking_from_scores(scores, "u7", ITEMS)
    text = "<think>\n</think>\n<answer>" + "\n".join(titles[j] for j in ranking) + "</answer>"
    for target in (0, 5, 19):
        as_text = score_text(text, titles, target)
        as_scores = score_scores(scores, "u7", ITEMS, target)
        assert as_text.target_rank == as_scores.target_rank
        assert as_text.valid and as_text.strict_format and as_scores.strict_format is None


def test_scores_that_are_not_finite_make_an_invalid_sample():
    for bad in (float("nan"), float("inf"), None):
        scored = score_scores([1.0, bad, 0.5], "u", ["a", "b", "c"], 0)
        assert not scored.valid and scored.ranking == [] and scored.target_rank == 0
        assert scored.scores[1] is None and scored.fields()["hit@1"] is False


def test_the_published_json_schemas_are_the_records():
    import json
    from pathlib import Path

    from r2rec_bench.task.records import json_schemas

    folder = Path(__file__).resolve().parents[2] / "docs" / "schema"
    for name, schema in json_schemas().items():
        published = json.loads((folder / name).read_text())
        assert published == schema, (
            f"docs/schema/{name} is stale; regenerate it (docs/schema/README.md)"
        )
