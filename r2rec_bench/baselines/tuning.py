"""Hyper-parameter search for the classical baselines: a documented grid per model, the same
small budget for every model, chosen on validation HR@1 alone.

An under-tuned baseline inflates every gain an LLM row shows over it, and a search that
gives one model more trials than another tilts the comparison just as much. So every grid
here has exactly :data:`BUDGET` configurations, each grid holds the model's defaults (tuning
can only match or beat them on validation), every trial is an ordinary cached fit, and the
test split is read once, for the chosen configuration, by the caller.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from r2rec_bench.baselines.base import Baseline
from r2rec_bench.baselines.cache import fit_or_load
from r2rec_bench.baselines.data import TrainingData
from r2rec_bench.baselines.registry import baseline_class
from r2rec_bench.errors import UserError

BUDGET = 6  # configurations per model
# The two or three settings the literature and RecBole's own tuning ranges say matter most
# for each model; Random and Pop have none.
GRIDS: dict[str, dict[str, list]] = {
    "itemknn": {"neighbours": [50, 100, 200], "shrink": [0.0, 10.0]},
    "bpr": {"learning_rate": [1e-3, 3e-3, 1e-2], "reg": [1e-5, 1e-4]},
    "lightgcn": {"learning_rate": [1e-3, 1e-2], "layers": [1, 2, 3]},
    "gru4rec": {"train_batch_size": [16, 32, 128], "dropout": [0.3, 0.5]},
    "sasrec": {"train_batch_size": [16, 32, 64], "max_len": [50, 200]},
    "caser": {"dropout": [0.2, 0.4, 0.5], "learning_rate": [1e-3, 3e-3]},
}


def configurations(name: str) -> list[dict]:
    """Every configuration of ``name``'s grid, in grid order (the tie-break order)."""
    if name not in GRIDS:
        raise UserError(f"baseline {name!r} has nothing to tune; tunable: {', '.join(GRIDS)}")
    grid = GRIDS[name]
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def tune(
    name: str,
    data: TrainingData,
    *,
    seed: int = 0,
    fixed: dict | None = None,
    cache_dir: Path | None = None,
    quiet: bool = True,
) -> tuple[dict, Baseline]:
    """Fit (or load) each configuration of ``name``'s grid, with ``fixed`` settings on top
    (a smaller ``max_epochs``, say), and choose the best by validation HR@1; a tie goes to
    the configuration first in grid order. Returns the search (the grid, every trial and
    the choice) and the chosen baseline, fitted."""
    cls = baseline_class(name)
    fixed = dict(fixed or {})
    clash = sorted(set(fixed) & set(GRIDS.get(name, {})))
    if clash:
        raise UserError(f"--set {', '.join(clash)}: searched by the grid of {name}; leave it out")
    trials, fitted = [], []
    for config in configurations(name):
        baseline = cls(**config, **fixed)
        report = fit_or_load(baseline, data, seed, cache_dir, quiet=quiet)
        fitted.append(baseline)
        trials.append(
            {
                "hyperparameters": config,
                "validation_hr1": report.best_validation_hr1,
                "epochs": report.epochs,
                "best_epoch": report.best_epoch,
                "train_seconds": report.train_seconds,
                "train_cpu_seconds": report.train_cpu_seconds,
                "from_cache": report.from_cache,
                "cache_key": report.cache_key,
            }
        )
    best = max(range(len(trials)), key=lambda k: (trials[k]["validation_hr1"], -k))
    search = {
        "name": name,
        "seed": seed,
        "budget": BUDGET,
        "grid": GRIDS[name],
        "fixed": fixed,
        "trials": trials,
        "chosen": {**trials[best]["hyperparameters"], **fixed},
        "chosen_trial": best,
    }
    return search, fitted[best]
