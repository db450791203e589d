"""The interface every classical baseline implements, and what a fit reports (DESIGN §8)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import ClassVar

import numpy as np

from r2rec_bench.baselines.data import TrainingData
from r2rec_bench.baselines.registry import PROFILES
from r2rec_bench.errors import UserError
from r2rec_bench.task.dataset import EvalSplit
from r2rec_bench.task.metrics import hit_ratio
from r2rec_bench.task.scoring import target_ranks

# Score of a candidate that no trained model knows (absent from training): below any real
# score, and finite so that downstream arithmetic stays well defined.
UNSEEN_SCORE = -1e30


@dataclass
class FitReport:
    """What a fit did, recorded beside every result (seeds, hyper-parameters, epochs...)."""

    name: str
    seed: int
    hyperparameters: dict
    dataset_fingerprint: str
    epochs: int = 0  # epochs trained (0 for models fitted in closed form)
    best_epoch: int = 0  # the epoch whose weights were kept (1-based)
    best_validation_hr1: float = 0.0
    validation_hr1: list[float] = field(default_factory=list)  # after each epoch
    train_seconds: float = 0.0  # wall
    # This process's CPU time for the fit: on a shared machine, the figure to compare.
    train_cpu_seconds: float = 0.0
    parameters: int = 0
    software: dict = field(default_factory=dict)
    from_cache: bool = False
    cache_key: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class Baseline(ABC):
    """A recommender trained on ``interactions/train`` only, scoring fixed candidates.

    Subclasses declare their hyper-parameters with defaults in ``DEFAULTS``; constructor
    keywords override them. ``fit`` trains (early-stopping on validation HR@1 where the model
    has epochs); ``state``/``load_state`` let the cache skip a fit.
    """

    name: ClassVar[str]
    DEFAULTS: ClassVar[dict] = {}
    # Models whose score does not depend on the history (Random, Pop) or that read it
    # (ItemKNN, the sequence models) can score from the shown history alone; a model that
    # scores a user by a learned user embedding cannot.
    SCORES_FROM_HISTORY: ClassVar[bool] = True
    # Whether the seed changes the fitted model (initialisation, sampling, random scores), so
    # that runs under several seeds measure how much a result owes to its seed.
    SEEDED: ClassVar[bool] = True

    def __init__(self, **hyperparameters) -> None:
        unknown = sorted(set(hyperparameters) - set(self.DEFAULTS))
        if unknown:
            known = ", ".join(sorted(self.DEFAULTS)) or "none"
            raise UserError(
                f"baseline {self.name!r} has no hyper-parameter {', '.join(unknown)}; "
                f"its hyper-parameters: {known}"
            )
        self.hyperparameters = {**self.DEFAULTS, **hyperparameters}
        self.data: TrainingData | None = None
        self.profile = "full"

    @classmethod
    def check_profile(cls, profile: str) -> None:
        """A UserError unless this baseline can score from ``profile`` (one of PROFILES)."""
        if profile not in PROFILES:
            raise UserError(f"profile {profile!r}: use one of {', '.join(PROFILES)}")
        if profile == "shown" and not cls.SCORES_FROM_HISTORY:
            raise UserError(
                f"profile shown: baseline {cls.name!r} scores a user by a learned embedding of "
                "all their training interactions, not by a history; use profile full"
            )

    def use_profile(self, profile: str) -> None:
        """Score from ``profile`` from now on. Fitting and its early stopping always use the
        full profile, so a cached fit serves both."""
        self.check_profile(profile)
        self.profile = profile

    def user_sequences(self, users: list[str], histories: list[list[str]]) -> list[np.ndarray]:
        """The item codes each user is scored from, under the baseline's profile."""
        assert self.data is not None
        return self.data.sequences(users, histories, shown_only=self.profile == "shown")

    def fit(self, data: TrainingData, seed: int, *, quiet: bool = True) -> FitReport:
        """Train on ``data`` (training interactions; validation for early stopping); unless
        ``quiet``, each epoch shows its validation HR@1 on stderr."""
        self.data = data
        self.quiet = quiet
        report = self._report(seed)
        chosen, self.profile = self.profile, "full"
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            self._fit(data, seed, report)
        finally:
            self.profile = chosen
        report.train_seconds = time.perf_counter() - start
        report.train_cpu_seconds = time.process_time() - start_cpu
        report.parameters = self.parameter_count()
        return report

    def load_state(self, data: TrainingData, state: dict[str, np.ndarray]) -> None:
        """Restore what ``state()`` saved, for the same dataset and hyper-parameters."""
        self.data = data
        self._load_state(state)

    def score(
        self, users: list[str], histories: list[list[str]], candidates: list[list[str]]
    ) -> np.ndarray:
        """Scores, higher is better, shape (users, candidates). Every row must have as many
        candidates; a candidate unknown to training scores ``UNSEEN_SCORE``."""
        if self.data is None:
            raise RuntimeError(f"{self.name}: fit or load a state before scoring")
        widths = {len(row) for row in candidates}
        if len(widths) > 1:
            raise UserError(f"{self.name}: every user needs the same number of candidates")
        codes = np.array([self.data.item_codes(list(row)) for row in candidates], np.int64)
        codes = codes.reshape(len(candidates), widths.pop() if widths else 0)
        scores = np.asarray(self._score(users, histories, codes), dtype=np.float64)
        return np.where(codes >= 0, scores, UNSEEN_SCORE)

    def parameter_count(self) -> int:
        return int(sum(np.asarray(v).size for v in self.state().values()))

    def _report(self, seed: int) -> FitReport:
        assert self.data is not None
        return FitReport(
            name=self.name,
            seed=seed,
            hyperparameters=dict(self.hyperparameters),
            dataset_fingerprint=self.data.fingerprint,
            software=self.software(),
        )

    def software(self) -> dict:
        return {"numpy": np.__version__}

    @abstractmethod
    def _fit(self, data: TrainingData, seed: int, report: FitReport) -> None: ...

    @abstractmethod
    def _score(self, users: list[str], histories: list[list[str]], codes: np.ndarray) -> np.ndarray:
        """Scores for candidate item ``codes`` (-1 where unseen: any value, it is masked)."""

    @abstractmethod
    def state(self) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def _load_state(self, state: dict[str, np.ndarray]) -> None: ...


