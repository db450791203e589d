"""`r2rec-bench submit`: verified first, filed whole or not at all, never outside the folder,
and to the Hub as a pull request (a fake HfApi: no network)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from r2rec_bench.errors import UserError
from r2rec_bench.leaderboard.submit import submit
from tests.conftest import run_cli
from tests.leaderboard.conftest import DATASET, edit_results


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_submit_files_the_two_files(evaluated, ml100k_build, tmp_path):
    to = tmp_path / "submissions"
    result = run_cli(
        "submit", str(evaluated["pop"]), "--to", str(to), "--dataset", str(ml100k_build)
    )
    assert result.returncode == 0, result.stderr
    assert f"filed it as {to / DATASET / 'baseline--pop'}" in result.stdout
    assert files_under(to) == [
        DATASET,
        f"{DATASET}/baseline--pop",
        f"{DATASET}/baseline--pop/results.json",
        f"{DATASET}/baseline--pop/samples.jsonl",
    ]
    again = run_cli(
        "submit", str(evaluated["pop"]), "--to", str(to), "--dataset", str(ml100k_build)
    )
    assert again.returncode == 2
    assert "a duplicate" in again.stderr and "already exists" in again.stderr
    renamed = run_cli(
        "submit", str(evaluated["pop"]), "--to", str(to), "--dataset", str(ml100k_build),
        "--name", "pop-again",
    )  # fmt: skip
    assert renamed.returncode == 2
    assert "answers 100.0% of the users byte-identically" in renamed.stderr


def test_dry_run_writes_nothing(evaluated, ml100k_build, tmp_path):
    to = tmp_path / "submissions"
    result = run_cli(
        "submit", str(evaluated["random"]), "--to", str(to), "--dataset", str(ml100k_build),
        "--dry-run",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "would file it as" in result.stdout
    assert not to.exists()


@pytest.mark.parametrize("name", ["../escape", "/tmp/abs", "a/b", "..", ".hidden"])
def test_unsafe_names_are_refused(name, evaluated, ml100k_build, tmp_path):
    to = tmp_path / "lb" / "submissions"
    result = run_cli(
        "submit", str(evaluated["pop"]), "--to", str(to), "--dataset", str(ml100k_build),
        "--name", name,
    )  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "is not a safe folder name" in line
    assert files_under(tmp_path) == []


def test_tampered_run_is_refused_and_nothing_written(evaluated, ml100k_build, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for file in ("results.json", "samples.jsonl"):
        (run / file).write_bytes((evaluated["pop"] / file).read_bytes())
    edit_results(run, lambda r: r["metrics"]["hr@5"].update(value=0.9))
    to = tmp_path / "submissions"
    result = run_cli("submit", str(run), "--to", str(to), "--dataset", str(ml100k_build))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("r2rec-bench: error: rejected: ")
    assert "`metrics.hr@5.value` is 0.9" in line
    assert not to.exists()


class FakeApi:
    """Records the calls `submit --hub` makes to huggingface_hub.HfApi."""

    def __init__(self, files: list[str] | None = None) -> None:
        self.files = files or []
        self.commits: list[dict] = []

    def list_repo_files(self, repo_id: str, repo_type: str) -> list[str]:
        assert repo_type == "dataset"
        return self.files

    def create_commit(self, repo_id: str, **kwargs) -> SimpleNamespace:
        self.commits.append({"repo_id": repo_id, **kwargs})
        return SimpleNamespace(pr_url=f"https://example.invalid/{repo_id}/discussions/1")


def test_hub_submission_opens_one_pull_request(evaluated, ml100k_build):
    api = FakeApi()
    plan = submit(evaluated["pop"], hub="r2rec/results", datasets=[str(ml100k_build)], api=api)
    (commit,) = api.commits
    assert commit["repo_id"] == "r2rec/results" and commit["repo_type"] == "dataset"
    assert commit["create_pr"] is True
    prefix = f"submissions/{DATASET}/baseline--pop"
    assert [op.path_in_repo for op in commit["operations"]] == [
        f"{prefix}/results.json",
        f"{prefix}/samples.jsonl",
    ]
    assert plan.pr_url.endswith("/discussions/1")
    assert plan.destination == f"hub:r2rec/results/{prefix}"


def test_hub_duplicate_and_dry_run_make_no_commit(evaluated, ml100k_build):
    taken = FakeApi([f"submissions/{DATASET}/baseline--pop/results.json"])
    with pytest.raises(UserError, match="already holds"):
        submit(evaluated["pop"], hub="r2rec/results", datasets=[str(ml100k_build)], api=taken)
    dry = FakeApi()
    plan = submit(
        evaluated["pop"], hub="r2rec/results", datasets=[str(ml100k_build)], api=dry, dry_run=True
    )
    assert plan.dry_run and taken.commits == dry.commits == []


def test_bad_hub_repo_id(evaluated):
    result = run_cli("submit", str(evaluated["pop"]), "--hub", "not a repo")
    assert result.returncode == 2
    assert "not a Hub repo id" in result.stderr
