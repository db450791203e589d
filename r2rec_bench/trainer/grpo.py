"""Stage 2: reinforcement learning on the `rl` config (TRL ``GRPOTrainer``), from the SFT model.

The policy starts from the SFT stage's output directory, which holds one standalone model (the
SFT LoRA adapter, if any, already merged). Merging rather than training the SFT adapter on
makes the SFT model the reference of GRPO's KL term (``beta`` > 0): with PEFT, TRL's reference
is the model with the adapter switched off, which is then the SFT model, as in R2Rec, and not
the pretrained base. A ``lora:`` block trains a fresh adapter on top, merged again at the end.

Rewards are the recipe's, from :data:`r2rec_bench.trainer.rewards.REWARDS`, with their
weights; TRL logs each one's mean and spread per step as ``rewards/<name>/mean``.
"""

from __future__ import annotations

import json
from pathlib import Path

from r2rec_bench.errors import UserError, one_line
from r2rec_bench.trainer.data import load_training_data
from r2rec_bench.trainer.recipe import Recipe
from r2rec_bench.trainer.rewards import REWARDS
from r2rec_bench.trainer.stage import METRICS, BuiltStage, load_model, lora_config, trainer_config

REWARD_COLUMNS = ("candidate_titles", "target_index", "history_titles")


def _sft_output(recipe: Recipe) -> dict:
    """The finished SFT run GRPO starts from: its training summary, or a UserError."""
    path = Path(recipe.model.from_sft).expanduser()
    fix = "point `model.from_sft` at the output_dir of a finished `r2rec-bench train sft`"
    if not path.is_dir():
        raise UserError(f"{recipe.path}: field `model.from_sft`: {path} does not exist; {fix}")
    metrics = path / METRICS
    if not metrics.is_file() or not (path / "config.json").is_file():
        raise UserError(
            f"{recipe.path}: field `model.from_sft`: {path} holds no finished SFT model (no "
            f"{METRICS}); finish it by rerunning its `train sft` command, or {fix}"
        )
    summary = json.loads(metrics.read_text(encoding="utf-8"))
    if summary.get("stage") != "sft":
        raise UserError(
            f"{recipe.path}: field `model.from_sft`: {path} is the output of a "
            f"{summary.get('stage')} run, not of SFT; {fix}"
        )
    return summary


def build(recipe: Recipe, quiet: bool) -> BuiltStage:
    sft = _sft_output(recipe)  # before TRL is imported: a wrong path fails at once
    from trl import GRPOConfig, GRPOTrainer

    config = trainer_config(
        GRPOConfig, recipe, quiet=quiet, forced={"reward_weights": list(recipe.rewards.values())}
    )
    data = load_training_data(recipe.dataset, str(recipe.path))
    missing = [c for c in ("prompt", *REWARD_COLUMNS) if c not in data.rows.column_names]
    if missing:
        raise UserError(
            f"{data.dataset.root}: the `rl` rows have no `{missing[0]}` column; rebuild it"
        )
    model, tokenizer, _ = load_model(recipe.model.from_sft, recipe)
    try:
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[REWARDS[name] for name in recipe.rewards],
            args=config,
            train_dataset=data.rows,
            processing_class=tokenizer,
            peft_config=lora_config(recipe),
        )
    except ValueError as exc:  # e.g. a batch size that num_generations does not divide
        raise UserError(f"{recipe.path}: GRPO cannot start: {one_line(exc)}") from None
    started_from = {
        "kind": "sft",
        "path": recipe.model.from_sft,
        "sft_steps": sft.get("global_step"),
        "sft_started_from": sft.get("started_from"),
        "sft_data": sft.get("data"),
    }
    return BuiltStage(trainer, started_from, data.describe(recipe.dataset))
