"""``leaderboard reproduce``: run a submission's model again on the same users and settings
and compare what it answers with what was submitted.

Verification (:mod:`.verify`) proves that a submission is consistent and its arithmetic right,
not that the named model produced its outputs. For a model anyone can run (a baseline, a
public checkpoint, a served model), reproduction closes that gap for the users it covers:
same backend spec and options, split, mode, seed and parser settings, and then, user by user,
the same output (text or scores, by hash) and the same target rank.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from r2rec_bench.harness.backends import resolve_backend
from r2rec_bench.harness.record import SAMPLES, read_samples
from r2rec_bench.harness.runner import run_evaluation
from r2rec_bench.leaderboard.finder import DatasetFinder
from r2rec_bench.leaderboard.submission import Rejected, read_submission
from r2rec_bench.leaderboard.verify import verify_submission


@dataclass(frozen=True)
class Reproduction:
    users: int  # users re-evaluated (the first ``limit`` of the split, or all)
    identical: int  # users whose output (or scores) hash is the submitted one
    same_rank: int  # users whose target rank is the submitted one
    submitted_hr1: float  # over the same users
    reproduced_hr1: float

    @property
    def reproduced(self) -> bool:
        return self.same_rank == self.users

    def describe(self, name: str) -> str:
        verdict = "reproduced" if self.reproduced else "NOT reproduced"
        return (
            f"{name}: {verdict}: {self.identical:,} of {self.users:,} users answered "
            f"identically, {self.same_rank:,} with the same target rank; HR@1 "
            f"{self.submitted_hr1:.4f} submitted, {self.reproduced_hr1:.4f} reproduced"
        )


def reproduce(
    folder: Path,
    finder: DatasetFinder,
    *,
    limit: int | None = None,
    base_url: str | None = None,
    quiet: bool = False,
) -> Reproduction:
    """Verify the submission in ``folder``, run its model again on its first ``limit`` users
    (all by default) and compare. ``base_url`` replaces the recorded one (results.json keeps
    a server's address without credentials, and servers move)."""
    submission = read_submission(Path(folder))
    verify_submission(submission, finder)  # Rejected: nothing to reproduce
    results = submission.results
    options = dict(results["backend"]["options"])
    if base_url is not None:
        options["base_url"] = base_url
    dataset = finder.dataset(results["dataset"])
    spec = results["backend"]["spec"]
    backend = resolve_backend(
        spec, **options, seed=results["seed"], dataset=dataset.root, quiet=quiet
    )
    with tempfile.TemporaryDirectory(prefix="r2rec-bench-reproduce-") as scratch:
        run_evaluation(
            backend, dataset, model_spec=spec, options=options, split=results["split"],
            mode=results["mode"], limit=limit, seed=results["seed"],
            output_dir=Path(scratch) / "run", quiet=quiet,
            fuzzy=bool(results["parser"].get("fuzzy")),
        )  # fmt: skip
        again = {s["user_id"]: s for s in read_samples(Path(scratch) / "run" / SAMPLES)}
    submitted = [s for s in submission.samples if s["user_id"] in again]
    if len(submitted) != len(again):
        raise Rejected(f"{folder}: the reproduction covers users the submission lacks")
    return Reproduction(
        users=len(again),
        identical=sum(
            s["output_sha256"] == again[s["user_id"]]["output_sha256"] for s in submitted
        ),
        same_rank=sum(s["target_rank"] == again[s["user_id"]]["target_rank"] for s in submitted),
        submitted_hr1=sum(s["target_rank"] == 1 for s in submitted) / len(again),
        reproduced_hr1=sum(s["target_rank"] == 1 for s in again.values()) / len(again),
    )
