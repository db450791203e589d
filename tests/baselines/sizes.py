"""Test-sized hyper-parameters: the torch models train for a couple of epochs at small sizes,
enough to learn far more than chance, short enough that tests/baselines runs in about two
minutes on two cores."""

from r2rec_bench.baselines.registry import BASELINES

SMALL = {
    "random": {},
    "pop": {},
    "itemknn": {"neighbours": 50},
    "bpr": {"dim": 16, "max_epochs": 3, "patience": 3},
    "lightgcn": {"dim": 16, "max_epochs": 3, "patience": 3},
    "caser": {"dim": 16, "learning_rate": 0.01, "max_epochs": 2, "patience": 2},
    # Large batches and a high learning rate: few optimiser steps, a lot learned per epoch.
    **{
        name: {
            **sizes, "max_len": 20, "learning_rate": 0.01, "train_batch_size": 256,
            "max_epochs": 2, "patience": 2,
        }
        for name, sizes in (
            ("sasrec", {"dim": 16, "layers": 1}),
            ("gru4rec", {"dim": 32, "hidden": 32}),
        )
    },
}  # fmt: skip
assert set(SMALL) == set(BASELINES)
