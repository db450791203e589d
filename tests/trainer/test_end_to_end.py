"""On a CPU, end to end: tokenizer and tiny model from scratch → SFT → GRPO → `evaluate`."""

from __future__ import annotations

import json

import pytest
import yaml

from r2rec_bench.trainer.rewards import REWARDS
from tests.conftest import run_cli
from tests.trainer.conftest import tiny_sft_recipe, write_recipe


@pytest.fixture(scope="module")
def runs(ml100k_build, tmp_path_factory):
    """Both stages through the console script, as a user runs them; their JSON summaries."""
    root = tmp_path_factory.mktemp("trainer-e2e")
    sft_recipe = tiny_sft_recipe(
        root / "sft.yaml", ml100k_build, root / "sft", max_steps=4, save_steps=2
    )
    # The recipe's evaluate: block scores the SFT checkpoint with the harness into the card.
    sft_text = sft_recipe.read_text() + (
        "evaluate:\n  split: test\n  limit: 2\n  max_new_tokens: 8\n  batch_size: 2\n"
    )
    sft_recipe.write_text(sft_text)
    sft = run_cli("train", "sft", "--recipe", str(sft_recipe), "--json", cwd=root)
    assert sft.returncode == 0, sft.stderr[-3000:]
    grpo_recipe = write_recipe(
        root / "grpo.yaml",
        stage="grpo",
        output_dir=str(root / "grpo"),
        model={"from_sft": str(root / "sft")},
        dataset={"path": str(ml100k_build), "config": "rl", "limit": 8},
        rewards={name: 1.0 for name in REWARDS},
        trainer={
            "max_steps": 2,
            "per_device_train_batch_size": 2,
            "num_generations": 2,
            "max_completion_length": 12,
            "logging_steps": 1,
            "save_steps": 2,
            "learning_rate": 1.0e-4,
            "seed": 0,
        },
    )
    grpo = run_cli("train", "grpo", "--recipe", str(grpo_recipe), "--json", cwd=root)
    assert grpo.returncode == 0, grpo.stderr[-3000:]
    return root, json.loads(sft.stdout), json.loads(grpo.stdout)


def test_sft_trains_a_scratch_model_and_evaluates_it(runs):
    root, sft, _ = runs
    out = root / "sft"
    assert sft["global_step"] == 4 and sft["resumed_from"] is None
    assert sft["started_from"]["kind"] == "scratch" and sft["started_from"]["parameters"] > 0
    assert sft["final_loss"] > 0 and sft["tokens_per_second"] > 0
    for name in ("config.json", "model.safetensors", "tokenizer.json", "recipe.yaml",
                 "trainer_state.json", "training_metrics.json", "README.md"):  # fmt: skip
        assert (out / name).is_file(), name
    assert (out / "base" / "model.safetensors").is_file()  # the random start, kept for resume
    results = json.loads((out / "evaluation" / "results.json").read_text())
    assert results["n_users"] == 2 and "hr@1" in results["metrics"]
    assert sft["evaluation"]["hr@1"] == results["metrics"]["hr@1"]
    card = (out / "README.md").read_text()
    assert "Trained **from scratch**" in card and results["dataset"]["fingerprint"] in card
    assert "| hr@1 |" in card and "stage: sft" in card
    # The Hub's two places for results: model-index in the card, and .eval_results/.
    from huggingface_hub import ModelCard

    (model_index,) = ModelCard(card).data.to_dict()["model-index"]
    metrics = {m["type"]: m["value"] for m in model_index["results"][0]["metrics"]}
    assert metrics["hr@1"] == pytest.approx(results["metrics"]["hr@1"]["value"])
    assert "- trl: " in card and "- transformers: " in card  # framework versions
    (hub_file,) = (out / ".eval_results").glob("*.yaml")
    entries = yaml.safe_load(hub_file.read_text())
    hit = next(e for e in entries if e["dataset"]["task_id"] == "test-generate-hr@1")
    assert hit["value"] == pytest.approx(results["metrics"]["hr@1"]["value"])


def test_grpo_starts_from_sft_and_logs_every_reward(runs):
    root, _, grpo = runs
    out = root / "grpo"
    assert grpo["global_step"] == 2 and grpo["started_from"]["kind"] == "sft"
    assert grpo["started_from"]["path"] == str(root / "sft")
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    for name in REWARDS:
        logged = [entry[f"rewards/{name}/mean"] for entry in history
                  if f"rewards/{name}/mean" in entry]  # fmt: skip
        assert len(logged) == 2, name
        assert all(0.0 <= value <= 1.0 for value in logged)
        assert grpo["rewards"][name]["mean"] == pytest.approx(sum(logged) / 2)
    metrics = json.loads((out / "training_metrics.json").read_text())
    assert set(metrics["rewards"]) == set(REWARDS)
    card = (out / "README.md").read_text()
    assert all(f"reward `{name}`" in card for name in REWARDS)
    assert "Not evaluated with this run" in card
    assert "model-index" not in card and not (out / ".eval_results").exists()


def test_evaluate_scores_the_grpo_checkpoint(runs, ml100k_build):
    root, _, _ = runs
    result = run_cli(
        "evaluate", "--model", str(root / "grpo"), "--dataset", str(ml100k_build),
        "--limit", "3", "--max-new-tokens", "8", "--output-dir", str(root / "eval"), "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((root / "eval" / "results.json").read_text())
    assert results["n_users"] == 3
    assert set(results["metrics"]) >= {"hr@1", "ndcg@10", "mrr", "valid_ratio"}
    assert results["model"]["parameters"] > 0


def test_rerunning_a_finished_stage_trains_no_further(runs):
    root, _, grpo = runs
    again = run_cli("train", "grpo", "--recipe", str(root / "grpo.yaml"), "--json", cwd=root)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads(again.stdout)
    assert summary["global_step"] == grpo["global_step"] and summary["steps_this_run"] == 0
    assert summary["resumed_from"] == str(root / "grpo" / "checkpoint-2")
