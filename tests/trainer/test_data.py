"""A recipe's training rows: the seeded random sample and the answer-only (no reasoning) rows."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

from r2rec_bench.errors import UserError
from r2rec_bench.task.parser import parse_answer
from r2rec_bench.task.prompt import ANSWER_PREFIX, ANSWER_SUFFIX
from r2rec_bench.trainer.data import answer_only, load_training_data
from r2rec_bench.trainer.recipe import DatasetSpec, load_recipe


def _rows(build, **fields):
    spec = DatasetSpec(path=str(build), config="sft", **fields)
    return load_training_data(spec, "r.yaml").rows


def _keys(rows) -> list[tuple[str, str]]:
    return list(zip(rows["user_id"], rows["target"], strict=True))


def test_a_sample_is_seeded_and_drawn_from_all_rows(ml100k_build):
    every = _keys(_rows(ml100k_build))
    sample = _keys(_rows(ml100k_build, sample=40, seed=0))
    assert len(sample) == 40 == len(set(sample)) and set(sample) <= set(every)
    assert sample == _keys(_rows(ml100k_build, sample=40, seed=0))
    assert sample != _keys(_rows(ml100k_build, sample=40, seed=1))
    positions = sorted(every.index(key) for key in sample)
    assert [every.index(key) for key in sample] == positions  # kept in dataset order
    # Not the first rows (low user ids), which `limit` takes: spread over the whole split.
    assert sample != _keys(_rows(ml100k_build, limit=40))
    assert positions[-1] > len(every) * 3 // 4 and positions[0] < len(every) // 4


def test_a_sample_larger_than_the_split_takes_every_row(ml100k_build):
    every = _keys(_rows(ml100k_build))
    assert _keys(_rows(ml100k_build, sample=len(every) + 10)) == every


def test_the_shipped_ablation_trains_on_the_iot_recipes_rows_without_reasoning(ml100k_build):
    iot, answer = (
        load_recipe(name).dataset for name in ("smollm2-135m-iot-sft", "smollm2-135m-answer-sft")
    )
    assert iot.reasoning and not answer.reasoning and iot.sample is not None
    iot_rows = load_training_data(dataclasses.replace(iot, path=str(ml100k_build)), "r")
    answer_rows = load_training_data(dataclasses.replace(answer, path=str(ml100k_build)), "r")
    assert _keys(answer_rows.rows) == _keys(iot_rows.rows) and len(iot_rows.rows) == iot.sample
    assert answer_rows.describe(answer)["reasoning"] is False
    for with_reasoning, without, titles in zip(
        iot_rows.rows["messages"],
        answer_rows.rows["messages"],
        iot_rows.rows["candidate_titles"],
        strict=True,
    ):
        assert without[:-1] == with_reasoning[:-1]  # system and user turns unchanged
        assert "Thought" in with_reasoning[-1]["content"]
        assert "Thought" not in without[-1]["content"]
        answer_text = parse_answer(with_reasoning[-1]["content"], titles).answer_text
        assert without[-1] == {
            "role": "assistant",
            "content": f"{ANSWER_PREFIX}{answer_text}{ANSWER_SUFFIX}",
        }


def test_a_ranked_answer_stays_ranked_with_the_candidates_exact_titles():
    messages = [
        {"role": "user", "content": "which?"},
        {"role": "assistant", "content": "<think>\nThought 1: x\n</think>\n"
                                         "<answer>1. heat\n2. Alien (1979)</answer>"},
    ]  # fmt: skip
    table = pa.table(
        {"messages": [messages], "candidate_titles": [["Alien (1979)", "Heat (1995)"]]}
    )
    (rewritten,) = answer_only(table, "data").column("messages").to_pylist()
    assert (
        rewritten[-1]["content"] == "<think>\n</think>\n<answer>Heat (1995)\nAlien (1979)</answer>"
    )


def test_a_row_without_a_resolvable_answer_is_an_error():
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "no idea"}]
    table = pa.table({"messages": [messages], "candidate_titles": [["Alien (1979)"]]})
    with pytest.raises(UserError, match=r"^data: `sft` row 0 does not end in an assistant answer"):
        answer_only(table, "data")
