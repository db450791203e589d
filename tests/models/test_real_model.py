"""The real SmolLM2-135M-Instruct through the benchmark: evaluate in both modes, rank scores
against naive per-candidate log-likelihoods, and the errors a user meets (the teacher:
tests/teacher/test_real_teacher.py).

fp32 throughout, since scores are compared; the published runs used bfloat16 (BENCHMARKS.md).
"""

from __future__ import annotations

import json
import shutil

import pytest

from r2rec_bench.llm.chat import encode, render_chat
from r2rec_bench.llm.loading import load_causal_lm
from r2rec_bench.llm.scoring import score_continuations
from r2rec_bench.task.dataset import open_dataset
from r2rec_bench.task.prompt import ANSWER_PREFIX, ANSWER_SUFFIX
from tests.conftest import run_cli
from tests.support.tiny_lm import naive_logprob

MODEL = "smollm2-135m-instruct"
# float32 rounding, not a different computation: the packed pass attends over ~850 keys (the
# prompt and every candidate, the others masked) where the naive one attends over ~585, so
# its 30 layers sum in another order. Measured on 16 candidates: max 1.4e-4, mean 8.7e-5,
# on sums of ~15 token log-probabilities (about -5 to -40); the same naive pass with an
# explicit 4D mask differs from it by exactly 0. The tiny test model keeps 1e-4.
FP32_NOISE = 3e-4


@pytest.fixture(scope="module")
def smollm2(smollm2_checkpoint):
    return load_causal_lm(str(smollm2_checkpoint), dtype="float32")


@pytest.mark.parametrize("mode", ["rank", "generate"])
def test_evaluate_the_real_model_by_its_short_name(
    smollm2_checkpoint, ml100k_build, tmp_path, mode
):
    result = run_cli(
        "evaluate", "--model", MODEL, "--dataset", str(ml100k_build), "--mode", mode,
        "--limit", "5", "--max-new-tokens", "48", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout)
    assert results["n_users"] == 5 and results["mode"] == mode
    model = results["model"]
    assert model["id"] == MODEL and model["parameters"] == 134_515_008
    assert model["revision"].startswith("gguf:") and model["dtype"] == "float32"
    folder = tmp_path / "results/ml-100k-iot" / MODEL / f"test-{mode}-limit5"
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 5
    if mode == "rank":
        assert all(s["valid"] and len(s["scores"]) == 20 for s in samples)
        assert all(all(score < 0 for score in s["scores"]) for s in samples)
    else:
        assert all(isinstance(s["output"], str) and s["completion_tokens"] > 0 for s in samples)
        assert results["answers"]["valid"] == sum(s["valid"] for s in samples)


def test_rank_scores_equal_naive_log_likelihoods(smollm2, ml100k_build):
    model, tokenizer = smollm2
    examples = open_dataset(ml100k_build).split("test").examples([0, 1])
    prompts = [
        encode(tokenizer, render_chat(tokenizer, e.request.prompt) + ANSWER_PREFIX)
        for e in examples
    ]
    titles = [
        [encode(tokenizer, title + ANSWER_SUFFIX) for title in e.request.candidate_titles[:6]]
        for e in examples
    ]
    packed = score_continuations(model, prompts, titles, batch_size=2)
    for prompt, options, row in zip(prompts, titles, packed, strict=True):
        for ids, score in zip(options, row, strict=True):
            assert score.tokens == len(ids)
            assert score.logprob == pytest.approx(naive_logprob(model, prompt, ids), abs=FP32_NOISE)


def test_an_unknown_model_name_is_one_line_and_exit_code_2(ml100k_build, tmp_path):
    result = run_cli(
        "evaluate", "--model", "smollm2-135m", "--dataset", str(ml100k_build), cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "r2rec-bench: error: smollm2-135m: unknown model; pass a local directory, a Hub id "
        "(ORG/NAME) or one of the models `r2rec-bench models list` knows "
        "(smollm2-135m-instruct)"
    ]


def test_a_checkpoint_without_tokenizer_files_names_what_is_missing(
    smollm2_checkpoint, ml100k_build, tmp_path
):
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    for name in ("config.json", "generation_config.json", "model.safetensors"):
        (folder / name).symlink_to(smollm2_checkpoint / name)
    result = run_cli(
        "evaluate", "--model", str(folder), "--dataset", str(ml100k_build), "--limit", "1",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "no tokenizer files" in line and "tokenizer.json" in line
    assert "save_pretrained" in line
    shutil.rmtree(folder)
