"""Leaderboard `verify` + `build` for 100 submissions × 6,040 users (issue 7's goal: under
10 s on 2 cores).

Baseline, measured in the same run: reading every samples.jsonl with ``json.loads`` per line,
the least any verification of the per-sample logs must do. Verification re-parses every
output with the harness's parser, checks every sample against the gold candidates and
recomputes every metric with its bootstrap interval; the build renders a page per entry.

Run with ``pytest tests/benchmarks/test_bench_leaderboard.py --benchmark-enable``. Without it
(the default test run) a small case (3 submissions × 200 users) runs once as a check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from r2rec_bench.leaderboard.finder import DatasetFinder
from r2rec_bench.leaderboard.site import collect, render_site
from r2rec_bench.leaderboard.verify import verify_tree
from r2rec_bench.task.dataset import open_dataset
from tests.benchmarks.leaderboard_data import NAME, write_dataset, write_submission


def _sizes(config) -> tuple[int, int]:
    """(submissions, users): the issue's size when benchmarking, a small check otherwise."""
    return (100, 6_040) if config.getoption("benchmark_enable") else (3, 200)


@pytest.fixture(scope="module")
def leaderboard(request, tmp_path_factory) -> tuple[Path, Path, int, int]:
    submissions, users = _sizes(request.config)
    root = tmp_path_factory.mktemp("leaderboard")
    dataset = write_dataset(root / NAME, users=users, items=3_706)
    for k in range(submissions):
        folder = root / "submissions" / NAME / f"model-{k:03d}"
        write_submission(folder, dataset, skill=0.05 + 0.5 * k / submissions, seed=k)
    return root / "submissions", dataset, submissions, users


def pin(dataset: Path) -> Path:
    """A leaderboard pins file naming the synthetic dataset, as a leaderboard for it would."""
    pins = dataset.parent / "datasets.json"
    fingerprint = open_dataset(dataset).recomputed_fingerprint()
    pins.write_text(json.dumps({NAME: {"hub_repo": None, "fingerprint": fingerprint}}))
    return pins


def read_all(submissions: Path) -> int:
    count = 0
    for path in sorted(submissions.glob("*/*/samples.jsonl")):
        with open(path, encoding="utf-8") as handle:
            count += sum(1 for line in handle if json.loads(line))
    return count


def verify_and_build(submissions: Path, dataset: Path, out: Path) -> int:
    finder = DatasetFinder([str(dataset)], pin(dataset))
    verdicts = verify_tree(submissions, finder)
    assert all(v.accepted for v in verdicts), next(v.reason for v in verdicts if v.reason)
    out.mkdir()
    render_site(collect([v.submission for v in verdicts], finder), out)
    return len(verdicts)


def test_bench_read_samples_baseline(benchmark, leaderboard):
    submissions, _, count, users = leaderboard
    result = benchmark.pedantic(read_all, args=(submissions,), rounds=3, iterations=1)
    assert result == count * users


def test_bench_verify_and_build(benchmark, leaderboard, tmp_path):
    submissions, dataset, count, users = leaderboard
    outs = iter(tmp_path / f"site-{k}" for k in range(100))
    # One round: at full size it takes tens of seconds, which dwarfs the timer's noise.
    result = benchmark.pedantic(
        lambda: verify_and_build(submissions, dataset, next(outs)), rounds=1, iterations=1
    )
    assert result == count
    benchmark.extra_info.update(submissions=count, users=users)
