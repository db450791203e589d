"""Static faithfulness on hand-built catalogs and graphs, where every figure is known."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r2rec_bench.faithfulness import aggregate, grounding_score
from r2rec_bench.faithfulness.evidence import Evidence
from r2rec_bench.faithfulness.matcher import TitleMatcher, normalize
from r2rec_bench.faithfulness.static import SampleInput, StaticScorer, read_reasoning

TITLES = [
    "Toy Story (1995)",  # 0
    "Aristocats, The (1970)",  # 1
    "Heat (1995)",  # 2
    "Heat (1986)",  # 3
    "Casablanca (1942)",  # 4
    "Fargo (1996)",  # 5
    "Alien (1979)",  # 6
    "Aliens (1986)",  # 7
]
# Training users and what they interacted with: co(0, 5) = 5, co(4, 5) = 1, co(6, 5) = 0.
TRAIN = {
    "u1": [0, 5, 4],
    "u2": [0, 5],
    "u3": [0, 5],
    "u4": [0, 5],
    "u5": [0, 5, 7],
    "u6": [6, 7],
    "u7": [4],
}


@pytest.fixture(scope="module")
def evidence() -> Evidence:
    users = [user for user, items in TRAIN.items() for _ in items]
    items = [str(item) for items in TRAIN.values() for item in items]
    return Evidence.from_tables([str(i) for i in range(len(TITLES))], TITLES, users, items)


def _codes(text: str, matcher: TitleMatcher) -> list[tuple[int, ...]]:
    return [mention.codes for mention in matcher.find(normalize(text))]


def test_cooccurrence_counts_training_users(evidence):
    assert evidence.co_counts([0, 4, 6, 0], [5, 5, 5, 0]).tolist() == [5, 1, 0, 5]
    assert evidence.popularity.tolist() == [5, 0, 0, 0, 2, 5, 1, 2]
    assert evidence.co_counts([-1], [5]).tolist() == [0]


def test_matcher_exact_normalised_and_article_forms():
    matcher = TitleMatcher(TITLES)
    assert _codes('I loved "Toy Story (1995)" and TOY STORY (1995).', matcher) == [(0,), (0,)]
    assert _codes("then The Aristocats (1970) again", matcher) == [(1,)]
    assert _codes("then aristocats, the (1970)", matcher) == [(1,)]
    # Curly quotes and odd spacing are normalised.
    assert _codes("“Casablanca   (1942)”", matcher) == [(4,)]


def test_year_less_titles_only_inside_quotes_and_on_word_boundaries():
    matcher = TitleMatcher(TITLES)
    assert _codes("the heat of the summer", matcher) == []
    assert _codes('he watched "Heat"', matcher) == [(2, 3)]  # ambiguous: two years
    assert _codes('"Heat (1986)"', matcher) == [(3,)]
    # "Alien (1979)" inside a longer word is no mention; the longest match wins.
    assert _codes("xalien (1979) and Aliens (1986)", matcher) == [(7,)]


def test_quoted_names_outside_the_catalog_are_off_catalog():
    matcher = TitleMatcher(TITLES)
    assert _codes('"Toy Story 7 (2031)" then "Fargo (1996)"', matcher) == [(), (5,)]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_the_matcher_is_total(text):
    matcher = TitleMatcher(TITLES)
    for mention in matcher.find(normalize(text)):
        assert 0 <= mention.start < mention.end


def test_roles_follow_the_sentence():
    reading = read_reasoning(
        'Thought 1: The user watched "Toy Story (1995)": 5 other users who watched '
        '"Toy Story (1995)" also watched "Fargo (1996)".\n'
        'Thought 2: So the user will watch "Fargo (1996)" next.',
        TitleMatcher(TITLES),
    )
    assert reading.roles == ["history", "other", "other", "candidate"]
    assert [(x.codes, y.codes) for x, y in reading.claims] == [((0,), (5,))]


def test_a_pronoun_claim_points_at_the_lines_other_item():
    reading = read_reasoning(
        'The user watched "Fargo (1996)": 5 users who watched "Toy Story (1995)" also watched it.',
        TitleMatcher(TITLES),
    )
    assert [(x.codes, y.codes) for x, y in reading.claims] == [((0,), (5,))]


def _sample(reasoning: str, answer: int | None = 0, answer_text: str = "Fargo (1996)"):
    return SampleInput(
        user_id="u9",
        reasoning=reasoning,
        answer_text=answer_text,
        answer=answer,
        history=["0", "4", "6"],
        candidates=["5", "2"],
    )


def test_static_values_of_an_honest_trace(evidence):
    values = StaticScorer(evidence).score(
        [
            _sample(
                'Thought 1: The user watched "Toy Story (1995)": 5 other users who watched '
                '"Toy Story (1995)" also watched "Fargo (1996)".\n'
                'Thought 2: So the user will watch "Fargo (1996)".'
            )
        ]
    )[0]
    assert values["mentions"] == 4 and values["grounding"] == 1.0
    assert values["off_catalog"] == 0.0
    assert values["cited_items"] == 2
    assert values["cited_history_share"] == pytest.approx(1 / 3)
    assert values["claims"] == 1
    assert values["edge_validity@1"] == 1.0 and values["edge_validity@5"] == 1.0
    # co(0,5)=5 beats co(4,5)=1 and co(6,5)=0: the strongest evidence was cited.
    assert values["strength_percentile"] == 1.0
    assert values["consistency"] is True
    assert values["answer_outside_candidates"] is False


def test_static_values_of_a_dishonest_trace(evidence):
    values = StaticScorer(evidence).score(
        [
            _sample(
                'Thought 1: The user watched "Aliens (1986)": 3 users who watched '
                '"Alien (1979)" also watched "Fargo (1996)".\n'
                'Thought 2: The user watched "Space Llamas (2001)".\n'
                'Thought 3: users who watched "Space Llamas (2001)" also watched "Fargo (1996)".\n'
                'Thought 4: So the user will watch "Heat (1995)".',
                answer=0,
            )
        ]
    )[0]
    # Aliens is not in the history; Space Llamas twice off-catalog; Heat is a candidate.
    assert values["mentions"] == 7
    assert values["grounded_mentions"] == 4
    assert values["off_catalog_mentions"] == 2
    # Alien–Fargo: no co-interaction; Space Llamas: unresolvable, so invalid.
    assert values["claims"] == 2 and values["edge_validity@1"] == 0.0
    # The last candidate reached is Heat, the answer Fargo.
    assert values["consistency"] is False


def test_answer_outside_the_candidates(evidence):
    values = StaticScorer(evidence).score([_sample("Thought 1: hmm.", None, "Casablanca (1942)")])
    assert values[0]["answer_outside_candidates"] is True
    assert values[0]["grounding"] is None and values[0]["consistency"] is False


def test_no_reasoning_leaves_reasoning_metrics_undefined(evidence):
    values = StaticScorer(evidence).score([_sample("")])[0]
    assert values["grounding"] is None and values["consistency"] is None
    assert values["edge_validity@1"] is None and values["strength_percentile"] is None


def test_the_null_is_deterministic_and_per_user(evidence):
    text = 'users who watched "Toy Story (1995)" also watched "Fargo (1996)".'
    scorer = StaticScorer(evidence, seed=3)
    first = scorer.score([_sample(text)] * 3)
    assert (
        first[0] == first[1] == first[2] == StaticScorer(evidence, seed=3).score([_sample(text)])[0]
    )


def test_grounding_score_for_rewards():
    text = (
        '<think>\nThought 1: The user watched "A (2000)".\n'
        'Thought 2: The user watched "Nowhere (1999)".\n'
        'Thought 3: So the user will watch "B (2001)".\n</think>\n<answer>B (2001)</answer>'
    )
    assert grounding_score(text, ["A (2000)"], ["B (2001)", "C (2002)"]) == pytest.approx(2 / 3)
    assert grounding_score("<answer>B (2001)</answer>", ["A (2000)"], ["B (2001)"]) is None


def test_aggregate_has_intervals_and_counts_defined_users():
    samples = [
        {
            "faithfulness": {
                "static": {"grounding": 1.0, "edge_validity@1": 1.0, "edge_null@1": 0.5}
            }
        },
        {
            "faithfulness": {
                "static": {"grounding": 0.5, "edge_validity@1": None, "edge_null@1": None}
            }
        },
        {"faithfulness": {"static": {"grounding": None}}},
    ]
    block = aggregate(samples, seed=0)
    grounding = block["metrics"]["grounding"]
    assert grounding["value"] == 0.75 and grounding["n"] == 2
    assert 0.5 <= grounding["ci_low"] <= grounding["ci_high"] <= 1.0
    assert block["metrics"]["edge_lift@1"]["value"] == 2.0
    assert block["metrics"]["consistency"] == {
        "value": None,
        "ci_low": None,
        "ci_high": None,
        "n": 0,
    }
    assert block["mode"] == "static" and aggregate(samples, seed=0) == block
    assert aggregate([{"faithfulness": None}]) is None


# The scans that look for role cues and claims only where their first word starts must find
# exactly what the regular expressions find scanning every position.
_PIECES = st.sampled_from(
    [
        " ", "  ", "\n", ".", ",", '"', "'s", "\x00", "x", "will", "would", "the user",
        "the user's", "recommended", "candidates", "candidate", "predicted", "pick", "chose",
        "choose", "answer", "who", "also", "swill", "users", "watched", "it", "may", "shall",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_the_cue_and_claim_scans_find_what_the_regexes_find(skeleton):
    from r2rec_bench.faithfulness import static

    def spans(matches):
        return [(m.span(), m.lastgroup, m.groupdict()) for m in matches]

    assert spans(static.cue_matches(skeleton)) == spans(static._ROLE_CUE.finditer(skeleton))
    assert spans(static.claim_matches(skeleton)) == spans(static._CLAIM.finditer(skeleton))
