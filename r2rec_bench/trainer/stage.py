"""What both stages share: the output directory, resume, the TRL config, the final model, the
training summary, the evaluation of the checkpoint, the card and the push.

An output directory holds, once a stage has finished:

- the trained model at its root (``config.json``, ``model.safetensors``, tokenizer files): a
  LoRA adapter is merged into its base first, so that every stage ends in one standalone
  model that ``r2rec-bench evaluate --model DIR`` and the next stage load as it is;
- ``checkpoint-N/``: the trainer's checkpoints, which a rerun resumes from;
- ``recipe.yaml``: the recipe as run (a resume refuses a different one);
- ``trainer_state.json`` (TRL's log history, rewards included) and ``training_metrics.json``
  (steps, time, throughput, loss, each reward's mean over the run and at every logged step);
- ``evaluation/`` (``results.json``, ``samples.jsonl``) when the recipe has an ``evaluate:``
  block, and ``README.md``, the model card;
- ``base/``: for a model trained from scratch, the tokenizer and the initial model.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import typing
from pathlib import Path

from r2rec_bench.errors import UserError, one_line
from r2rec_bench.harness.backends import resolve_backend
from r2rec_bench.harness.runner import run_evaluation
from r2rec_bench.llm.loading import resolve_device, resolve_dtype, resolve_model_dir
from r2rec_bench.task.dataset import check_repo_id
from r2rec_bench.trainer.card import push_model, write_model_card
from r2rec_bench.trainer.recipe import Recipe, suggestion

RECIPE_COPY = "recipe.yaml"
METRICS = "training_metrics.json"
EVALUATION_DIR = "evaluation"
# Parts of a recipe that may change between a run and its resume: they do not touch training.
_FREE_ON_RESUME = ("evaluate",)
_CHECKPOINT = re.compile(r"checkpoint-(\d+)")


# -- TRL configuration ------------------------------------------------------------------------


def _coerce(value, hint):
    """YAML reads ``1e-4`` (no dot) as a string; a float argument gets the number it means."""
    if isinstance(value, str) and float in (*typing.get_args(hint), hint):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def trainer_config(config_class, recipe: Recipe, *, quiet: bool, forced: dict):
    """``config_class`` (SFTConfig or GRPOConfig) from the recipe's ``trainer:`` block.

    Unknown arguments and values TRL rejects are errors naming the field. Precision defaults
    to what the machine has (bf16 on a GPU that supports it, else fp16 on a GPU, full
    precision on a CPU, where half-precision autocast is slow) instead of TRL's bf16.
    """
    import torch

    hints = typing.get_type_hints(config_class)
    known = {spec.name for spec in dataclasses.fields(config_class)}
    arguments = {}
    for key, value in recipe.trainer.items():
        if key not in known:
            raise UserError(
                f"{recipe.path}: unknown field `trainer.{key}` (not a {config_class.__name__} "
                f"argument); {suggestion(key, known)}"
            )
        arguments[key] = _coerce(value, hints.get(key))
    if "bf16" not in arguments and "fp16" not in arguments:
        cuda = torch.cuda.is_available()
        arguments["bf16"] = cuda and torch.cuda.is_bf16_supported()
        arguments["fp16"] = cuda and not arguments["bf16"]
    arguments.setdefault("report_to", [])
    arguments.setdefault("dataloader_pin_memory", torch.cuda.is_available())
    if quiet:
        arguments.update(disable_tqdm=True, log_level="error")
    try:
        return config_class(output_dir=str(recipe.output_dir), **arguments, **forced)
    except (ValueError, TypeError) as exc:
        raise UserError(f"{recipe.path}: field `trainer`: {one_line(exc)}") from None


def lora_config(recipe: Recipe, task_type: str = "CAUSAL_LM"):
    if recipe.lora is None:
        return None
    from peft import LoraConfig

    spec = recipe.lora
    return LoraConfig(
        r=spec.r,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=spec.target_modules,
        task_type=task_type,
    )


def load_model(path: str, recipe: Recipe):
    """A causal LM and its tokenizer for training: safetensors only, no remote code unless
    the recipe asks, in the recipe's dtype. Placement is left to the trainer (accelerate)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    trust = recipe.model.trust_remote_code
    model_dir, revision = resolve_model_dir(path, trust_remote_code=trust)
    dtype = resolve_dtype(recipe.model.dtype, resolve_device("auto"))
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust)
        model = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=dtype, use_safetensors=True, trust_remote_code=trust
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise UserError(f"{path}: cannot load it as a causal LM ({one_line(exc)})") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, revision


