"""Training recipes: one YAML file per model and stage (DESIGN §10), read into typed dataclasses.

A recipe names the stage (``sft`` or ``grpo``), where the run writes (``output_dir``), the model
to start from (a Hub id or directory, a model built from scratch, or an SFT output), optional
LoRA settings, the dataset and its config, TRL trainer arguments, the GRPO rewards with their
weights, and an optional evaluation of the trained checkpoint by the harness.

Only the shape of the file is checked here (no torch, no TRL); trainer arguments are checked
against TRL's own config classes when a stage builds its trainer. Every problem is a
``UserError`` naming the file and the field and saying how to fix it. Relative paths in a
recipe are relative to the working directory, as on the command line.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path

from r2rec_bench.errors import UserError
from r2rec_bench.trainer.rewards import REWARDS

STAGES = ("sft", "grpo")
CONFIG_OF_STAGE = {"sft": "sft", "grpo": "rl"}
ARCHITECTURES = ("llama", "qwen2")
EVALUATION_MODES = ("generate", "rank")
EVALUATION_SPLITS = ("test", "validation")
# Trainer arguments the recipe's other fields or the command line decide.
RESERVED_TRAINER_ARGUMENTS = {
    "output_dir": "set the top-level `output_dir` (or --output-dir)",
    "assistant_only_loss": "SFT always learns the assistant turn only",
    "reward_weights": "give each reward its weight under `rewards:`",
    "push_to_hub": "use `train ... --push-to-hub REPO`",
    "hub_model_id": "use `train ... --push-to-hub REPO`",
    "resume_from_checkpoint": "use `train ... --resume/--no-resume`",
}


@dataclass(frozen=True)
class ScratchModel:
    """A model trained from scratch: a byte-level BPE tokenizer learned on the dataset's text and
    a randomly initialised Llama- or Qwen2-style decoder of the given size."""

    architecture: str = "qwen2"
    vocab_size: int = 8000  # the tokenizer's target size (BPE stops earlier on a small corpus)
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 1024
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = True
    # Embedding rows; default the tokenizer's size. A larger value reproduces a published
    # model's shape (Qwen2.5's 151,936 rows) for throughput measurements.
    model_vocab_size: int | None = None
    rope_theta: float = 10000.0
    tokenizer_rows: int | None = 2000  # `sft` rows the tokenizer learns from (None: all)
    seed: int = 0


@dataclass(frozen=True)
class ModelSpec:
    base: str | None = None  # a Hub id or a local model directory (stage sft)
    scratch: ScratchModel | None = None  # build one from scratch instead (stage sft)
    from_sft: str | None = None  # the output_dir of a finished SFT run (stage grpo)
    dtype: str = "auto"  # auto: bfloat16 on a GPU that has it, float32 elsewhere
    trust_remote_code: bool = False


@dataclass(frozen=True)
class LoraSpec:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] | str = "all-linear"


@dataclass(frozen=True)
class DatasetSpec:
    path: str  # a dataset built by `r2rec-bench build` (directory) or its Hub repo id
    config: str | None = None  # default: the stage's (sft for sft, rl for grpo)
    split: str = "train"
    limit: int | None = None  # the first N rows only, for quick runs
    sample: int | None = None  # N rows drawn at random (seeded), a representative subset
    seed: int = 0  # of `sample`: recipes with the same sample and seed train on the same rows
    # False (sft only): the assistant turn keeps its answer and drops the reasoning.
    reasoning: bool = True


@dataclass(frozen=True)
class EvaluateSpec:
    """Evaluate the trained checkpoint with the harness once training ends."""

    split: str = "test"
    limit: int | None = None
    mode: str = "generate"
    max_new_tokens: int = 512
    batch_size: int | str = "auto"


@dataclass(frozen=True)
class Recipe:
    path: Path
    stage: str
    output_dir: Path
    model: ModelSpec
    dataset: DatasetSpec
    lora: LoraSpec | None = None
    trainer: dict = field(default_factory=dict)  # TRL SFTConfig / GRPOConfig arguments
    rewards: dict[str, float] = field(default_factory=dict)  # reward name -> weight (grpo)
    evaluate: EvaluateSpec | None = None
    source: dict = field(default_factory=dict)  # the YAML as read, for the card and resume

    def with_output_dir(self, output_dir: Path) -> Recipe:
        return replace(
            self, output_dir=Path(output_dir), source={**self.source, "output_dir": str(output_dir)}
        )


# -- reading ----------------------------------------------------------------------------------


def recipe_dir() -> Path:
    """The recipes shipped with the package (they travel inside the wheel)."""
    return Path(__file__).resolve().parent / "recipes"


def shipped_recipes() -> dict[str, Path]:
    return {path.stem: path for path in sorted(recipe_dir().glob("*.yaml"))}


def locate(name_or_path: str | Path) -> Path:
    """A recipe file: a path, or the name of a shipped recipe (``ml-100k-scratch-sft``)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    shipped = shipped_recipes()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    if path.exists():
        raise UserError(f"{path}: a recipe is a YAML file, not a directory")
    raise UserError(
        f"{name_or_path}: no such recipe file, and not a shipped recipe "
        f"({', '.join(shipped)}); see `r2rec-bench train list`"
    )


