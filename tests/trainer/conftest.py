"""Tiny recipes on the real ml-100k-iot build: a model from scratch small enough for a CPU."""

from __future__ import annotations

from pathlib import Path

import yaml

# A 2-layer, 64-wide Llama with a 600-token BPE learned on 30 `sft` rows: ~0.1M parameters.
TINY_SCRATCH = {
    "architecture": "llama",
    "vocab_size": 600,
    "hidden_size": 64,
    "num_layers": 2,
    "num_heads": 4,
    "num_kv_heads": 2,
    "intermediate_size": 128,
    "max_position_embeddings": 2048,
    "tokenizer_rows": 30,
}


def write_recipe(path: Path, **fields) -> Path:
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def tiny_sft_recipe(path: Path, dataset: Path, output_dir: Path, **trainer) -> Path:
    return write_recipe(
        path,
        stage="sft",
        output_dir=str(output_dir),
        model={"scratch": TINY_SCRATCH},
        dataset={"path": str(dataset), "config": "sft", "limit": 48},
        trainer={
            "per_device_train_batch_size": 2,
            "learning_rate": 1.0e-3,
            "max_length": 1024,
            "logging_steps": 1,
            "seed": 0,
            **trainer,
        },
    )