# -- the output directory ---------------------------------------------------------------------


def checkpoints(out: Path, *, complete_only: bool = True) -> list[Path]:
    """The trainer's checkpoints in ``out``, oldest first.

    transformers writes a checkpoint's ``trainer_state.json`` last and in place: a folder
    without it was cut short by a crash and is not complete (not resumable).
    """
    if not out.is_dir():
        return []
    found = [
        path
        for path in out.iterdir()
        if _CHECKPOINT.fullmatch(path.name)
        and (not complete_only or (path / "trainer_state.json").is_file())
    ]
    return sorted(found, key=lambda p: int(_CHECKPOINT.fullmatch(p.name).group(1)))


def resume_point(recipe: Recipe, resume: bool) -> Path | None:
    """The checkpoint to continue from, or None to start at step 0; a directory that holds
    checkpoints of another recipe is an error (resuming them would mix two runs)."""
    import yaml

    out = recipe.output_dir
    found = checkpoints(out)
    if not resume or not found:
        return None
    saved = out / RECIPE_COPY
    if saved.is_file():
        before = yaml.safe_load(saved.read_text(encoding="utf-8")) or {}
        now = json.loads(json.dumps(recipe.source, default=str))
        different = sorted(
            key
            for key in set(before) | set(now)
            if key not in _FREE_ON_RESUME and before.get(key) != now.get(key)
        )
        if different:
            raise UserError(
                f"{out}: holds checkpoints of a different recipe ({', '.join(different)} "
                "changed); rerun with --no-resume to start over, or choose another --output-dir"
            )
    return found[-1]


def start_over(out: Path, quiet: bool) -> None:
    """``--no-resume``: the old checkpoints go, so that none is mixed into the new run."""
    for checkpoint in checkpoints(out, complete_only=False):
        shutil.rmtree(checkpoint)
        if not quiet:
            print(f"removed {checkpoint} (--no-resume)")


def write_recipe_copy(recipe: Recipe) -> None:
    import yaml

    recipe.output_dir.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(recipe.source, sort_keys=False, allow_unicode=True)
    (recipe.output_dir / RECIPE_COPY).write_text(text, encoding="utf-8")


def is_finished(checkpoint: Path) -> bool:
    """Whether a checkpoint is the last step of its run (its trainer state says so)."""
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return 0 < state.get("max_steps", 0) <= state.get("global_step", 0)


def train(trainer, resumed_from: Path | None):
    """``trainer.train()``, resumed from a checkpoint when there is one.

    A finished run is not handed to ``train()``: transformers would take one optimizer step
    past ``max_steps`` before noticing the end. Its last checkpoint's weights and state are
    loaded instead, so that rerunning a finished command (to evaluate or push again, or after
    a crash while saving) ends with the very model the run trained.
    """
    from transformers.trainer_callback import TrainerState
    from transformers.trainer_utils import TrainOutput

    if resumed_from is None or not is_finished(resumed_from):
        return trainer.train(resume_from_checkpoint=str(resumed_from) if resumed_from else None)
    trainer._load_from_checkpoint(str(resumed_from))
    trainer.state = TrainerState.load_from_json(str(resumed_from / "trainer_state.json"))
    return TrainOutput(trainer.state.global_step, 0.0, {"train_runtime": 0.0})


def step_of(checkpoint: Path | None) -> int:
    return int(_CHECKPOINT.fullmatch(checkpoint.name).group(1)) if checkpoint else 0


