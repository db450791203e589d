"""Fitted baselines on disk, keyed by (name, hyper-parameters, seed, dataset fingerprint).

Each entry is a directory ``<name>-<key>/`` under ``$R2REC_BENCH_CACHE/baselines`` (default
``~/.cache/r2rec-bench/baselines``) holding ``state.npz`` (the arrays the model scores with:
a torch ``state_dict`` as numpy arrays, factors, a sparse similarity) and ``report.json`` (the
fit's :class:`FitReport`). The ``.npz`` is read with ``allow_pickle=False``: loading a cached
model never runs code. An entry that cannot be read is refitted and replaced.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from r2rec_bench.atomic import atomic_directory
from r2rec_bench.baselines.base import Baseline, FitReport
from r2rec_bench.baselines.data import TrainingData
from r2rec_bench.sources.fetch import cache_root

# Bumped whenever a model's training or saved state changes meaning, so that old entries
# are refitted instead of loaded.
CACHE_FORMAT = 1


def default_cache_dir() -> Path:

    return cache_root() / "baselines"


def cache_key(name: str, hyperparameters: dict, seed: int, fingerprint: str) -> str:
    identity = {
        "format": CACHE_FORMAT,
        "name": name,
        "hyperparameters": hyperparameters,
        "seed": seed,
        "dataset": fingerprint,
    }
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def fit_or_load(
    baseline: Baseline,
    data: TrainingData,
    seed: int,
    cache_dir: Path | None = None,
    refit: bool = False,
    quiet: bool = True,
) -> FitReport:
    """Load ``baseline``'s fitted state from the cache, or fit it and store it.

    The returned report says which happened (``from_cache``); a loaded report keeps the
    original fit's epochs, validation curve and training time.
    """
    key = cache_key(baseline.name, baseline.hyperparameters, seed, data.fingerprint)
    entry = Path(cache_dir or default_cache_dir()) / f"{baseline.name}-{key}"
    if not refit:
        report = _load(baseline, data, entry)
        if report is not None:
            report.from_cache = True
            report.cache_key = key
            return report
    report = baseline.fit(data, seed, quiet=quiet)
    report.cache_key = key
    with atomic_directory(entry) as staging:
        np.savez(staging / "state.npz", **baseline.state())
        (staging / "report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return report


def _load(baseline: Baseline, data: TrainingData, entry: Path) -> FitReport | None:
    try:
        report = FitReport(**json.loads((entry / "report.json").read_text()))
        with np.load(entry / "state.npz", allow_pickle=False) as archive:
            state = {name: archive[name] for name in archive.files}
        baseline.load_state(data, state)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError, zipfile.BadZipFile):
        # Missing, partial or from an incompatible version: fit again.
        return None
    return report
