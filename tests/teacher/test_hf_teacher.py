"""The `hf` teacher with a tiny random Llama: the same prompts, parsing and cache as `openai`.
The model writes garbage, so every step must come out unverified with the template's thought."""

from __future__ import annotations

import numpy as np
import pytest

from r2rec_bench.errors import UserError
from r2rec_bench.task.prompt import PromptStyle
from r2rec_bench.teacher import build_traces, make_teacher
from r2rec_bench.teacher.facts import ItemText
from r2rec_bench.teacher.plan import Planner
from tests.support.teacher_driver import dump
from tests.support.tiny_lm import save_tiny_lm

STYLE = PromptStyle()
ROWS = [0, 9]  # a bridge and an example with no chain (attribute-only): 4 prompts in all


@pytest.fixture(scope="module")
def few(ml100k_examples):
    output, graph, examples, chains = ml100k_examples
    return output, graph, examples.take(np.array(ROWS)), [chains[r] for r in ROWS]


@pytest.fixture(scope="module")
def tiny_model(few, tmp_path_factory):
    output = few[0]
    text = ItemText(output.catalog)
    lines = [f'"{title}" ({text.describe(code)})' for code, title in enumerate(text.titles)]
    return save_tiny_lm(tmp_path_factory.mktemp("tiny-llama"), corpus=lines)


def _build(teacher, data):
    output, graph, examples, chains = data
    return build_traces(teacher, output, graph, examples, chains, STYLE)


def test_a_local_model_runs_the_pipeline_and_its_garbage_verifies_nothing(
    few, tiny_model, tmp_path, monkeypatch
):
    spec = f"hf:{tiny_model}"
    teacher = make_teacher(spec, cache_dir=tmp_path, max_tokens=8, batch_size=3)
    traces = _build(teacher, few)
    output, graph, examples, chains = few
    planner = Planner(output, graph, STYLE)
    plans = [planner.plan(examples, row, tuple(chains[row])) for row in range(len(chains))]
    steps = sum(len(t.thoughts) for t in traces)
    assert steps == sum(len(plan.steps) for plan in plans) == 4
    assert [t.attribute_only for t in traces] == [False, True]
    for trace, plan in zip(traces, plans, strict=True):
        assert trace.teacher == spec
        assert not any(thought.verified for thought in trace.thoughts)
        # Unverified and no readable prediction: the template's grounded thought (no
        # correction to write) is kept in place of the garbage.
        assert [t.text for t in trace.thoughts] == [step.thought for step in plan.steps]
        assert trace.prompt_tokens > 100 * len(trace.thoughts)
        assert 0 < trace.completion_tokens <= 8 * len(trace.thoughts)
    assert len(list(tmp_path.rglob("*.json"))) == steps

    # A second build finds every answer in the cache: the model is never run again.
    def refuse(*args, **kwargs):
        raise AssertionError("generated although every answer was cached")

    monkeypatch.setattr(teacher.transport.model, "generate", refuse)
    assert dump(_build(teacher, few)) == dump(traces)


def test_only_safetensors_checkpoints_and_real_models_are_loaded(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(UserError, match="safetensors"):
        make_teacher(f"hf:{tmp_path}", cache_dir=tmp_path / "cache")
    with pytest.raises(UserError) as caught:
        make_teacher("hf:nobody/no-such-model", cache_dir=tmp_path / "cache")
    assert "\n" not in str(caught.value) and "nobody/no-such-model" in str(caught.value)
