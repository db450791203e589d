"""The two baselines that need nothing but numpy: Random (chance level) and Pop."""

from __future__ import annotations

import zlib

import numpy as np

from r2rec_bench.baselines.base import Baseline, FitReport, validation_hr1
from r2rec_bench.baselines.data import TrainingData


class RandomBaseline(Baseline):
    """Uniform random scores, seeded per user, so a user's scores do not depend on which
    other users are scored with them: the chance level (HR@1 = 1/20 with 20 candidates)."""

    name = "random"

    def _fit(self, data: TrainingData, seed: int, report: FitReport) -> None:
        self.seed = seed
        report.best_validation_hr1 = validation_hr1(self.score, data.validation)

    def _score(self, users, histories, codes):
        return np.stack(
            [
                np.random.default_rng([self.seed, zlib.crc32(str(user).encode())]).random(
                    codes.shape[1]
                )
                for user in users
            ]
        ).reshape(codes.shape)

    def state(self):
        return {"seed": np.array(self.seed, dtype=np.int64)}

    def _load_state(self, state):
        self.seed = int(state["seed"])


class PopBaseline(Baseline):
    """Candidates ranked by their number of training interactions (ties stay ties)."""

    name = "pop"
    SEEDED = False

    def _fit(self, data: TrainingData, seed: int, report: FitReport) -> None:
        self.counts = np.bincount(data.items, minlength=data.num_items).astype(np.float64)
        report.best_validation_hr1 = validation_hr1(self.score, data.validation)

    def _score(self, users, histories, codes):
        return self.counts[codes]

    def state(self):
        return {"counts": self.counts}

    def _load_state(self, state):
        self.counts = state["counts"]
