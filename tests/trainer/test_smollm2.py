"""The real model on a CPU: SmolLM2-135M-Instruct, a few SFT steps (bf16 autocast, every
weight, as the shipped smollm2-135m recipes train it) and a few GRPO steps from the result."""

from __future__ import annotations

import json
import math

import pytest

from r2rec_bench.trainer.card import render_model_card
from r2rec_bench.trainer.grpo import build as build_grpo
from r2rec_bench.trainer.recipe import load_recipe
from r2rec_bench.trainer.rewards import REWARDS
from r2rec_bench.trainer.sft import SMOLLM2_TRAINING_CHAT_TEMPLATE
from r2rec_bench.trainer.sft import build as build_sft
from r2rec_bench.trainer.stage import run_stage
from tests.trainer.conftest import write_recipe

CPU_BF16 = {"bf16": True, "use_cpu": True, "logging_steps": 1, "seed": 0}


def _train(recipe_path, build) -> dict:
    return run_stage(load_recipe(recipe_path), build, resume=False, push_to_hub=None, quiet=True)


@pytest.fixture(scope="module")
def sft_run(smollm2_checkpoint, ml100k_build, tmp_path_factory):
    """Three steps on one IoT row: the same example each step, so the loss must fall."""
    root = tmp_path_factory.mktemp("smollm2")
    recipe = write_recipe(
        root / "sft.yaml",
        stage="sft",
        output_dir=str(root / "sft"),
        model={"base": str(smollm2_checkpoint), "dtype": "float32"},
        dataset={"path": str(ml100k_build), "sample": 1, "seed": 0},
        trainer={"max_steps": 3, "per_device_train_batch_size": 1, "learning_rate": 1.0e-4,
                 "max_length": 1536, "save_steps": 3, **CPU_BF16},
    )  # fmt: skip
    return root, _train(recipe, build_sft)


def test_the_training_template_renders_smollm2s_chat_and_masks_the_answer(smollm2_checkpoint):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_checkpoint)
    chats = [
        [{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
         {"role": "assistant", "content": "<think>\nT\n</think>\n<answer>A</answer>"}],
        [{"role": "user", "content": "U"}, {"role": "assistant", "content": "B"},
         {"role": "user", "content": "V"}],
    ]  # fmt: skip
    for chat in chats:
        for prompt in (False, True):
            own = tokenizer.apply_chat_template(chat, add_generation_prompt=prompt, tokenize=False)
            training = tokenizer.apply_chat_template(
                chat, add_generation_prompt=prompt, tokenize=False,
                chat_template=SMOLLM2_TRAINING_CHAT_TEMPLATE,
            )  # fmt: skip
            assert training == own
    encoded = tokenizer.apply_chat_template(
        chats[0], chat_template=SMOLLM2_TRAINING_CHAT_TEMPLATE, return_dict=True,
        return_assistant_tokens_mask=True,
    )  # fmt: skip
    learned = [
        i for i, m in zip(encoded["input_ids"], encoded["assistant_masks"], strict=True) if m
    ]
    assert tokenizer.decode(learned) == chats[0][-1]["content"] + "<|im_end|>"


def test_sft_learns_and_writes_a_model_that_loads(sft_run, smollm2_checkpoint):
    import torch
    from safetensors.torch import load_file

    from r2rec_bench.llm.loading import load_causal_lm

    root, summary = sft_run
    out = root / "sft"
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < losses[0]
    assert summary["started_from"] == {"kind": "pretrained", "id": str(smollm2_checkpoint),
                                       "revision": summary["started_from"]["revision"]}  # fmt: skip
    assert (out / "checkpoint-3" / "trainer_state.json").is_file()
    model, tokenizer = load_causal_lm(str(out), dtype="float32")
    # Saved with SmolLM2's own template: evaluations of base and trained model read one prompt.
    base_template = (smollm2_checkpoint / "chat_template.jinja").read_text()
    assert tokenizer.chat_template == base_template
    trained = load_file(out / "model.safetensors")
    base = load_file(smollm2_checkpoint / "model.safetensors")
    name = "model.layers.0.mlp.down_proj.weight"
    assert not torch.equal(trained[name], base[name])
    assert next(model.parameters()).dtype == torch.float32
    card = (out / "README.md").read_text()
    assert "(1 rows, a random sample of the split, seed 0)" in card and "Answer only" not in card


def test_the_card_of_an_answer_only_model_says_so(sft_run):
    root, summary = sft_run
    answer_only = {**summary, "data": {**summary["data"], "reasoning": False}}
    card = str(render_model_card(load_recipe(root / "sft.yaml"), answer_only, None, None))
    assert "**Answer only**: every assistant turn was cut down to its answer" in card


def test_grpo_from_the_sft_model_logs_every_reward_at_every_step(sft_run, ml100k_build):
    root, _ = sft_run
    recipe = write_recipe(
        root / "grpo.yaml",
        stage="grpo",
        output_dir=str(root / "grpo"),
        model={"from_sft": str(root / "sft"), "dtype": "float32"},
        dataset={"path": str(ml100k_build), "config": "rl", "sample": 2, "seed": 0},
        rewards={name: 1.0 for name in REWARDS},
        trainer={"max_steps": 2, "per_device_train_batch_size": 2, "num_generations": 2,
                 "max_completion_length": 16, "learning_rate": 1.0e-6, "beta": 0.0,
                 "save_steps": 2, **CPU_BF16},
    )  # fmt: skip
    summary = _train(recipe, build_grpo)
    out = root / "grpo"
    assert summary["global_step"] == 2 and (out / "model.safetensors").is_file()
    metrics = json.loads((out / "training_metrics.json").read_text())
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    assert set(metrics["rewards"]) == set(REWARDS)
    for name, reward in metrics["rewards"].items():
        logged = [(e["step"], e[f"rewards/{name}/mean"]) for e in history
                  if f"rewards/{name}/mean" in e]  # fmt: skip
        assert [(s["step"], s["mean"]) for s in reward["per_step"]] == logged
        assert [step for step, _ in logged] == [1, 2]
        assert all(0.0 <= mean <= 1.0 for _, mean in logged)
        assert reward["mean"] == pytest.approx(sum(mean for _, mean in logged) / 2)
