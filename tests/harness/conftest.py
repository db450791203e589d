"""Fixtures of the harness tests: the gold answers (for oracle doubles) and broken datasets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest


def eval_rows(dataset: Path, split: str = "test") -> list[dict]:
    """The eval split's rows, read directly with pyarrow (independently of the harness)."""
    (path,) = sorted((dataset / "eval").glob(f"{split}-*.parquet"))
    return pq.read_table(path).to_pylist()


@pytest.fixture(scope="session")
def gold_titles(ml100k_build) -> dict[str, str]:
    return {row["user_id"]: row["target_title"] for row in eval_rows(ml100k_build)}


@pytest.fixture
def dataset_copy(ml100k_build, tmp_path) -> Path:
    """A private copy of the ml-100k-iot build that a test may break."""
    return Path(shutil.copytree(ml100k_build, tmp_path / "ml-100k-iot"))


@pytest.fixture
def no_eval_dataset(dataset_copy) -> Path:
    """A dataset built without the `eval` config (as a corpus-only build would be)."""
    manifest_path = dataset_copy / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["configs"] = [c for c in manifest["configs"] if c["config"] != "eval"]
    manifest_path.write_text(json.dumps(manifest))
    shutil.rmtree(dataset_copy / "eval")
    return dataset_copy
