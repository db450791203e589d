"""Classical baselines (DESIGN §8): Random, Pop, ItemKNN, BPR-MF, SASRec, GRU4Rec, LightGCN.

Each trains on a dataset's ``interactions/train`` only, early-stops on validation HR@1 over
the fixed candidates, records its seed and hyper-parameters, and is cached once fitted. The
harness reaches them through :func:`make_baseline_backend` (model spec ``baseline:<name>``);
``r2rec-bench baselines train`` fits and evaluates them from the command line.

Importing this package is cheap: torch and scipy load only when a model needs them.
"""

from __future__ import annotations


def make_baseline_backend(name: str, **options):
    """A :class:`~r2rec_bench.task.records.Backend` for baseline ``name``: see
    :func:`r2rec_bench.baselines.backend.make_baseline_backend`."""
    from r2rec_bench.baselines.backend import make_baseline_backend as make

    return make(name, **options)


def check_seeded(name: str, n: int) -> None:
    """A UserError unless baseline ``name``'s fit depends on its seed, so that ``n`` seeds
    give ``n`` different models (the harness asks before ``evaluate --seeds N``)."""
    from r2rec_bench.baselines.registry import baseline_class
    from r2rec_bench.errors import UserError

    if not baseline_class(name).SEEDED:
        raise UserError(
            f"--seeds {n}: baseline:{name} does not depend on its seed, so every seed gives "
            "the same run; evaluate it once"
        )
