"""The lm-evaluation-harness tasks (r2rec_bench/lm_eval_tasks) run through lm_eval's own
evaluator on a real build, and report r2rec-bench's metrics: recomputed here from the logged
outputs, and, for models whose answers are known, from the gold alone."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from r2rec_bench.errors import UserError
from r2rec_bench.lm_eval_tasks import TASKS_DIR
from r2rec_bench.lm_eval_tasks.utils import generate_results, load_test_split
from r2rec_bench.task.metrics import metric_names, per_user_metrics
from r2rec_bench.task.scoring import score_scores, score_text, target_ranks
from tests.harness.conftest import eval_rows

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is not installed (extra: lm-eval)")
from lm_eval.api.model import LM  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

GEN, RANK = "r2rec_ml100k_iot_gen", "r2rec_ml100k_iot_rank"
PLAIN_GEN, PLAIN_RANK = f"{GEN}_plain", f"{RANK}_plain"
USERS = 30


def run_tasks(model, tasks: list[str], dataset, *, limit: int = USERS) -> dict:
    # include_defaults=False: indexing lm-eval's thousands of built-in tasks is slow.
    manager = TaskManager(
        include_path=str(TASKS_DIR),
        include_defaults=False,
        metadata={"r2rec_dataset": str(dataset)},
    )
    return lm_eval.simple_evaluate(
        model=model,
        tasks=tasks,
        task_manager=manager,
        limit=limit,
        log_samples=True,
        bootstrap_iters=0,
    )


def reported(results: dict, task: str) -> dict[str, float]:
    return {
        key.removesuffix(",none"): value
        for key, value in results["results"][task].items()
        if key.endswith(",none") and "_stderr" not in key
    }


def mean_metrics(ranks, valid) -> dict[str, float]:
    return {name: float(v.mean()) for name, v in per_user_metrics(ranks, valid).items()}


def candidate_titles_in(context: str) -> list[str]:
    """The candidates as the prompt lists them (one `- "title"` line each)."""
    return re.findall(r'^- "(.*)"$', context, flags=re.MULTILINE)


class PromptOrderLM(LM):
    """Prefers candidates in the order the prompt lists them: a rank score of minus the
    candidate's position, and a generated ranking of the first three, in the response format
    (cut before ``</answer>``, as lm-eval cuts at a stop sequence)."""

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        scores = []
        for request in requests:
            context, continuation = request.args
            title = continuation.removesuffix("</answer>")
            scores.append((-float(candidate_titles_in(context).index(title)), False))
        return scores

    def generate_until(self, requests, disable_tqdm: bool = False):
        answers = []
        for request in requests:
            first_three = candidate_titles_in(request.args[0])[:3]
            answers.append("<think>\nThought 1: none\n</think>\n<answer>" + "\n".join(first_three))
        return answers

    # lm-eval's LM declares it abstract; neither r2rec task asks for rolling (perplexity)
    # scores, so a call would be a bug in the tasks, and this double says so loudly.
    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("the r2rec tasks never request rolling log-likelihoods")


class IndifferentLM(PromptOrderLM):
    """Scores every candidate alike: the seeded tie rule alone orders them."""

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        return [(-1.0, False) for _ in requests]


@pytest.fixture(scope="module")
def gold(ml100k_build) -> dict[str, np.ndarray | list]:
    rows = eval_rows(ml100k_build)[:USERS]
    return {
        "target_index": np.array([row["target_index"] for row in rows]),
        "user_id": [row["user_id"] for row in rows],
        "candidates": [row["candidates"] for row in rows],
    }


def test_dummy_model_metrics_are_ours_recomputed_from_its_logged_outputs(ml100k_build):
    results = run_tasks("dummy", [GEN, RANK], ml100k_build)
    for task in (GEN, RANK):
        assert set(reported(results, task)) == set(metric_names())
        samples = results["samples"][task]
        assert len(samples) == USERS
        scored = []
        for sample in samples:
            doc = sample["doc"]
            if task == RANK:
                scores = [loglikelihood for ((loglikelihood, _),) in sample["resps"]]
                scored.append(
                    score_scores(scores, doc["user_id"], doc["candidates"], doc["target_index"])
                )
            else:
                ((completion,),) = sample["resps"]
                scored.append(score_text(completion, doc["candidate_titles"], doc["target_index"]))
        expected = mean_metrics([s.target_rank for s in scored], [s.valid for s in scored])
        assert reported(results, task) == pytest.approx(expected)
    # The dummy's random scores put some targets in the top ten and some not.
    assert 0 < reported(results, RANK)["hr@10"] < 1


def test_known_answers_score_what_the_gold_says(ml100k_build, gold):
    """A model that prefers the prompt's order puts each target at rank target_index + 1, in
    both modes (in generate mode only within its three-title answer)."""
    results = run_tasks(PromptOrderLM(), [GEN, RANK, PLAIN_GEN, PLAIN_RANK], ml100k_build)
    position = gold["target_index"] + 1
    for task in (RANK, PLAIN_RANK):
        assert reported(results, task) == pytest.approx(mean_metrics(position, [True] * USERS))
    within_three = np.where(position <= 3, position, 0)
    for task in (GEN, PLAIN_GEN):
        assert reported(results, task) == pytest.approx(mean_metrics(within_three, [True] * USERS))
    assert 0 < reported(results, RANK)["hr@1"] < reported(results, RANK)["hr@10"] < 1


def test_equal_scores_are_ordered_by_our_seeded_tie_rule(ml100k_build, gold):
    results = run_tasks(IndifferentLM(), [RANK], ml100k_build)
    ranks = target_ranks(
        np.zeros((USERS, 20)), gold["target_index"], gold["user_id"], gold["candidates"]
    )
    assert reported(results, RANK) == pytest.approx(mean_metrics(ranks, [True] * USERS))
    # lm-eval's own rule (the first of equal scores wins) would credit target_index == 0.
    first_wins = float(np.mean(gold["target_index"] == 0))
    assert reported(results, RANK)["hr@1"] != pytest.approx(first_wins)


def test_prompts_are_the_datasets_own(ml100k_build):
    results = run_tasks("dummy", [GEN, RANK, PLAIN_GEN, PLAIN_RANK], ml100k_build, limit=1)
    (row,) = eval_rows(ml100k_build)[:1]
    system, user = (message["content"] for message in row["prompt"])
    plain = f"System: {system}\n\nUser: {user}\n\nAssistant:\n"
    opened = "<think>\n</think>\n<answer>"

    (gen,) = results["samples"][GEN]
    # Without --apply_chat_template lm-eval joins its system turn and the text plainly.
    assert gen["arguments"][0][0] == system + user
    assert results["samples"][PLAIN_GEN][0]["arguments"][0][0] == plain
    assert gen["arguments"][0][1]["until"] == ["</answer>"]
    for task, context in ((RANK, system + user + opened), (PLAIN_RANK, plain + opened)):
        arguments = [tuple(pair) for pair in results["samples"][task][0]["arguments"]]
        assert arguments == [(context, f"{title}</answer>") for title in row["candidate_titles"]]


def test_a_build_of_another_corpus_is_refused(ml100k_build):
    with pytest.raises(UserError, match=r"a build of ml-100k-iot.*evaluate ml-1m-iot"):
        load_test_split("ml-1m-iot", r2rec_dataset=str(ml100k_build))


def test_the_split_holds_every_user_with_the_gold(ml100k_build):
    docs = load_test_split("ml-100k-iot", r2rec_dataset=str(ml100k_build), version=1.0)["test"]
    rows = eval_rows(ml100k_build)
    assert len(docs) == len(rows)
    assert docs[5]["target_title"] == docs[5]["candidate_titles"][rows[5]["target_index"]]
    assert docs[5]["user_id"] == rows[5]["user_id"]


def test_generated_answers_are_read_by_our_parser():
    doc = {"candidate_titles": ["Heat (1995)", "Alien (1979)", "Babe (1995)"], "target_index": 1}
    closed = generate_results(doc, ["<think>\n</think>\n<answer>Alien (1979)"])
    assert closed["hr@1"] == closed["valid_ratio"] == 1.0
    ranked = generate_results(doc, ["<answer>1. heat\n2. alien (1979)\n3. Babe (1995)"])
    assert (ranked["hr@1"], ranked["hr@3"]) == (0.0, 1.0)
    assert ranked["ndcg@3"] == pytest.approx(1 / np.log2(3))
    untagged = generate_results(doc, ["Clearly Babe (1995) or Heat (1995)"])
    assert untagged["valid_ratio"] == untagged["hr@10"] == 0.0


def test_the_include_path_is_printed_by_the_package():
    printed = subprocess.run(
        [sys.executable, "-m", "r2rec_bench.lm_eval_tasks"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert printed == str(TASKS_DIR)
    assert {path.stem for path in TASKS_DIR.glob("*.yaml")} == {GEN, RANK, PLAIN_GEN, PLAIN_RANK}
