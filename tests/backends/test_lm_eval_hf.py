"""lm-eval's own `hf` model on our lm-eval tasks reads the tokens `r2rec-bench evaluate` reads:
the same rank-mode log-likelihoods and the same greedy generations, with the chat template
(--apply_chat_template) and without one (the _plain tasks)."""

from __future__ import annotations

import shutil

import pytest

from r2rec_bench.harness.backends.hf import HFBackend
from r2rec_bench.task.dataset import open_dataset
from r2rec_bench.task.prompt import ANSWER_CLOSE

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is not installed (extra: lm-eval)")
from lm_eval.tasks import TaskManager  # noqa: E402

from r2rec_bench.lm_eval_tasks import TASKS_DIR  # noqa: E402

USERS = 3
NEW_TOKENS = 24


@pytest.fixture(scope="module")
def plain_lm(tiny_lm, tmp_path_factory):
    """The tiny model without a chat template: both sides fall back to plain text."""
    copy = shutil.copytree(tiny_lm, tmp_path_factory.mktemp("models") / "tiny-plain")
    (copy / "chat_template.jinja").unlink()
    return copy


def lm_eval_samples(model_dir, tasks, dataset, *, chat: bool) -> dict:
    manager = TaskManager(
        include_path=str(TASKS_DIR), include_defaults=False,
        metadata={"r2rec_dataset": str(dataset)},
    )  # fmt: skip
    results = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={model_dir},dtype=float32,device=cpu,add_bos_token=False",
        tasks=tasks,
        task_manager=manager,
        limit=USERS,
        batch_size=1,
        apply_chat_template=chat,
        gen_kwargs={"max_gen_toks": NEW_TOKENS},
        log_samples=True,
        bootstrap_iters=0,
    )
    return results["samples"]


def our_requests(dataset):
    return [e.request for e in open_dataset(dataset).split("test").examples(range(USERS))]


@pytest.mark.slow
@pytest.mark.parametrize(("chat", "suffix"), [(True, ""), (False, "_plain")], ids=["chat", "plain"])
def test_lm_eval_reads_the_tokens_our_harness_reads(tiny_lm, plain_lm, ml100k_build, chat, suffix):
    model_dir = tiny_lm if chat else plain_lm
    rank, gen = f"r2rec_ml100k_iot_rank{suffix}", f"r2rec_ml100k_iot_gen{suffix}"
    samples = lm_eval_samples(model_dir, [rank, gen], ml100k_build, chat=chat)

    backend = HFBackend(
        str(model_dir), batch_size=1, dtype="float32", device="cpu", max_new_tokens=NEW_TOKENS
    )
    assert backend.describe()["prompt_format"] == ("chat_template" if chat else "plain")
    requests = our_requests(ml100k_build)
    for sample, ours in zip(samples[rank], backend.rank(requests), strict=True):
        theirs = [loglikelihood for ((loglikelihood, _),) in sample["resps"]]
        # One forward pass over prompt + title against our cached prompt: float32 rounding.
        assert theirs == pytest.approx(ours, rel=1e-6, abs=1e-4)
    for sample, ours in zip(samples[gen], backend.generate(requests), strict=True):
        ((theirs,),) = sample["resps"]
        # lm-eval cuts a completion before its stop sequence; ours keeps the closing tag.
        assert theirs in (ours.text, ours.text.removesuffix(ANSWER_CLOSE))
        assert theirs.strip()
