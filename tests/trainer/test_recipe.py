"""Recipes: the shipped ones load; every bad field is one line naming the file and the field."""

from __future__ import annotations

import copy

import pytest
import yaml

from r2rec_bench.errors import UserError
from r2rec_bench.trainer.recipe import load_recipe, parse_recipe, shipped_recipes
from tests.conftest import run_cli

SFT = {
    "stage": "sft",
    "output_dir": "runs/x",
    "model": {"scratch": {"hidden_size": 64, "num_heads": 4, "num_kv_heads": 2}},
    "dataset": {"path": "out/ml-100k-iot"},
    "trainer": {"max_steps": 2},
}
GRPO = {
    "stage": "grpo",
    "output_dir": "runs/y",
    "model": {"from_sft": "runs/x"},
    "dataset": {"path": "out/ml-100k-iot", "config": "rl"},
    "rewards": {"answer_hit": 1.0, "answer_format": 0.2},
}


def test_every_shipped_recipe_loads():
    names = set(shipped_recipes())
    assert {"ml-100k-scratch-sft", "ml-100k-scratch-grpo", "qwen2.5-1.5b-lora-sft",
            "qwen2.5-1.5b-lora-grpo", "qwen2.5-0.5b-shape-random-sft",
            "qwen2.5-0.5b-shape-random-grpo", "smollm2-135m-iot-sft", "smollm2-135m-answer-sft",
            "smollm2-135m-iot-grpo"} <= names  # fmt: skip
    for name in names:
        recipe = load_recipe(name)
        assert recipe.stage in name


def test_every_shipped_recipe_is_accepted_by_its_trl_config(tmp_path, monkeypatch):
    """The trainer block is checked against TRL's own SFTConfig / GRPOConfig, as a run
    would build it, so a shipped recipe cannot fail on an argument TRL renamed."""
    from trl import GRPOConfig, SFTConfig

    from r2rec_bench.trainer.stage import trainer_config

    monkeypatch.chdir(tmp_path)
    for name, path in shipped_recipes().items():
        recipe = load_recipe(path)
        config_class = SFTConfig if recipe.stage == "sft" else GRPOConfig
        config = trainer_config(config_class, recipe, quiet=True, forced={})
        assert config.output_dir == str(recipe.output_dir), name


def test_the_throughput_recipe_has_qwen2_5_0_5b_shape():
    scratch = load_recipe("qwen2.5-0.5b-shape-random-sft").model.scratch
    assert (scratch.hidden_size, scratch.num_layers, scratch.num_heads, scratch.num_kv_heads,
            scratch.intermediate_size, scratch.model_vocab_size, scratch.tie_word_embeddings) == (
        896, 24, 14, 2, 4864, 151936, True)  # fmt: skip


def test_the_answer_only_ablation_differs_from_its_iot_recipe_in_the_reasoning_alone():
    for suffix in ("", "-gpu"):
        iot = load_recipe(f"smollm2-135m-iot-sft{suffix}").source
        answer = load_recipe(f"smollm2-135m-answer-sft{suffix}").source
        assert answer["dataset"] == {**iot["dataset"], "reasoning": False}
        assert answer["output_dir"] != iot["output_dir"]
        for key in (set(iot) | set(answer)) - {"dataset", "output_dir"}:
            assert answer.get(key) == iot.get(key), key


def test_a_minimal_recipe_gets_defaults():
    recipe = parse_recipe(SFT, "r.yaml")
    assert recipe.dataset.config == "sft" and recipe.dataset.split == "train"
    assert recipe.model.scratch.architecture == "qwen2" and recipe.lora is None
    grpo = parse_recipe(GRPO, "g.yaml")
    assert grpo.rewards == {"answer_hit": 1.0, "answer_format": 0.2}


def _with(base: dict, dotted: str, value) -> dict:
    data = copy.deepcopy(base)
    *parents, last = dotted.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


_DELETE = object()