def _type_ok(value, hint) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, option) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if hint is float:  # YAML writes 1 for 1.0
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_words(hint) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_words(option) for option in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) is list:
        return f"a list of {_type_words(typing.get_args(hint)[0])}"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


def suggestion(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean `{close[0]}`?" if close else f"known: {', '.join(sorted(known))}"


def _section(cls, data, where: str, prefix: str, nested: dict | None = None):
    """``cls(**data)`` with every key and value type checked; ``nested`` builds sub-sections."""
    if not isinstance(data, dict):
        raise UserError(f"{where}: field `{prefix}` must be a mapping of settings")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    values = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}"
        if key not in names:
            raise UserError(f"{where}: unknown field `{dotted}`; {suggestion(str(key), names)}")
        if nested and key in nested:
            values[key] = None if value is None else nested[key](value, dotted)
        elif not _type_ok(value, hints[key]):
            raise UserError(
                f"{where}: field `{dotted}` is {value!r}; it must be {_type_words(hints[key])}"
            )
        else:
            values[key] = value
    for spec in fields(cls):
        if spec.name not in values and spec.default is MISSING and spec.default_factory is MISSING:
            raise UserError(f"{where}: field `{prefix}.{spec.name}` is missing")
    return cls(**values)


def _positive(where: str, dotted: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise UserError(f"{where}: field `{dotted}` is {value}; it must be at least 1")


def _check_scratch(scratch: ScratchModel, where: str) -> None:
    if scratch.architecture not in ARCHITECTURES:
        raise UserError(
            f"{where}: field `model.scratch.architecture` is {scratch.architecture!r}; use one "
            f"of {', '.join(ARCHITECTURES)}"
        )
    for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "num_kv_heads",
                 "intermediate_size", "max_position_embeddings", "model_vocab_size",
                 "tokenizer_rows"):  # fmt: skip
        _positive(where, f"model.scratch.{name}", getattr(scratch, name))
    if scratch.vocab_size < 300:
        raise UserError(
            f"{where}: field `model.scratch.vocab_size` is {scratch.vocab_size}; a byte-level "
            "BPE needs at least 300 (256 bytes, the special tokens and some merges)"
        )
    if scratch.hidden_size % scratch.num_heads:
        raise UserError(
            f"{where}: field `model.scratch.hidden_size` ({scratch.hidden_size}) must be a "
            f"multiple of `model.scratch.num_heads` ({scratch.num_heads})"
        )
    if scratch.num_heads % scratch.num_kv_heads:
        raise UserError(
            f"{where}: field `model.scratch.num_heads` ({scratch.num_heads}) must be a multiple "
            f"of `model.scratch.num_kv_heads` ({scratch.num_kv_heads})"
        )


def _check_model(model: ModelSpec, stage: str, where: str) -> None:
    given = [name for name in ("base", "scratch", "from_sft") if getattr(model, name) is not None]
    allowed = ("base", "scratch") if stage == "sft" else ("from_sft",)
    wrong = [name for name in given if name not in allowed]
    if wrong:
        fix = (
            "SFT starts from `model.base` (Hub id or directory) or `model.scratch`"
            if stage == "sft"
            else "GRPO starts from `model.from_sft`: the output_dir of the SFT run"
        )
        raise UserError(f"{where}: field `model.{wrong[0]}` does not apply to stage {stage}; {fix}")
    if len(given) != 1:
        choices = " or ".join(f"`model.{name}`" for name in allowed)
        raise UserError(f"{where}: field `model` needs exactly one of {choices}")
    if model.scratch is not None:
        _check_scratch(model.scratch, where)
    if model.dtype not in ("auto", "float32", "bfloat16", "float16"):
        raise UserError(
            f"{where}: field `model.dtype` is {model.dtype!r}; use auto, float32, bfloat16 or "
            "float16"
        )


def _check_dataset(spec: DatasetSpec, stage: str, where: str) -> None:
    _positive(where, "dataset.limit", spec.limit)
    _positive(where, "dataset.sample", spec.sample)
    if spec.limit is not None and spec.sample is not None:
        raise UserError(
            f"{where}: fields `dataset.limit` and `dataset.sample` exclude each other; keep "
            "`sample` for a seeded random subset or `limit` for the first rows"
        )
    if not spec.reasoning and stage != "sft":
        raise UserError(
            f"{where}: field `dataset.reasoning: false` applies to stage sft only (answer-only "
            "SFT rows); remove it"
        )


