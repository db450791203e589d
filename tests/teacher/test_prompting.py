"""How a language model's reply to a masked step is read: total, robust, and never letting an
unverified or ungrounded reasoning into a trace."""

from __future__ import annotations

import pytest

from r2rec_bench.chains.types import ChainEdge
from r2rec_bench.teacher.plan import Step
from r2rec_bench.teacher.prompting import judge, label, parse_prediction

TITLES = {"Heat (1995)": 10, "M (1931)": 11, "Up (2009)": 12, "Fargo (1996)": 13}
EDGE = ChainEdge(user=3, item=11, timestamp=5, rating=4.0)


def _item_step(answer: int = 1) -> Step:
    titles = ("Heat (1995)", "M (1931)", "Up (2009)")
    return Step(
        kind="item",
        chain=0,
        edge=EDGE,
        question="Which of these movies did that user also watch?",
        options=tuple(f'"{t}"' for t in titles),
        codes=(10, 11, 12),
        titles=titles,
        answer=answer,
        guess=0,
        masked_item=(10, 11, 12)[answer],
        reveal="that user also watched it.",
        thought='That user also watched "M (1931)": facts.',
        cited=(11,),
    )


def _user_step() -> Step:
    profiles = tuple(f'a user who watched "{t}"' for t in ("Heat (1995)", "Up (2009)"))
    return Step(
        kind="user",
        chain=0,
        edge=EDGE,
        question='Which of these users also watched "Fargo (1996)"?',
        options=profiles,
        codes=(7, 8),
        titles=(),
        answer=0,
        guess=1,
        masked_item=None,
        reveal="...",
        thought='"Fargo (1996)" leads to another user.',
        cited=(13,),
    )


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("It fits.\nPrediction: B", 1),
        ("**Prediction:** (b)", 1),
        ("Prediction: Option C", 2),
        ("Prediction - C.", 2),
        ('Prediction: "Up (2009)"', 2),
        ("prediction: up (2009).", 2),
        ("Prediction: M (1931)", 1),  # "M" is no label here (only A-C): the title decides
        ("Prediction: A\nOn second thought...\nPrediction: C", 2),
        ("Prediction: D", None),
        ("Prediction: Casablanca (1942)", None),
        ("I would say B.", None),
        ("", None),
        ("Prediction:", None),
        ("\x00\ufffd" * 50 + "\nPrediction: \ud800", None),
    ],
)
def test_predictions_are_read_from_the_last_prediction_line(reply, expected):
    assert parse_prediction(reply, _item_step()) == expected


def test_a_user_option_is_named_by_its_label_only():
    step = _user_step()
    assert parse_prediction("Prediction: a user who watched", step) is None
    assert parse_prediction("Prediction: a", step) == 0
    assert parse_prediction("Prediction: B) the second user", step) == 1


def test_labels_go_past_z():
    assert [label(n) for n in (0, 25, 26, 27, 51, 52)] == ["A", "Z", "AA", "AB", "AZ", "BA"]


def test_a_right_grounded_reasoning_becomes_the_thought():
    reply = (
        '<think>\nThought 3: Users of "Heat (1995)" often watch\n"M (1931)" too.\n</think>\n'
        "Prediction: B"
    )
    thought = judge(reply, _item_step(), TITLES)
    assert thought.text == 'Users of "Heat (1995)" often watch "M (1931)" too.'
    assert thought.cited_items == (10, 11)
    assert thought.verified and thought.claimed_edge == EDGE


@pytest.mark.parametrize(
    ("reply", "verified"),
    [
        ('"M (1931)" and "Metropolis (1927)" go together.\nPrediction: B', True),  # not a title
        ('"Heat (1995)" is close.\nPrediction: B', True),  # never names the masked item
        ('"M (1931) is close.\nPrediction: B', True),  # unbalanced quotes
        ('"M (1931)" <answer>M (1931)</answer>\nPrediction: B', True),
        ("Prediction: B", True),  # no reasoning at all
        ('"Heat (1995)" is it.\nPrediction: A', False),  # wrong
        ('"M (1931)" fits, I think.', False),  # no prediction line
    ],
)
def test_otherwise_the_template_thought_is_kept(reply, verified):
    step = _item_step()
    thought = judge(reply, step, TITLES)
    assert (thought.text, thought.cited_items) == (step.thought, step.cited)
    assert thought.verified == verified
