"""``r2rec-bench train sft|grpo|list``: the reference R2Rec trainer's subcommands.

Only argparse at import time (``r2rec-bench --help`` must not import torch); the stages import
torch, TRL and PEFT when they run. Under ``accelerate launch -m r2rec_bench train ...`` every
process runs the same command; only the main one writes the model, card and evaluation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from r2rec_bench.console import print_json


def _summary_lines(summary: dict) -> list[str]:
    resumed = f" (resumed from {summary['resumed_from']})" if summary["resumed_from"] else ""
    rate = summary["steps_per_second"]
    lines = [
        f"{summary['stage']}: {summary['global_step']:,} steps{resumed}, "
        f"{summary['train_runtime_seconds']:.1f} s"
        + (f", {rate:.2f} steps/s" if rate else "")
        + (
            f", {summary['tokens_per_second']:,.0f} tokens/s"
            if summary["tokens_per_second"]
            else ""
        )
    ]
    if summary["final_loss"] is not None:
        lines.append(f"final loss {summary['final_loss']:.4f}")
    for name, reward in summary["rewards"].items():
        if reward["mean"] is not None:
            lines.append(f"reward {name}: mean {reward['mean']:.4f}, last {reward['last']:.4f}")
    for name, entry in (summary["evaluation"] or {}).items():
        lines.append(
            f"{name:<12} {entry['value']:.4f}  [{entry['ci_low']:.4f}, {entry['ci_high']:.4f}]"
        )
    lines.append(f"model: {summary['output_dir']}")
    return lines


def cmd_train(args: argparse.Namespace) -> int:
    from r2rec_bench.trainer.recipe import load_recipe
    from r2rec_bench.trainer.stage import run_stage

    recipe = load_recipe(args.recipe, stage=args.stage)
    if args.output_dir is not None:
        recipe = recipe.with_output_dir(args.output_dir)
    if args.stage == "sft":
        from r2rec_bench.trainer.sft import build
    else:
        from r2rec_bench.trainer.grpo import build
    quiet = args.quiet or args.json
    if quiet:
        import warnings

        from datasets.utils.logging import disable_progress_bar as disable_datasets_progress
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
        disable_datasets_progress()
        # The libraries' deprecation notices are not the user's to act on.
        warnings.simplefilter("ignore")
    summary = run_stage(
        recipe, build, resume=args.resume, push_to_hub=args.push_to_hub, quiet=quiet
    )
    if summary is None:  # not the main process of a multi-GPU run
        return 0
    if args.json:
        print_json(summary)
    elif not args.quiet:
        print("\n".join(_summary_lines(summary)))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from r2rec_bench.trainer.recipe import shipped_recipes

    accelerate_dir = Path(__file__).resolve().parent / "accelerate"
    listing = {
        "recipes": {name: str(path) for name, path in shipped_recipes().items()},
        "accelerate_configs": {p.stem: str(p) for p in sorted(accelerate_dir.glob("*.yaml"))},
    }
    if args.json:
        print_json(listing)
        return 0
    for title, entries in (("recipes", listing["recipes"]),
                           ("accelerate configs", listing["accelerate_configs"])):  # fmt: skip
        print(f"{title}:")
        print("\n".join(f"  {name:<28} {path}" for name, path in entries.items()))
    return 0


def register(subcommands) -> None:
    train = subcommands.add_parser(
        "train",
        help="the reference R2Rec trainer: SFT, then GRPO (TRL, PEFT, accelerate)",
        description="Train a model with the R2Rec recipe: `train sft` (supervised fine-tuning "
        "on the `sft` config), then `train grpo` (GRPO on the `rl` config, rewarded by the "
        "harness's parser and metrics). Several GPUs: `accelerate launch --config_file "
        "CONFIG -m r2rec_bench train sft --recipe ...` (see `train list`).",
    )
    actions = train.add_subparsers(dest="train_command", metavar="STAGE", required=True)
    for stage, text in (
        ("sft", "supervised fine-tuning on the `sft` config (loss on the assistant turn only)"),
        ("grpo", "GRPO on the `rl` config, starting from an SFT output"),
    ):
        command = actions.add_parser(stage, help=text, description=text[0].upper() + text[1:])
        command.add_argument(
            "--recipe",
            required=True,
            metavar="FILE",
            help="a recipe YAML file, or the name of a shipped recipe (`train list`)",
        )
        command.add_argument(
            "--output-dir", type=Path, help="where the run writes (default: the recipe's)"
        )
        command.add_argument(
            "--resume",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="continue from the last checkpoint in the output directory (default); "
            "--no-resume deletes its checkpoints and starts over",
        )
        command.add_argument(
            "--push-to-hub", metavar="REPO", help="upload the trained model and its card (ORG/NAME)"
        )
        command.add_argument("--quiet", action="store_true", help="no progress or summary")
        command.add_argument("--json", action="store_true", help="print the training summary")
        command.set_defaults(handler=cmd_train, stage=stage)
    listing = actions.add_parser(
        "list",
        help="the shipped recipes and accelerate configs, with their paths",
        description="The recipes and accelerate configs shipped with r2rec-bench.",
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=cmd_list)
