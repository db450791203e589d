"""Tiny models for the backend tests, built once per session in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tiny_lm import (
    save_bin_only_lm,
    save_foreign_lora,
    save_lora,
    save_tiny_lm,
)


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory) -> Path:
    return save_tiny_lm(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture(scope="session")
def tiny_lora(tiny_lm, tmp_path_factory) -> Path:
    return save_lora(tmp_path_factory.mktemp("adapters") / "tiny-lora", tiny_lm)


@pytest.fixture(scope="session")
def foreign_lora(tmp_path_factory) -> Path:
    return save_foreign_lora(tmp_path_factory.mktemp("adapters") / "foreign-lora")


@pytest.fixture(scope="session")
def bin_only_lm(tiny_lm, tmp_path_factory) -> Path:
    return save_bin_only_lm(tmp_path_factory.mktemp("models") / "bin-only", tiny_lm)


@pytest.fixture(scope="session", params=[1, 3], ids=["shallower", "deeper"])
def other_depth_lora(request, tmp_path_factory) -> Path:
    """Made for a base like the tiny model (2 layers) but with 1 or 3: every shape fits."""
    path = tmp_path_factory.mktemp("adapters") / f"lora-{request.param}-layers"
    return save_foreign_lora(path, vocab_size=500, hidden=48, layers=request.param)