def quiet_trainer(trainer) -> None:
    """No per-step log lines on stdout (``--quiet``, ``--json``)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


# -- after training ---------------------------------------------------------------------------


def save_final_model(trainer, out: Path) -> None:
    """The trained model at the root of ``out``, a LoRA adapter merged into its weights."""
    from peft import PeftModel

    model = trainer.accelerator.unwrap_model(trainer.model)
    if isinstance(model, PeftModel):
        model = model.merge_and_unload()
    model.save_pretrained(out)
    trainer.processing_class.save_pretrained(out)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def training_summary(trainer, result, *, stage: str, resumed_from: Path | None) -> dict:
    """Steps, time, throughput, loss and every reward's mean (over the run and per logged
    step), from TRL's log history."""
    history = trainer.state.log_history
    resumed_step = step_of(resumed_from)
    steps = trainer.state.global_step - resumed_step
    runtime = result.metrics.get("train_runtime") or 0.0
    tokens = [entry["num_tokens"] for entry in history if "num_tokens" in entry]
    rewards = {}
    for name in getattr(trainer, "reward_func_names", []):
        key = f"rewards/{name}/mean"
        per_step = [{"step": e["step"], "mean": e[key]} for e in history if key in e]
        values = [logged["mean"] for logged in per_step]
        rewards[name] = {"mean": _mean(values), "last": values[-1] if values else None,
                         "logged": len(values), "per_step": per_step}  # fmt: skip
    losses = [entry["loss"] for entry in history if "loss" in entry]
    return {
        "stage": stage,
        "global_step": trainer.state.global_step,
        "resumed_from": str(resumed_from) if resumed_from else None,
        "resumed_from_step": resumed_step,
        "steps_this_run": steps,
        "train_runtime_seconds": runtime,
        "steps_per_second": steps / runtime if runtime > 0 else None,
        "samples_per_second": result.metrics.get("train_samples_per_second"),
        "tokens": tokens[-1] if tokens else None,
        # TRL's token count restarts with the process in SFT: only a run from step 0 has a rate.
        "tokens_per_second": tokens[-1] / runtime
        if tokens and runtime > 0 and not resumed_step
        else None,
        "final_loss": losses[-1] if losses else None,
        "mean_loss": _mean(losses),
        "rewards": rewards,
        "world_size": trainer.accelerator.num_processes,
        "device": str(trainer.args.device),
    }


def evaluate_checkpoint(recipe: Recipe, quiet: bool) -> dict:
    """The harness's evaluation of the model just saved in the output directory."""

    spec = recipe.evaluate
    out = recipe.output_dir
    evaluation = out / EVALUATION_DIR
    # The model was just (re)written: samples of an earlier evaluation describe another one.
    shutil.rmtree(evaluation, ignore_errors=True)
    options = {"batch_size": spec.batch_size, "max_new_tokens": spec.max_new_tokens}
    backend = resolve_backend(str(out), **options, seed=0)
    return run_evaluation(
        backend,
        recipe.dataset.path,
        model_spec=str(out),
        options=options,
        split=spec.split,
        mode=spec.mode,
        limit=spec.limit,
        batch_size=spec.batch_size,
        output_dir=evaluation,
        quiet=quiet,
    )


def release_memory() -> None:
    """Give back what the trainer's model held before the evaluation loads the saved one."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# -- one stage, start to end ------------------------------------------------------------------


@dataclasses.dataclass
class BuiltStage:
    """What a stage's ``build(recipe, quiet)`` returns."""

    trainer: object  # a TRL trainer, ready to train
    started_from: dict  # the model it starts from, for the card
    data: dict  # the training rows' dataset, fingerprint and size, for the card


def run_stage(recipe: Recipe, build, *, resume: bool, push_to_hub: str | None, quiet: bool):
    """Train one stage built by ``build(recipe, quiet) -> BuiltStage``. Returns the summary
    (also in training_metrics.json), or None on the processes of a multi-GPU run other than
    the main one."""
    if push_to_hub:
        check_repo_id(push_to_hub)
    from accelerate import PartialState

    out = recipe.output_dir
    state = PartialState()
    fresh = not out.exists()
    resumed_from = resume_point(recipe, resume)
    try:
        built = build(recipe, quiet)
        trainer = built.trainer
        if state.is_main_process:
            if not resume:
                start_over(out, quiet)
            write_recipe_copy(recipe)
        state.wait_for_everyone()
        if quiet:
            quiet_trainer(trainer)
        if resumed_from and not quiet:
            print(f"resuming from {resumed_from}")
        result = train(trainer, resumed_from)
    except BaseException:
        # A run that stopped before its first checkpoint leaves nothing to resume: no
        # directory is left behind for it.
        if fresh and state.is_main_process and not checkpoints(out):
            shutil.rmtree(out, ignore_errors=True)
        raise
    trainer.save_state()
    state.wait_for_everyone()
    if not state.is_main_process:
        return None
    save_final_model(trainer, out)
    summary = training_summary(trainer, result, stage=recipe.stage, resumed_from=resumed_from)
    summary.update(started_from=built.started_from, data=built.data, output_dir=str(out))
    del trainer, built
    release_memory()
    results = evaluate_checkpoint(recipe, quiet) if recipe.evaluate else None
    summary["evaluation"] = results["metrics"] if results else None
    (out / METRICS).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    write_model_card(recipe, summary, results, repo_id=push_to_hub)
    if push_to_hub:
        summary["pushed_to"] = push_model(out, push_to_hub, quiet=quiet)
    return summary
