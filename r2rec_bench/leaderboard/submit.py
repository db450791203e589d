"""``r2rec-bench submit``: verify an evaluate output directory, then file it as a submission,
in a local submissions folder or as a pull request on a Hub results dataset."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from r2rec_bench.atomic import atomic_directory
from r2rec_bench.errors import UserError, one_line
from r2rec_bench.harness.runner import model_slug
from r2rec_bench.leaderboard.finder import DEFAULT_PINS, DatasetFinder
from r2rec_bench.leaderboard.seeds import seed_runs
from r2rec_bench.leaderboard.submission import (
    FILES,
    NEAR_DUPLICATE,
    SEEDS,
    Rejected,
    Submission,
    check_name,
    read_submission,
    shared_answers,
)
from r2rec_bench.leaderboard.verify import verify_submission
from r2rec_bench.task.dataset import check_repo_id

DEFAULT_SUBMISSIONS = Path("leaderboard/submissions")
REPEATS = "repeats.json"  # what `evaluate --seeds N` writes beside its repeat-<r>/ runs


@dataclass(frozen=True)
class SubmitPlan:
    """Where a verified submission goes (and, once done, where it went)."""

    dataset: str
    name: str
    model: str
    destination: str  # a folder, or hub:<repo>/submissions/<dataset>/<name>
    dry_run: bool
    pr_url: str | None = None

    def describe(self) -> str:
        verb = "would file" if self.dry_run else "filed"
        line = f"verified {self.model} on {self.dataset}; {verb} it as {self.destination}"
        return line + (f"\npull request: {self.pr_url}" if self.pr_url else "")


def _duplicate_in_folder(folder: Path, name: str, answers: frozenset) -> str | None:
    """Why ``name`` cannot be filed in ``folder`` (a dataset's submissions), or None."""
    if (folder / name).exists():
        return f"{folder / name} already exists; choose another --name"
    for existing in sorted(folder.iterdir()) if folder.is_dir() else []:
        try:
            share = shared_answers(read_submission(existing).answers, answers)
            if share >= NEAR_DUPLICATE:
                return f"{existing} answers {share:.1%} of the users byte-identically"
        except Rejected:
            continue  # a broken neighbour is verify's business, not a duplicate
    return None


def _submit_to_hub(
    plan: SubmitPlan, contents: dict[str, Path | bytes], repo_id: str, api: Any | None
) -> SubmitPlan:
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HTTPError

    prefix = f"submissions/{plan.dataset}/{plan.name}"
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    try:
        if f"{prefix}/{FILES[0]}" in api.list_repo_files(repo_id, repo_type="dataset"):
            raise UserError(f"a duplicate: {repo_id} already holds {prefix}; choose another --name")
        commit = api.create_commit(
            repo_id,
            repo_type="dataset",
            operations=[
                CommitOperationAdd(path_in_repo=f"{prefix}/{file}", path_or_fileobj=content)
                for file, content in contents.items()
            ],
            commit_message=f"Submit {plan.model} on {plan.dataset}",
            create_pr=True,
        )
    except (OSError, HTTPError) as exc:  # HTTP status, connection and offline-mode errors
        raise UserError(
            f"{repo_id}: the Hub call failed ({one_line(exc, with_type=True)}); check the "
            "network and your token (`hf auth login` or HF_TOKEN)"
        ) from None
    return replace(plan, pr_url=getattr(commit, "pr_url", None))


def default_name(results: dict) -> str:
    """The model's slug, marked with the mode and split when they are not the defaults
    (generate, test), so that one model's rank and generate runs sit side by side."""

    name = model_slug(results["backend"]["spec"])
    name += "--rank" if results["mode"] == "rank" else ""
    return name + ("--validation" if results["split"] == "validation" else "")


def submit(
    results_dir: Path,
    *,
    to: Path | None = None,
    hub: str | None = None,
    name: str | None = None,
    datasets: list[str] | None = None,
    pins: Path = DEFAULT_PINS,
    dry_run: bool = False,
    api: Any | None = None,
) -> SubmitPlan:
    """Verify ``results_dir`` (results.json + samples.jsonl, or the repeat-<r>/ runs of
    ``evaluate --seeds N``: the first filed, the others in seeds.json) and file it under
    ``to`` (default: leaderboard/submissions) or open a pull request on the Hub dataset ``hub``.

    ``api`` stands in for ``huggingface_hub.HfApi`` (tests pass a fake). Nothing is written
    unless the submission verifies and is no duplicate, and nothing at all with ``dry_run``.
    """

    results_dir = Path(results_dir)
    if to is not None and hub is not None:
        raise UserError("submit: give --to or --hub, not both")
    if hub is not None:
        check_repo_id(hub)
    finder = DatasetFinder(datasets, pins)
    try:
        submission = _read_run_or_seeds(results_dir, finder)
        name = check_name(name or default_name(submission.results))
        verify_submission(replace(submission, name=name), finder)
    except Rejected as exc:
        raise UserError(f"rejected: {exc}") from None
    dataset, model = submission.dataset_name, submission.results["backend"]["spec"]
    if hub is not None:
        destination = f"hub:{hub}/submissions/{dataset}/{name}"
    else:
        folder = (to or DEFAULT_SUBMISSIONS) / dataset
        duplicate = _duplicate_in_folder(folder, name, submission.answers)
        if duplicate:
            raise UserError(f"rejected: a duplicate: {duplicate}")
        destination = str(folder / name)
    plan = SubmitPlan(dataset, name, model, destination, dry_run)
    if dry_run:
        return plan
    if hub is not None:
        return _submit_to_hub(plan, _contents(submission), hub, api)
    with atomic_directory(Path(destination)) as staging:
        for file, content in _contents(submission).items():
            if isinstance(content, Path):
                shutil.copyfile(content, staging / file)
            else:
                (staging / file).write_bytes(content)
    return plan


def _read_run_or_seeds(results_dir: Path, finder: DatasetFinder) -> Submission:
    """The run in ``results_dir``; for a folder of ``evaluate --seeds N`` runs, its first run
    with the others, each verified, beside it as seeds.json (leaderboard.seeds)."""
    listing = results_dir / REPEATS
    if not listing.is_file():
        return read_submission(results_dir)
    try:
        names = json.loads(listing.read_text())["runs"]
        folders = [results_dir / check_name(str(name), "run folder") for name in names]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise Rejected(f"{listing}: {one_line(exc)}; submit the folder evaluate wrote") from None
    runs = [read_submission(folder) for folder in folders]
    for run in runs[1:]:
        verify_submission(run, finder)
    return replace(runs[0], seeds=seed_runs(runs[0], runs[1:]))


def _contents(submission: Submission) -> dict[str, Path | bytes]:
    """What is filed: the run's files as they are, and seeds.json when there are seeds."""
    contents: dict[str, Path | bytes] = {file: submission.path / file for file in FILES}
    if submission.seeds is not None:
        # Compact: 20 positions a user, thousands of users a seed; indented, 4× the size.
        contents[SEEDS] = (json.dumps(submission.seeds, separators=(",", ":")) + "\n").encode()
    return contents
