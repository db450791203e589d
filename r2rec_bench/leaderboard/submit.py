"""``r2rec-bench submit``: verify an evaluate output directory, then file it as a submission,
in a local submissions folder or as a pull request on a Hub results dataset."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from r2rec_bench.atomic import atomic_directory
from r2rec_bench.errors import UserError, one_line
from r2rec_bench.harness.runner import model_slug
from r2rec_bench.leaderboard.finder import DEFAULT_PINS, DatasetFinder
from r2rec_bench.leaderboard.submission import (
    FILES,
    NEAR_DUPLICATE,
    Rejected,
    check_name,
    read_submission,
    shared_answers,
)
from r2rec_bench.leaderboard.verify import verify_submission
from r2rec_bench.task.dataset import check_repo_id

DEFAULT_SUBMISSIONS = Path("leaderboard/submissions")


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


def _submit_to_hub(plan: SubmitPlan, folder: Path, repo_id: str, api: Any | None) -> SubmitPlan:
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
                CommitOperationAdd(path_in_repo=f"{prefix}/{file}", path_or_fileobj=folder / file)
                for file in FILES
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
    """Verify ``results_dir`` (results.json + samples.jsonl) and file it under ``to``
    (default: leaderboard/submissions) or open a pull request on the Hub dataset ``hub``.

    ``api`` stands in for ``huggingface_hub.HfApi`` (tests pass a fake). Nothing is written
    unless the submission verifies and is no duplicate, and nothing at all with ``dry_run``.
    """

    results_dir = Path(results_dir)
    if to is not None and hub is not None:
        raise UserError("submit: give --to or --hub, not both")
    if hub is not None:
        check_repo_id(hub)
    try:
        submission = read_submission(results_dir)
        name = check_name(name or default_name(submission.results))
        verify_submission(replace(submission, name=name), DatasetFinder(datasets, pins))
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
        return _submit_to_hub(plan, results_dir, hub, api)
    with atomic_directory(Path(destination)) as staging:
        for file in FILES:
            shutil.copyfile(results_dir / file, staging / file)
    return plan