def _check_evaluate(spec: EvaluateSpec, where: str) -> None:
    if spec.split not in EVALUATION_SPLITS:
        raise UserError(
            f"{where}: field `evaluate.split` is {spec.split!r}; use test or validation"
        )
    if spec.mode not in EVALUATION_MODES:
        raise UserError(f"{where}: field `evaluate.mode` is {spec.mode!r}; use generate or rank")
    _positive(where, "evaluate.limit", spec.limit)
    _positive(where, "evaluate.max_new_tokens", spec.max_new_tokens)
    if isinstance(spec.batch_size, str) and spec.batch_size != "auto":
        raise UserError(
            f"{where}: field `evaluate.batch_size` is {spec.batch_size!r}; use a positive "
            "integer or auto"
        )
    if isinstance(spec.batch_size, int):
        _positive(where, "evaluate.batch_size", spec.batch_size)


def _check_rewards(rewards, stage: str, where: str) -> dict[str, float]:

    if stage != "grpo":
        if rewards:
            raise UserError(f"{where}: field `rewards` applies to stage grpo only; remove it")
        return {}
    if not isinstance(rewards, dict) or not rewards:
        raise UserError(
            f"{where}: field `rewards` must map reward names to weights, e.g. "
            f"`answer_hit: 1.0` (rewards: {', '.join(REWARDS)})"
        )
    checked = {}
    for name, weight in rewards.items():
        if name not in REWARDS:
            raise UserError(
                f"{where}: unknown reward `rewards.{name}`; {suggestion(name, REWARDS)}"
            )
        if not _type_ok(weight, float):
            raise UserError(f"{where}: field `rewards.{name}` is {weight!r}; it must be a number")
        checked[name] = float(weight)
    return checked


def _check_trainer(trainer, where: str) -> dict:
    if trainer is None:
        return {}
    if not isinstance(trainer, dict):
        raise UserError(f"{where}: field `trainer` must be a mapping of TRL trainer arguments")
    for key in trainer:
        if key in RESERVED_TRAINER_ARGUMENTS:
            raise UserError(
                f"{where}: field `trainer.{key}` is not set here; {RESERVED_TRAINER_ARGUMENTS[key]}"
            )
    return dict(trainer)


TOP_LEVEL = ("stage", "output_dir", "model", "lora", "dataset", "trainer", "rewards", "evaluate")


def parse_recipe(data, where: str | Path) -> Recipe:
    """A recipe from its parsed YAML; ``where`` names the file in error messages."""
    where = str(where)
    if not isinstance(data, dict):
        raise UserError(f"{where}: a recipe is a YAML mapping (stage:, model:, dataset:, ...)")
    for key in data:
        if key not in TOP_LEVEL:
            raise UserError(f"{where}: unknown field `{key}`; {suggestion(str(key), TOP_LEVEL)}")
    for key in ("stage", "output_dir", "model", "dataset"):
        if data.get(key) is None:
            raise UserError(f"{where}: field `{key}` is missing")
    stage = data["stage"]
    if stage not in STAGES:
        raise UserError(f"{where}: field `stage` is {stage!r}; use sft or grpo")
    if not isinstance(data["output_dir"], str) or not data["output_dir"].strip():
        raise UserError(f"{where}: field `output_dir` must be a directory path")
    model = _section(
        ModelSpec,
        data["model"],
        where,
        "model",
        nested={"scratch": lambda value, dotted: _section(ScratchModel, value, where, dotted)},
    )
    _check_model(model, stage, where)
    dataset = _section(DatasetSpec, data["dataset"], where, "dataset")
    wanted = CONFIG_OF_STAGE[stage]
    if dataset.config not in (None, wanted):
        raise UserError(
            f"{where}: field `dataset.config` is {dataset.config!r}; stage {stage} trains on "
            f"the `{wanted}` config"
        )
    _check_dataset(dataset, stage, where)
    lora = None if data.get("lora") is None else _section(LoraSpec, data["lora"], where, "lora")
    if lora is not None:
        _positive(where, "lora.r", lora.r)
    evaluate = None
    if data.get("evaluate") is not None:
        evaluate = _section(EvaluateSpec, data["evaluate"], where, "evaluate")
        _check_evaluate(evaluate, where)
    return Recipe(
        path=Path(where),
        stage=stage,
        output_dir=Path(data["output_dir"]),
        model=model,
        dataset=replace(dataset, config=wanted),
        lora=lora,
        trainer=_check_trainer(data.get("trainer"), where),
        rewards=_check_rewards(data.get("rewards"), stage, where),
        evaluate=evaluate,
        source=dict(data),
    )


def load_recipe(name_or_path: str | Path, *, stage: str | None = None) -> Recipe:
    """Read and check a recipe; with ``stage``, also check it is a recipe for that stage."""
    import yaml

    path = locate(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "malformed"
        raise UserError(f"{path}{line}: not valid YAML ({problem}); fix the syntax") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot be read ({exc})") from None
    recipe = parse_recipe(data, path)
    if stage is not None and recipe.stage != stage:
        raise UserError(
            f"{path}: field `stage` is {recipe.stage}; run it with `r2rec-bench train "
            f"{recipe.stage}`, or pass a {stage} recipe"
        )
    return recipe
