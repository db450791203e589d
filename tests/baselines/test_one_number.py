"""A baseline has one number wherever it is printed (the contract's one tie rule), and the
common sequences of `evaluate` runs just work with default output folders."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

FAST = ("random", "pop", "itemknn")


@pytest.fixture(scope="module")
def trained(ml100k_build, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    result = run_cli(
        "baselines", "train", "--dataset", str(ml100k_build), "--only", *FAST, "--json",
        cwd=cache,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return {row["name"]: row["test"]["metrics"] for row in json.loads(result.stdout)["baselines"]}


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("mode", ["generate", "rank"])
def test_baselines_train_and_evaluate_print_the_same_metrics(
    trained, ml100k_build, tmp_path, name, mode
):
    result = run_cli(
        "evaluate", "--model", f"baseline:{name}", "--dataset", str(ml100k_build),
        "--mode", mode, "--json", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    evaluated = json.loads(result.stdout)["metrics"]
    for metric, entry in trained[name].items():  # HR@k, NDCG@k, MRR with their intervals
        assert evaluated[metric] == entry, (name, mode, metric)


def test_generate_then_rank_then_a_limited_run_in_default_folders(ml100k_build, tmp_path):
    for extra in ([], ["--mode", "rank"], ["--limit", "20"]):
        result = run_cli(
            "evaluate", "--model", "baseline:pop", "--dataset", str(ml100k_build), "--quiet",
            *extra, cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, (extra, result.stderr)
    runs = sorted(p.name for p in (tmp_path / "results/ml-100k-iot/baseline--pop").iterdir())
    assert runs == ["test-generate", "test-generate-limit20", "test-rank"]


def test_a_folder_holding_another_run_is_refused_before_the_model_loads(ml100k_build, tmp_path):
    out = tmp_path / "run"
    first = run_cli("evaluate", "--model", "baseline:pop", "--dataset", str(ml100k_build),
                    "--limit", "5", "--output-dir", str(out), "--quiet")  # fmt: skip
    assert first.returncode == 0, first.stderr
    # An hf model that does not exist: were it loaded first, the error would be about it.
    second = run_cli("evaluate", "--model", "org/no-such-model", "--dataset", str(ml100k_build),
                     "--limit", "5", "--output-dir", str(out), "--quiet")  # fmt: skip
    assert second.returncode == 2
    assert "holds a different run" in second.stderr and "no-such-model" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1


def test_a_second_process_on_the_same_folder_stops_at_once(ml100k_build, tmp_path):
    from r2rec_bench.harness.record import locked

    out = tmp_path / "shared"
    out.mkdir()
    with locked(out):  # this test holds the folder, as a running evaluate would
        result = run_cli("evaluate", "--model", "baseline:pop", "--dataset", str(ml100k_build),
                         "--limit", "3", "--output-dir", str(out), "--quiet")  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"r2rec-bench: error: {out}: another evaluate process is writing into it; wait for it "
        "to finish or use another --output-dir"
    ]
    assert not (out / "samples.jsonl").exists()


def test_fitting_through_evaluate_shows_each_epochs_validation_hr1(ml100k_build, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("r2rec-bench")
    env = {**os.environ, "R2REC_BENCH_CACHE": str(tmp_path / "cache")}  # nothing cached
    result = subprocess.run(
        [str(script), "evaluate", "--model", "baseline:bpr", "--dataset", str(ml100k_build),
         "--limit", "5", "--output-dir", str(tmp_path / "run")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-800:]
    assert "bpr epochs" in result.stderr and "val HR@1 0." in result.stderr
    assert "best" in result.stderr