BAD = [
    (SFT, "stage", "train", "field `stage`"),
    (SFT, "output_dir", _DELETE, "field `output_dir` is missing"),
    (SFT, "modle", {}, "unknown field `modle`; did you mean `model`?"),
    (
        SFT,
        "model.scratch.hiden_size",
        8,
        "unknown field `model.scratch.hiden_size`; did you mean `hidden_size`?",
    ),
    (
        SFT,
        "model.scratch.hidden_size",
        "big",
        "field `model.scratch.hidden_size` is 'big'; it must be an integer",
    ),
    (SFT, "model.scratch.num_heads", 5, "must be a multiple of `model.scratch.num_heads`"),
    (SFT, "model.scratch.architecture", "gpt2", "use one of llama, qwen2"),
    (SFT, "model.base", "Qwen/Qwen2.5-0.5B", "field `model` needs exactly one of"),
    (SFT, "model.from_sft", "runs/x", "field `model.from_sft` does not apply to stage sft"),
    (SFT, "dataset.config", "rl", "stage sft trains on the `sft` config"),
    (SFT, "dataset.limit", 0, "field `dataset.limit` is 0; it must be at least 1"),
    (SFT, "dataset.sample", 0, "field `dataset.sample` is 0; it must be at least 1"),
    (SFT, "dataset.seed", "zero", "field `dataset.seed` is 'zero'; it must be an integer"),
    (
        _with(SFT, "dataset.limit", 10),
        "dataset.sample",
        10,
        "fields `dataset.limit` and `dataset.sample` exclude each other",
    ),
    (SFT, "dataset.reasoning", "no", "field `dataset.reasoning` is 'no'; it must be true/false"),
    (GRPO, "dataset.reasoning", False, "field `dataset.reasoning: false` applies to stage sft"),
    (SFT, "rewards", {"answer_hit": 1.0}, "field `rewards` applies to stage grpo only"),
    (SFT, "trainer.output_dir", "x", "field `trainer.output_dir` is not set here"),
    (SFT, "trainer", ["max_steps"], "field `trainer` must be a mapping"),
    (SFT, "lora.rank", 8, "unknown field `lora.rank`"),
    (SFT, "evaluate.mode", "score", "field `evaluate.mode` is 'score'; use generate or rank"),
    (SFT, "evaluate.batch_size", "many", "field `evaluate.batch_size` is 'many'"),
    (
        GRPO,
        "rewards.answer_hits",
        1.0,
        "unknown reward `rewards.answer_hits`; did you mean `answer_hit`?",
    ),
    (
        GRPO,
        "rewards.answer_hit",
        "high",
        "field `rewards.answer_hit` is 'high'; it must be a number",
    ),
    (GRPO, "rewards", {}, "field `rewards` must map reward names to weights"),
    (
        GRPO,
        "model",
        {"base": "Qwen/Qwen2.5-0.5B"},
        "field `model.base` does not apply to stage grpo",
    ),
    (GRPO, "trainer.reward_weights", [1, 2], "give each reward its weight under `rewards:`"),
]


@pytest.mark.parametrize(("base", "dotted", "value", "message"), BAD, ids=[b[1] for b in BAD])
def test_bad_fields_name_the_file_and_the_field(base, dotted, value, message):
    with pytest.raises(UserError) as caught:
        parse_recipe(_with(base, dotted, value), "my-recipe.yaml")
    text = str(caught.value)
    assert text.startswith("my-recipe.yaml: ") and message in text
    assert "\n" not in text


def test_cli_bad_recipe_is_one_line_exit_2_and_writes_nothing(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(yaml.safe_dump(_with(SFT, "output_dir", str(tmp_path / "run"))
                                     | {"trainer": {"max_step": 2}}))  # fmt: skip
    result = run_cli("train", "sft", "--recipe", str(recipe), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "bad.yaml: unknown field `trainer.max_step`" in result.stderr
    assert "did you mean `max_steps`?" in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("stage: sft\nmodel: [", (), "bad.yaml:2: not valid YAML"),
        (yaml.safe_dump(GRPO), (), "field `stage` is grpo; run it with `r2rec-bench train grpo`"),
        (yaml.safe_dump(SFT), ("--push-to-hub", "not a repo"), "not a Hub repo id"),
    ],
)
def test_cli_rejects_before_training(tmp_path, content, args, message):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(content)
    result = run_cli("train", "sft", "--recipe", str(recipe), *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "runs").exists()


def test_cli_unknown_recipe_names_the_shipped_ones(tmp_path):
    result = run_cli("train", "grpo", "--recipe", "no-such-recipe", cwd=tmp_path)
    assert result.returncode == 2
    assert "not a shipped recipe (" in result.stderr and "ml-100k-scratch-grpo" in result.stderr


def test_cli_grpo_without_a_finished_sft_run(tmp_path):
    recipe = tmp_path / "g.yaml"
    recipe.write_text(yaml.safe_dump(_with(GRPO, "model.from_sft", str(tmp_path / "nothing"))))
    result = run_cli("train", "grpo", "--recipe", str(recipe), cwd=tmp_path)
    assert result.returncode == 2
    assert "field `model.from_sft`" in result.stderr and "does not exist" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_train_list_shows_recipes_and_accelerate_configs():
    result = run_cli("train", "list", "--json")
    assert result.returncode == 0, result.stderr
    listing = yaml.safe_load(result.stdout)
    assert "ml-100k-scratch-sft" in listing["recipes"]
    assert {"single_gpu", "multi_gpu"} <= set(listing["accelerate_configs"])
