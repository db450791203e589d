"""Baselines fitted once per session on the real ml-100k-iot build, at test sizes."""

from __future__ import annotations

import pytest

from r2rec_bench.baselines.cache import fit_or_load
from r2rec_bench.baselines.data import load_eval_split, load_training_data
from r2rec_bench.baselines.registry import make_baseline
from tests.baselines.sizes import SMALL


@pytest.fixture(scope="session")
def training_data(ml100k_build):
    return load_training_data(ml100k_build)


@pytest.fixture(scope="session")
def test_split(ml100k_build):
    return load_eval_split(ml100k_build, "test")


@pytest.fixture(scope="session")
def baseline_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("baseline-cache")


@pytest.fixture(scope="session")
def fitted(training_data, baseline_cache):
    """name -> (baseline, report), each fitted once into the session's cache directory."""
    models = {}
    for name, hyperparameters in SMALL.items():
        baseline = make_baseline(name, **hyperparameters)
        models[name] = (baseline, fit_or_load(baseline, training_data, 0, baseline_cache))
    return models


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh, empty baseline cache for one test: ``$R2REC_BENCH_CACHE/baselines``."""
    monkeypatch.setenv("R2REC_BENCH_CACHE", str(tmp_path))
    return tmp_path / "baselines"
