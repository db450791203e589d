"""Benchmark: training the real SmolLM2-135M-Instruct on the CPU, through the trainer's own
stages (TRL, the recipe's settings, the real ml-100k-iot rows).

- SFT, every weight trained: tokens/s with bf16 autocast (``trainer.bf16: true``, fp32
  master weights) against full fp32, on the same rows in the same order (a seeded sample of
  4 `sft` rows of ~1,000 SmolLM2 tokens, batch 2, 2 steps). Figure: the bf16/fp32 ratio,
  beside the losses, which must agree (bf16 changes the arithmetic, not the training).
- GRPO from the fp32 SFT model, bf16: seconds per step, 4 completions of one prompt (up to
  128 tokens each), every reward; figure: its ratio to an fp32 SFT step of the same run.

The shipped CPU recipes (``smollm2-135m-*``) are sized from these figures. Run with
``pytest tests/benchmarks/test_bench_train_real.py --benchmark-enable``; skipped in the
default test run (tests/trainer/test_smollm2.py trains the real model a few steps there).
"""

from __future__ import annotations

import math

import pytest
import yaml

from r2rec_bench.trainer import grpo, sft
from r2rec_bench.trainer.recipe import load_recipe
from r2rec_bench.trainer.rewards import REWARDS
from r2rec_bench.trainer.stage import run_stage

SFT_STEPS = 2
GRPO_STEPS = 2
PRECISIONS = {"fp32": False, "bf16": True}


def _skip_unless_enabled(config) -> None:
    if not (config.getoption("benchmark_enable") or config.getoption("benchmark_only")):
        pytest.skip("real-model benchmark: run with --benchmark-enable")


def _run(path, data: dict, build) -> dict:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return run_stage(load_recipe(path), build, resume=False, push_to_hub=None, quiet=True)


def _sft_recipe(root, checkpoint, build_dir, *, bf16: bool) -> dict:
    name = "bf16" if bf16 else "fp32"
    return {
        "stage": "sft",
        "output_dir": str(root / f"sft-{name}"),
        "model": {"base": str(checkpoint), "dtype": "float32"},
        "dataset": {"path": str(build_dir), "sample": 2 * SFT_STEPS, "seed": 0},
        "trainer": {
            "max_steps": SFT_STEPS,
            "per_device_train_batch_size": 2,
            "learning_rate": 5.0e-5,
            "max_length": 1536,
            "bf16": bf16,
            "use_cpu": True,
            "logging_steps": 1,
            "save_steps": SFT_STEPS,
            "seed": 0,
        },
    }


@pytest.fixture(scope="module")
def fp32_baseline(request, smollm2_checkpoint, ml100k_build, tmp_path_factory):
    """The fp32 SFT run every figure is a ratio to (its output also starts the GRPO run)."""
    _skip_unless_enabled(request.config)
    root = tmp_path_factory.mktemp("bench-train-real")
    recipe = _sft_recipe(root, smollm2_checkpoint, ml100k_build, bf16=False)
    return root, _run(root / "sft-fp32.yaml", recipe, sft.build)


def test_sft_bf16_against_fp32(benchmark, fp32_baseline, smollm2_checkpoint, ml100k_build):
    benchmark.group = "training SmolLM2-135M-Instruct on the CPU"
    root, fp32 = fp32_baseline
    recipe = _sft_recipe(root, smollm2_checkpoint, ml100k_build, bf16=True)
    bf16 = benchmark.pedantic(
        _run, args=(root / "sft-bf16.yaml", recipe, sft.build), rounds=1, iterations=1
    )
    assert bf16["tokens"] == fp32["tokens"]  # the same rows, padded the same way
    assert math.isfinite(bf16["final_loss"])
    assert bf16["mean_loss"] == pytest.approx(fp32["mean_loss"], rel=0.05)
    benchmark.extra_info.update(
        tokens=bf16["tokens"],
        fp32_tokens_per_second=fp32["tokens_per_second"],
        bf16_tokens_per_second=bf16["tokens_per_second"],
        bf16_speedup_vs_fp32=bf16["tokens_per_second"] / fp32["tokens_per_second"],
        fp32_mean_loss=fp32["mean_loss"],
        bf16_mean_loss=bf16["mean_loss"],
    )
    print(f"\nSFT: {benchmark.extra_info}")


def test_grpo_seconds_per_step(benchmark, fp32_baseline, ml100k_build):
    benchmark.group = "training SmolLM2-135M-Instruct on the CPU"
    root, fp32 = fp32_baseline
    summary = benchmark.pedantic(
        _run,
        args=(
            root / "grpo.yaml",
            {
                "stage": "grpo",
                "output_dir": str(root / "grpo"),
                "model": {"from_sft": str(root / "sft-fp32"), "dtype": "float32"},
                "dataset": {"path": str(ml100k_build), "sample": GRPO_STEPS, "seed": 0},
                "rewards": {name: 1.0 for name in REWARDS},
                "trainer": {
                    "max_steps": GRPO_STEPS,
                    "per_device_train_batch_size": 4,
                    "num_generations": 4,
                    "max_completion_length": 128,
                    "learning_rate": 5.0e-6,
                    "beta": 0.0,
                    "bf16": True,
                    "use_cpu": True,
                    "logging_steps": 1,
                    "save_steps": GRPO_STEPS,
                    "seed": 0,
                },
            },
            grpo.build,
        ),
        rounds=1,
        iterations=1,
    )
    assert summary["global_step"] == GRPO_STEPS
    assert all(len(reward["per_step"]) == GRPO_STEPS for reward in summary["rewards"].values())
    grpo_step = summary["train_runtime_seconds"] / GRPO_STEPS
    sft_step = fp32["train_runtime_seconds"] / SFT_STEPS
    benchmark.extra_info.update(
        grpo_seconds_per_step=grpo_step,
        sft_fp32_seconds_per_step=sft_step,
        grpo_step_vs_sft_fp32_step=grpo_step / sft_step,
    )
    print(f"\nGRPO: {benchmark.extra_info}")
