"""The evaluation loop: records, metrics from the log, resume after a crash, shards, compare."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from r2rec_bench.errors import UserError
from r2rec_bench.faithfulness import aggregate
from r2rec_bench.harness.compare import compare_runs
from r2rec_bench.harness.merge import merge_shards
from r2rec_bench.harness.record import read_samples
from r2rec_bench.harness.results import finalize
from r2rec_bench.harness.runner import default_output_dir, model_slug, run_evaluation
from r2rec_bench.hashing import sha256_text
from r2rec_bench.task.dataset import open_dataset
from r2rec_bench.task.metrics import summarize
from r2rec_bench.task.records import EvalRequest, Generation
from r2rec_bench.task.scoring import target_ranks
from tests.conftest import REPO
from tests.harness.conftest import eval_rows
from tests.harness.support import HashBackend, OracleBackend

SAMPLE_FIELDS = {
    "index", "user_id", "candidates", "target", "target_index", "output", "scores", "ranking",
    "target_rank", "hit@1", "valid", "match", "strict_format", "problems", "prompt_sha256",
    "output_sha256",
    "prompt_tokens", "completion_tokens", "seconds", "faithfulness",
}  # fmt: skip
RESULTS_FIELDS = {
    "schema_version", "harness", "dataset", "split", "mode", "model", "backend", "parser",
    "seed", "limit", "shard", "n_users", "metrics", "interval", "answers", "faithfulness",
    "cost", "environment", "created_at",
}  # fmt: skip


def evaluate(backend, dataset, out, **kwargs):
    kwargs.setdefault("model_spec", backend.describe()["id"])
    return run_evaluation(backend, dataset, output_dir=out, quiet=True, **kwargs)


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def without_timing(samples: list[dict]) -> list[dict]:
    return [{k: v for k, v in s.items() if k != "seconds"} for s in samples]


# --- records and metrics --------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["generate", "rank"])
def test_an_oracle_scores_perfectly(ml100k_build, gold_titles, tmp_path, mode):
    results = evaluate(OracleBackend(gold_titles), ml100k_build, tmp_path, mode=mode, limit=60)
    assert results["n_users"] == 60
    for name in ("hr@1", "hr@10", "ndcg@10", "mrr", "valid_ratio"):
        assert results["metrics"][name] == {"value": 1.0, "ci_low": 1.0, "ci_high": 1.0}


def test_samples_and_results_follow_the_documented_schema(ml100k_build, tmp_path):
    results = evaluate(HashBackend(), ml100k_build, tmp_path, limit=80, seed=3)
    assert set(results) == RESULTS_FIELDS
    assert json.loads((tmp_path / "results.json").read_text()) == results
    dataset = open_dataset(ml100k_build)
    assert results["dataset"]["fingerprint"] == dataset.fingerprint
    assert results["dataset"]["id"] == "ml-100k-iot" and results["split"] == "test"
    assert results["model"] == HashBackend().describe()
    assert results["seed"] == 3
    # Static faithfulness is always there in generate mode, computed from the samples.
    assert results["faithfulness"]["mode"] == "static"
    assert results["faithfulness"] == aggregate(lines_of(tmp_path / "samples.jsonl"), seed=3)
    assert results["harness"]["name"] == "r2rec-bench"
    assert {"python", "platform", "libraries"} <= set(results["environment"])
    cost = results["cost"]
    assert cost["completion_tokens"] == 7 * 80 and cost["prompt_tokens"] > 0
    assert cost["wall_seconds"] > 0 and cost["users_per_second"] > 0

    samples = lines_of(tmp_path / "samples.jsonl")
    rows = eval_rows(ml100k_build)
    assert [s["index"] for s in samples] == list(range(80))
    for sample in samples:
        row = rows[sample["index"]]
        assert set(sample) == SAMPLE_FIELDS
        assert sample["user_id"] == row["user_id"] and sample["candidates"] == row["candidates"]
        assert sample["target"] == row["target"] and sample["target_index"] == row["target_index"]
        assert sample["output_sha256"] == sha256_text(sample["output"])
        prompt = json.dumps(
            row["prompt"], sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        assert sample["prompt_sha256"] == sha256_text(prompt)
        ranked = sample["ranking"]
        expected = ranked.index(row["target_index"]) + 1 if row["target_index"] in ranked else 0
        assert sample["target_rank"] == expected
        assert sample["hit@1"] == (expected == 1)
        assert sample["valid"] == bool(ranked)
        assert set(sample["faithfulness"]) == {"static"}
    # Every shape of answer HashBackend gives shows up, and is counted as documented.
    assert {s["match"] for s in samples} == {"exact", "normalized", "none"}
    assert results["answers"]["valid"] == sum(s["valid"] for s in samples)
    expected = summarize([s["target_rank"] for s in samples], [s["valid"] for s in samples], 3)
    assert results["metrics"] == expected["metrics"]


def test_results_are_computed_from_the_log(ml100k_build, tmp_path):
    evaluate(HashBackend(), ml100k_build, tmp_path, limit=30)
    samples = lines_of(tmp_path / "samples.jsonl")
    for sample in samples:  # as if every answer had been right
        sample.update(target_rank=1, valid=True)
    (tmp_path / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    assert finalize(tmp_path)["metrics"]["hr@1"]["value"] == 1.0


def test_rank_mode_records_scores_and_breaks_ties_blind_to_the_target(ml100k_build, tmp_path):
    class TiedScores(HashBackend):
        def rank(self, requests):
            return [[0.0] * len(r.candidates) for r in requests]

    results = evaluate(TiedScores(), ml100k_build, tmp_path, mode="rank")
    samples = lines_of(tmp_path / "samples.jsonl")
    assert all(s["scores"] == [0.0] * 20 for s in samples)
    assert all(s["output"] is None and s["match"] == "scores" for s in samples)
    ranks = target_ranks(
        np.zeros((len(samples), 20)),
        np.array([s["target_index"] for s in samples]),
        [s["user_id"] for s in samples],
        [s["candidates"] for s in samples],
    )
    assert [s["target_rank"] for s in samples] == ranks.tolist()
    # A scorer that cannot tell candidates apart is at chance: HR@10 about a half.
    assert 0.44 < results["metrics"]["hr@10"]["value"] < 0.56


def test_rank_mode_ranking_agrees_with_target_ranks(ml100k_build, tmp_path):
    evaluate(HashBackend(), ml100k_build, tmp_path, mode="rank", limit=50)
    for s in lines_of(tmp_path / "samples.jsonl"):
        scores, target = np.array([s["scores"]]), np.array([s["target_index"]])
        assert (
            s["target_rank"] == target_ranks(scores, target, [s["user_id"]], [s["candidates"]])[0]
        )
        assert sorted(s["ranking"]) == list(range(20))
        ordered = [s["scores"][j] for j in s["ranking"]]
        assert ordered == sorted(ordered, reverse=True)


def test_a_nan_score_makes_the_answer_invalid(ml100k_build, tmp_path):
    class NaNScores(HashBackend):
        def rank(self, requests):
            return [[float("nan")] + [1.0] * (len(r.candidates) - 1) for r in requests]

    results = evaluate(NaNScores(), ml100k_build, tmp_path, mode="rank", limit=10)
    assert results["metrics"]["valid_ratio"]["value"] == 0.0
    assert results["metrics"]["hr@10"]["value"] == 0.0
    sample = lines_of(tmp_path / "samples.jsonl")[0]
    assert sample["scores"][0] is None and sample["problems"] == ["not_finite_score"]


def test_backends_see_requests_only(ml100k_build, tmp_path):
    seen: list[EvalRequest] = []

    class Recording(HashBackend):
        def generate(self, requests):
            seen.extend(requests)
            return super().generate(requests)

    evaluate(Recording(), ml100k_build, tmp_path, limit=12, batch_size=5)
    assert {f.name for f in fields(EvalRequest)} == {
        "user_id", "prompt", "history", "history_titles", "candidates", "candidate_titles",
        "assistant_prefix",
    }  # fmt: skip
    assert all(type(request) is EvalRequest for request in seen) and len(seen) == 12
    assert all(request.assistant_prefix == "" for request in seen)


def test_batches_are_on_disk_before_the_next_batch_starts(ml100k_build, tmp_path):
    on_disk: list[int] = []

    class Watching(HashBackend):
        def generate(self, requests):
            path = tmp_path / "samples.jsonl"
            on_disk.append(len(path.read_text().splitlines()) if path.exists() else 0)
            return super().generate(requests)

    backend = Watching()
    evaluate(backend, ml100k_build, tmp_path, limit=23, batch_size=5)
    assert backend.calls == [5, 5, 5, 5, 3]
    assert on_disk == [0, 5, 10, 15, 20]


def test_batch_size_defaults_to_the_backends_preference(ml100k_build, tmp_path):
    backend = HashBackend()
    backend.batch_size = 7
    evaluate(backend, ml100k_build, tmp_path, limit=15, batch_size="auto")
    assert backend.calls == [7, 7, 1]


def test_a_backend_answering_too_few_requests_is_a_bug_not_a_result(ml100k_build, tmp_path):
    class Short(HashBackend):
        def generate(self, requests):
            return [Generation("<answer>x</answer>")]

    with pytest.raises(RuntimeError, match="answered 1 of 4"):
        evaluate(Short(), ml100k_build, tmp_path, limit=8, batch_size=4)


def test_a_description_with_non_json_values_is_recorded_as_text(ml100k_build, tmp_path):
    class WithDtype(HashBackend):
        def describe(self):
            return {**super().describe(), "dtype": np.dtype("float16"), "path": tmp_path}

    results = evaluate(WithDtype(), ml100k_build, tmp_path, limit=3, model_spec="m")
    assert results["model"]["dtype"] == "float16" and results["model"]["path"] == str(tmp_path)
    again = evaluate(WithDtype(), ml100k_build, tmp_path, limit=3, model_spec="m")  # resumes
    assert again["metrics"] == results["metrics"]


def test_no_credentials_reach_the_results(ml100k_build, tmp_path):
    options = {"base_url": "http://user:s3cret@127.0.0.1:8000/v1?api_key=k3y", "batch_size": 4}
    evaluate(HashBackend(), ml100k_build, tmp_path, limit=5, options=options)
    for name in ("results.json", "run.json", "samples.jsonl"):
        text = (tmp_path / name).read_text()
        assert "s3cret" not in text and "k3y" not in text
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["backend"]["options"]["base_url"] == "http://127.0.0.1:8000/v1"


def test_output_directory_default_and_slug(ml100k_build, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert model_slug("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen--Qwen2.5-0.5B-Instruct"
    assert model_slug("openai:gpt-4o-mini") == "openai--gpt-4o-mini"
    assert model_slug(str(REPO / "tests")) == "tests"  # a local path: its last component
    assert model_slug("org/base", adapter="runs/lora-7") == "org--base+lora-7"
    run_evaluation(HashBackend(), ml100k_build, model_spec="org/m", limit=3, quiet=True)
    assert (tmp_path / "results/ml-100k-iot/org--m/test-generate-limit3/results.json").is_file()
    assert default_output_dir("d", "org/m") == Path("results/d/org--m/test-generate")
    assert default_output_dir("d", "m", split="validation", mode="rank") == Path(
        "results/d/m/validation-rank"
    )


# --- resume ---------------------------------------------------------------------------------


def _count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_sigkill_mid_run_then_rerun_gives_the_uninterrupted_results(ml100k_build, tmp_path):
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "tests.harness.support", str(ml100k_build), str(out)]
    process = subprocess.Popen([*command, "0.05"], cwd=REPO)
    try:
        deadline = time.monotonic() + 300
        while _count_lines(out / "samples.jsonl") < 200:
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    killed_at = _count_lines(out / "samples.jsonl")
    assert 200 <= killed_at < 943 and not (out / "results.json").exists()

    subprocess.run([*command, "0"], cwd=REPO, check=True, timeout=600)
    resumed = json.loads((out / "results.json").read_text())
    reference = evaluate(HashBackend(), ml100k_build, tmp_path / "whole", batch_size=8)
    assert resumed["metrics"] == reference["metrics"]
    assert resumed["answers"] == reference["answers"] and resumed["n_users"] == 943
    users = [s["user_id"] for s in lines_of(out / "samples.jsonl")]
    assert len(users) == len(set(users)) == 943
    assert set(users) == {row["user_id"] for row in eval_rows(ml100k_build)}
    assert without_timing(lines_of(out / "samples.jsonl")) == without_timing(
        lines_of(tmp_path / "whole" / "samples.jsonl")
    )


def test_a_crash_then_resume_evaluates_each_user_once(ml100k_build, tmp_path):
    class Crashing(HashBackend):
        def generate(self, requests):
            if len(self.calls) == 3:
                raise MemoryError("out of memory")
            return super().generate(requests)

    with pytest.raises(MemoryError):
        evaluate(Crashing(), ml100k_build, tmp_path / "run", limit=40, batch_size=6)
    assert _count_lines(tmp_path / "run" / "samples.jsonl") == 18
    finishing = HashBackend()
    # A resume may use another batch size (the usual fix after running out of memory).
    resumed = evaluate(finishing, ml100k_build, tmp_path / "run", limit=40, batch_size=4)
    assert sum(finishing.calls) == 22
    whole = evaluate(HashBackend(), ml100k_build, tmp_path / "whole", limit=40)
    assert resumed["metrics"] == whole["metrics"]


@pytest.mark.parametrize(
    "tear",
    [
        lambda last: last[:40],  # cut inside the line
        lambda last: last[:-1],  # the whole object, but not its newline
        lambda last: b"\x00" * (len(last) - 1) + b"\n",  # zeros, as after a power cut
    ],
    ids=["cut", "no-newline", "zeros"],
)
def test_a_torn_last_line_is_dropped_and_redone(ml100k_build, tmp_path, tear):
    whole = evaluate(HashBackend(), ml100k_build, tmp_path, limit=30, batch_size=10)
    path = tmp_path / "samples.jsonl"
    data = path.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[:start] + tear(data[start:]))
    (tmp_path / "results.json").unlink()
    with pytest.raises(UserError, match="incomplete sample"):
        read_samples(path)  # read-only readers (merge, compare) refuse it
    backend = HashBackend()
    resumed = evaluate(backend, ml100k_build, tmp_path, limit=30, batch_size=10)
    assert backend.calls == [1]
    assert resumed["metrics"] == whole["metrics"]
    assert [s["index"] for s in lines_of(path)] == list(range(30))


def test_a_finished_run_rerun_evaluates_nothing(ml100k_build, tmp_path):
    first = evaluate(HashBackend(), ml100k_build, tmp_path, limit=10)
    backend = HashBackend()
    again = evaluate(backend, ml100k_build, tmp_path, limit=10)
    assert backend.calls == [] and again["metrics"] == first["metrics"]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"seed": 1}, "seed"),
        ({"mode": "rank"}, "mode"),
        ({"split": "validation"}, "split"),
        ({"model_spec": "another-model"}, "model"),
        ({"limit": 21}, "limit"),
        ({"fuzzy": True}, "fuzzy"),
        ({"options": {"max_new_tokens": 64}}, "options"),
    ],
)
def test_resume_refuses_a_different_config(ml100k_build, tmp_path, change, key):
    evaluate(HashBackend(), ml100k_build, tmp_path, limit=20)
    with pytest.raises(UserError, match=f"holds a different run.*{key}") as error:
        evaluate(HashBackend(), ml100k_build, tmp_path, **{"limit": 20, **change})
    assert "\n" not in str(error.value)


def test_resume_refuses_another_dataset_build(ml100k_build, dataset_copy, tmp_path):
    evaluate(HashBackend(), ml100k_build, tmp_path / "out", limit=5)
    manifest_path = dataset_copy / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["fingerprint"] = "0" * 64  # as a build from another seed would have
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="dataset_fingerprint"):
        evaluate(HashBackend(), dataset_copy, tmp_path / "out", limit=5)


def test_samples_that_belong_to_no_run_are_not_resumed(ml100k_build, tmp_path):
    (tmp_path / "samples.jsonl").write_text('{"user_id": "1"}\n')
    with pytest.raises(UserError, match=r"no run\.json"):
        evaluate(HashBackend(), ml100k_build, tmp_path, limit=5)


def test_a_corrupt_line_inside_the_log_is_an_error(ml100k_build, tmp_path):
    evaluate(HashBackend(), ml100k_build, tmp_path, limit=6)
    path = tmp_path / "samples.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = "{not json"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"samples\.jsonl:3"):
        read_samples(path, repair=True)


# --- shards and merge -----------------------------------------------------------------------


def test_shards_merge_into_the_unsharded_run(ml100k_build, tmp_path):
    whole = evaluate(HashBackend(), ml100k_build, tmp_path / "whole", limit=50)
    shard_dirs = []
    for i in range(3):
        results = evaluate(HashBackend(), ml100k_build, tmp_path / "sharded", limit=50,
                           shard=(i, 3))  # fmt: skip
        assert results["shard"] == [i, 3]
        shard_dirs.append(tmp_path / "sharded" / f"shard-{i}-of-3")
    indices = [s["index"] for s in lines_of(shard_dirs[1] / "samples.jsonl")]
    assert indices == list(range(1, 50, 3))
    merged = merge_shards(shard_dirs[::-1], tmp_path / "merged")
    assert merged["metrics"] == whole["metrics"] and merged["shard"] is None
    assert without_timing(lines_of(tmp_path / "merged" / "samples.jsonl")) == without_timing(
        lines_of(tmp_path / "whole" / "samples.jsonl")
    )
    # The merged directory is a finished run of the unsharded command: rerunning does nothing.
    backend = HashBackend()
    evaluate(backend, ml100k_build, tmp_path / "merged", limit=50)
    assert backend.calls == []


@pytest.fixture
def three_shards(ml100k_build, tmp_path) -> list[Path]:
    for i in range(3):
        evaluate(HashBackend(), ml100k_build, tmp_path / "s", limit=12, shard=(i, 3))
    return [tmp_path / "s" / f"shard-{i}-of-3" for i in range(3)]


def test_merge_refuses_missing_repeated_and_foreign_shards(three_shards, ml100k_build, tmp_path):
    with pytest.raises(UserError, match="shard 2/3 missing"):
        merge_shards(three_shards[:2], tmp_path / "m")
    with pytest.raises(UserError, match="shard 0/3 given twice"):
        merge_shards([*three_shards, three_shards[0]], tmp_path / "m")
    evaluate(HashBackend(), ml100k_build, tmp_path / "other", limit=12, shard=(2, 3), seed=9)
    with pytest.raises(UserError, match="seed"):
        merge_shards([*three_shards[:2], tmp_path / "other" / "shard-2-of-3"], tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_merge_refuses_an_incomplete_shard_and_a_used_output(three_shards, tmp_path):
    path = three_shards[1] / "samples.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(UserError, match="incomplete"):
        merge_shards(three_shards, tmp_path / "m")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        merge_shards(three_shards[:1], tmp_path / "used")
    assert (tmp_path / "used" / "notes.txt").read_text() == "mine"


# --- compare --------------------------------------------------------------------------------


def test_compare_two_systems_on_the_same_users(ml100k_build, gold_titles, tmp_path):
    evaluate(HashBackend(), ml100k_build, tmp_path / "a", limit=150)
    evaluate(OracleBackend(gold_titles), ml100k_build, tmp_path / "b", limit=150)
    report = compare_runs(tmp_path / "a" / "results.json", tmp_path / "b", metrics=["HR@1"])
    row = report["metrics"]["hr@1"]
    a = json.loads((tmp_path / "a" / "results.json").read_text())["metrics"]["hr@1"]["value"]
    assert row["a"] == pytest.approx(a) and row["b"] == 1.0
    assert row["diff"] == pytest.approx(a - 1.0) and row["ci_high"] < 0
    assert row["p_value"] < 0.001 and report["n_users"] == 150
    same = compare_runs(tmp_path / "a", tmp_path / "a")["metrics"]
    assert list(same) == list(json.loads((tmp_path / "a" / "results.json").read_text())["metrics"])
    assert all(row["p_value"] == 1.0 and row["diff"] == 0 for row in same.values())


def test_compare_refuses_different_users_splits_and_metrics(ml100k_build, tmp_path):
    evaluate(HashBackend(), ml100k_build, tmp_path / "a", limit=20)
    evaluate(HashBackend(), ml100k_build, tmp_path / "b", limit=25)
    evaluate(HashBackend(), ml100k_build, tmp_path / "v", limit=20, split="validation")
    with pytest.raises(UserError, match="different users"):
        compare_runs(tmp_path / "a", tmp_path / "b")
    with pytest.raises(UserError, match="split"):
        compare_runs(tmp_path / "a", tmp_path / "v")
    with pytest.raises(UserError, match="--metric hr@2"):
        compare_runs(tmp_path / "a", tmp_path / "a", metrics=["hr@2"])
    with pytest.raises(UserError, match="missing"):
        compare_runs(tmp_path / "a", tmp_path / "nothing-here")


# --- datasets -------------------------------------------------------------------------------


def test_a_dataset_without_eval_is_refused(no_eval_dataset, tmp_path):
    with pytest.raises(UserError) as error:
        evaluate(HashBackend(), no_eval_dataset, tmp_path, limit=5)
    assert str(error.value) == (
        f"{no_eval_dataset} has no `eval` config; build it with `r2rec-bench build`"
    )


def test_an_edited_eval_file_is_refused(dataset_copy, tmp_path):
    import pyarrow.parquet as pq

    (path,) = (dataset_copy / "eval").glob("test-*.parquet")
    table = pq.read_table(path)
    pq.write_table(table.slice(0, 100), path)
    with pytest.raises(UserError, match="differs from its sha256"):
        evaluate(HashBackend(), dataset_copy, tmp_path, limit=5)


def test_a_hub_dataset_from_the_hub_cache(ml100k_build, tmp_path):
    """The Hub path without a network: a snapshot laid out as huggingface_hub caches one."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "datasets--r2rec--ml-100k-iot"
    shutil.copytree(ml100k_build, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    probe = (
        "from r2rec_bench.harness.runner import run_evaluation\n"
        "from tests.harness.support import HashBackend\n"
        "run_evaluation(HashBackend(), 'r2rec/ml-100k-iot', model_spec='hash-a', limit=5,"
        f" output_dir={str(tmp_path / 'out')!r}, quiet=True)\n"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    dataset = json.loads((tmp_path / "out" / "results.json").read_text())["dataset"]
    assert dataset["id"] == "r2rec/ml-100k-iot" and dataset["source"] == "hub"
    assert dataset["revision"] == commit
    assert dataset["fingerprint"] == open_dataset(ml100k_build).fingerprint


def test_an_unreachable_hub_dataset_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(UserError, match="cannot download from the Hub") as error:
        open_dataset("r2rec/not-cached")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("./no/such/dir", "no such directory"),
        ("not a repo", "no such directory, and not a Hub repo id"),
    ],
)
def test_unknown_datasets_are_refused(target, message):
    with pytest.raises(UserError, match=message):
        open_dataset(target)


def test_the_validation_split_is_evaluated(ml100k_build, tmp_path):
    results = evaluate(HashBackend(), ml100k_build, tmp_path, split="validation", limit=7)
    samples = lines_of(tmp_path / "samples.jsonl")
    rows = eval_rows(ml100k_build, "validation")
    assert [s["target"] for s in samples] == [row["target"] for row in rows[:7]]
    assert results["split"] == "validation"