def validation_hr1(scorer: Callable[..., np.ndarray], split: EvalSplit) -> float:
    """HR@1 over a split's fixed candidates, ties by the benchmark's one rule (task.scoring)."""
    scores = scorer(split.users, split.histories, split.candidates)
    ranks = target_ranks(scores, split.target_index, split.users, split.candidates)
    return float(hit_ratio(ranks, 1).mean())


class EarlyStopping:
    """Keep the best epoch by validation HR@1; stop after ``patience`` epochs without a
    strict improvement (a tie keeps the earlier, less trained weights). A progress bar on
    stderr shows each epoch's validation HR@1 unless ``quiet``."""

    def __init__(
        self, patience: int, report: FitReport, *, max_epochs: int = 0, quiet: bool = True
    ) -> None:
        from tqdm.auto import tqdm

        self.patience = patience
        self.report = report
        self.best = -1.0
        self.bar = tqdm(
            total=max_epochs or None, desc=f"{report.name} epochs", unit=" epoch",
            disable=quiet, leave=False,
        )  # fmt: skip

    def step(self, epoch: int, hr1: float) -> tuple[bool, bool]:
        """Record ``epoch`` (1-based); returns (improved, stop)."""
        self.report.epochs = epoch
        self.report.validation_hr1.append(round(hr1, 6))
        improved = hr1 > self.best
        if improved:
            self.best = hr1
            self.report.best_epoch = epoch
            self.report.best_validation_hr1 = hr1
        stop = epoch - self.report.best_epoch >= self.patience
        self.bar.set_postfix_str(
            f"val HR@1 {hr1:.4f} (best {self.best:.4f} at epoch {self.report.best_epoch})"
        )
        self.bar.update(1)
        if stop:
            self.bar.close()
        return improved, stop
