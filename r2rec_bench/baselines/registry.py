"""Baseline names and where each lives, resolved on demand so that listing the names (for
``--help`` or an error message) imports neither torch nor scipy."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from r2rec_bench.errors import UserError

if TYPE_CHECKING:
    from r2rec_bench.baselines.base import Baseline

BASELINES: dict[str, str] = {
    "random": "r2rec_bench.baselines.simple:RandomBaseline",
    "pop": "r2rec_bench.baselines.simple:PopBaseline",
    "itemknn": "r2rec_bench.baselines.knn:ItemKNNBaseline",
    "bpr": "r2rec_bench.baselines.neural:BPRBaseline",
    "sasrec": "r2rec_bench.baselines.sequential:SASRecBaseline",
    "gru4rec": "r2rec_bench.baselines.sequential:GRU4RecBaseline",
    "caser": "r2rec_bench.baselines.caser:CaserBaseline",
    "lightgcn": "r2rec_bench.baselines.neural:LightGCNBaseline",
}
# What a baseline sees of a user when scoring. "full": everything known before the target
# (training interactions, then the validation target at test time). "shown": only the history
# the LLM's prompt shows (its last items), so that a row can be set beside an LLM's.
PROFILES = ("full", "shown")
# What each needs beyond the core install, named in the error when it is missing.
_EXTRAS = {
    "itemknn": "scipy",
    "bpr": "torch",
    "sasrec": "torch",
    "gru4rec": "torch",
    "caser": "torch",
    "lightgcn": "torch",
}


def baseline_class(name: str) -> type[Baseline]:
    """The class of baseline ``name`` (case-insensitive); a UserError for an unknown name."""
    key = name.lower()
    if key not in BASELINES:
        raise UserError(f"unknown baseline {name!r}; known baselines: {', '.join(BASELINES)}")
    module, attribute = BASELINES[key].split(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except ModuleNotFoundError as exc:
        package = (exc.name or "").split(".")[0]
        raise UserError(
            f"baseline {key!r} needs the package {package!r}, which is not installed; "
            f"install it (pip install {_EXTRAS.get(key, package)})"
        ) from exc


def make_baseline(name: str, **hyperparameters) -> Baseline:
    """An unfitted baseline with its defaults overridden by ``hyperparameters``."""
    return baseline_class(name)(**hyperparameters)
