"""Counterfactual faithfulness: the budget printed is the budget spent, runs resume, and a
real language model goes through the whole suite."""

from __future__ import annotations

import json

import pytest

from r2rec_bench.faithfulness.counterfactual import LOG, _cut
from r2rec_bench.harness.backends import resolve_backend
from r2rec_bench.harness.record import SAMPLES
from r2rec_bench.harness.runner import run_evaluation
from r2rec_bench.task.parser import parse_answer
from tests.conftest import run_cli
from tests.support.tiny_lm import save_tiny_lm


class Counting:
    """A backend that forwards to another and counts the requests it is sent; it can be
    made to fail after a number of calls, as a crash would."""

    def __init__(self, inner, fail_after: int | None = None) -> None:
        self.inner, self.fail_after, self.calls = inner, fail_after, 0

    def describe(self) -> dict:
        return self.inner.describe()

    def generate(self, requests):
        if self.fail_after is not None and self.calls + len(requests) > self.fail_after:
            raise KeyboardInterrupt("simulated crash")
        self.calls += len(requests)
        return self.inner.generate(requests)

    def rank(self, requests):
        return self.inner.rank(requests)


def _oracle(dataset):
    return resolve_backend("ref:oracle", dataset=dataset, seed=0)


def _budget(stderr: str) -> int:
    line = next(x for x in stderr.splitlines() if "extra model calls for" in x)
    return int(line.split(":")[1].split("extra")[0].replace(",", ""))


def test_the_printed_budget_is_what_is_spent(ml100k_build, tmp_path, capsys):
    backend = Counting(_oracle(ml100k_build))
    run_evaluation(
        backend, ml100k_build, limit=60, output_dir=tmp_path / "run", quiet=True,
        faithfulness="static", batch_size=16,
    )  # fmt: skip
    first_pass = backend.calls
    results = run_evaluation(
        backend, ml100k_build, limit=60, output_dir=tmp_path / "run", quiet=True,
        faithfulness="full", batch_size=16,
    )  # fmt: skip
    planned = _budget(capsys.readouterr().err)
    assert planned > 0 and backend.calls - first_pass == planned
    samples = [json.loads(x) for x in (tmp_path / "run" / SAMPLES).read_text().splitlines()]
    assert sum(s["faithfulness"]["counterfactual"]["calls"] for s in samples) == planned
    assert results["faithfulness"]["mode"] == "full"


def test_an_interrupted_counterfactual_pass_resumes(ml100k_build, tmp_path, capsys):
    whole = run_evaluation(
        _oracle(ml100k_build), ml100k_build, limit=40, output_dir=tmp_path / "whole",
        quiet=True, faithfulness="full", batch_size=8,
    )  # fmt: skip
    capsys.readouterr()
    crashing = Counting(_oracle(ml100k_build), fail_after=40 + 100)
    with pytest.raises(KeyboardInterrupt):
        run_evaluation(
            crashing, ml100k_build, limit=40, output_dir=tmp_path / "cut", quiet=True,
            faithfulness="full", batch_size=8,
        )  # fmt: skip
    done = len((tmp_path / "cut" / LOG).read_text().splitlines())
    assert 0 < done < 40
    capsys.readouterr()
    resumed = Counting(_oracle(ml100k_build))
    again = run_evaluation(
        resumed, ml100k_build, limit=40, output_dir=tmp_path / "cut", quiet=True,
        faithfulness="full", batch_size=8,
    )  # fmt: skip
    assert f"{done:,} users already done" in capsys.readouterr().err
    assert resumed.calls == _budget_of(tmp_path / "whole") - _budget_of(tmp_path / "cut", done)
    assert again["faithfulness"] == whole["faithfulness"]
    assert again["metrics"] == whole["metrics"]


def _budget_of(run, first: int | None = None) -> int:
    lines = (run / LOG).read_text().splitlines()[:first]
    return sum(json.loads(line)["counterfactual"]["calls"] for line in lines)


def test_a_cut_reasoning_forces_an_answer():
    reasoning = "Thought 1: a.\nThought 2: b."
    assert _cut(reasoning, 0) == "<think>\n</think>\n<answer>"
    prefix = _cut(reasoning, 1)
    assert prefix == "<think>\nThought 1: a.\n</think>\n<answer>"
    parsed = parse_answer(prefix + "X (1999)</answer>", ["Y (1998)", "X (1999)"])
    assert parsed.ranking == (1,) and parsed.reasoning == "Thought 1: a."


def test_full_faithfulness_needs_generate_mode(ml100k_build, tmp_path):
    result = run_cli(
        "evaluate", "--model", "ref:oracle", "--dataset", str(ml100k_build), "--mode", "rank",
        "--faithfulness", "full", "--output-dir", str(tmp_path / "x"),
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--mode generate" in result.stderr
    assert not (tmp_path / "x").exists()


def test_a_tiny_language_model_runs_the_whole_suite(ml100k_build, tmp_path):
    """End to end through the console script: a real transformers model (random weights,
    tokenizer trained here) answers the edited prompts; the budget matches what it spent."""
    import pyarrow.parquet as pq

    corpus = []
    for path in sorted((ml100k_build / "sft").glob("train-*.parquet")):
        for messages in (
            pq.read_table(path, columns=["messages"]).column("messages").to_pylist()[:200]
        ):
            corpus += [message["content"] for message in messages]
    model = save_tiny_lm(tmp_path / "tiny", corpus=corpus)
    out = tmp_path / "run"
    result = run_cli(
        "evaluate", "--model", str(model), "--dataset", str(ml100k_build), "--limit", "4",
        "--max-new-tokens", "24", "--faithfulness", "full", "--output-dir", str(out),
        "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout)
    block = results["faithfulness"]
    assert block["mode"] == "full" and block["n_users"] == 4
    samples = [json.loads(line) for line in (out / SAMPLES).read_text().splitlines()]
    spent = sum(s["faithfulness"]["counterfactual"]["calls"] for s in samples)
    assert _budget(result.stderr) == spent
    assert all("static" in s["faithfulness"] for s in samples)
