"""The harness backend for ``baseline:<name>`` (DESIGN §7): a fitted (or cached) baseline
behind the :class:`~r2rec_bench.task.records.Backend` interface."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from r2rec_bench.baselines.base import Baseline, FitReport
from r2rec_bench.baselines.cache import fit_or_load
from r2rec_bench.baselines.data import load_training_data
from r2rec_bench.baselines.registry import baseline_class
from r2rec_bench.errors import UserError
from r2rec_bench.task.prompt import format_response
from r2rec_bench.task.records import EvalRequest, Generation
from r2rec_bench.task.scoring import ranking_from_scores


class BaselineBackend:
    """Scores every request's candidates with a fitted baseline.

    ``generate`` answers in the format of DESIGN §6 with every candidate title, best first
    (a ranked answer, so HR@k holds for every k); the reasoning block is empty, since a
    classical model gives none. Both modes order tied candidates by the benchmark's one
    target-blind rule (task.scoring), so they give the same metrics as `baselines train`.
    """

    def __init__(self, baseline: Baseline, report: FitReport) -> None:
        self.baseline = baseline
        self.report = report

    def describe(self) -> dict:
        return {
            "backend": "baseline",
            "model_id": f"baseline:{self.baseline.name}",
            "revision": self.report.cache_key,
            "parameters": self.report.parameters,
            "seed": self.report.seed,
            "hyperparameters": dict(self.baseline.hyperparameters),
            "profile": self.baseline.profile,
            "fit": self.report.to_dict(),
        }

    def rank(self, requests: list[EvalRequest]) -> list[list[float]]:
        return self._scores(requests).tolist()

    def generate(self, requests: list[EvalRequest]) -> list[Generation]:
        generations = []
        for request, scores in zip(requests, self._scores(requests), strict=True):
            order = ranking_from_scores(scores.tolist(), request.user_id, request.candidates)
            titles = [request.candidate_titles[i] for i in order]
            generations.append(Generation(text=format_response((), titles)))
        return generations

    def _scores(self, requests: list[EvalRequest]) -> np.ndarray:
        return self.baseline.score(
            [r.user_id for r in requests],
            [list(r.history) for r in requests],
            [list(r.candidates) for r in requests],
        )


def make_baseline_backend(
    name: str,
    *,
    dataset: str | Path | None = None,
    seed: int | None = 0,
    cache_dir: Path | None = None,
    quiet: bool = True,
    profile: str = "full",
    **options,
) -> BaselineBackend:
    """The backend for ``baseline:<name>``, fitted on ``dataset``'s training interactions
    (or loaded from the cache). Options named like one of the baseline's hyper-parameters
    override it; ``profile`` (``full`` or ``shown``, see baselines.registry.PROFILES) chooses what
    the model sees of each user when scoring; any other option (a harness setting such as
    ``batch_size``) does not concern a classical model and is ignored. Unless ``quiet``,
    fitting shows each epoch's validation HR@1."""
    cls = baseline_class(name)
    if dataset is None:
        raise UserError(
            f"baseline:{name} trains on a dataset's interactions: give a built dataset "
            "directory (--dataset DIR)"
        )
    hyperparameters = {key: value for key, value in options.items() if key in cls.DEFAULTS}
    baseline = cls(**hyperparameters)
    baseline.use_profile(profile)  # before fitting: a wrong profile fails at once
    data = load_training_data(dataset)
    report = fit_or_load(baseline, data, 0 if seed is None else int(seed), cache_dir, quiet=quiet)
    return BaselineBackend(baseline, report)
