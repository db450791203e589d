"""The `hf` backend on a tiny random Llama: both modes, adapters, and what it refuses to load."""

from __future__ import annotations

import math
import shutil

import pytest
import torch

from r2rec_bench.errors import UserError
from r2rec_bench.harness.backends import resolve_backend
from r2rec_bench.harness.backends.hf import HFBackend
from r2rec_bench.llm.batching import BatchSizer
from r2rec_bench.llm.chat import encode, render_chat
from r2rec_bench.llm.generation import generate_chat
from r2rec_bench.llm.scoring import score_continuations
from r2rec_bench.task.prompt import ANSWER_PREFIX, ANSWER_SUFFIX
from tests.support.tiny_lm import make_requests, naive_logprob


@pytest.fixture(scope="module")
def backend(tiny_lm) -> HFBackend:
    return HFBackend(str(tiny_lm), batch_size=3, max_new_tokens=12)


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_generate_returns_answers_with_token_counts(backend):
    requests = make_requests(4)
    answers = backend.generate(requests)
    assert len(answers) == 4
    for request, answer in zip(requests, answers, strict=True):
        assert isinstance(answer.text, str)
        rendered = render_chat(backend.tokenizer, request.prompt)
        assert rendered.endswith("<|im_start|>assistant\n")  # the model's own chat template
        assert answer.prompt_tokens == len(encode(backend.tokenizer, rendered))
        assert 1 <= answer.completion_tokens <= 12


def test_batched_generation_equals_one_prompt_at_a_time(backend):
    """Left padding and the attention mask make a batch answer as each prompt alone would."""
    messages = [request.prompt for request in make_requests(5, seed=4)]
    model, tokenizer = backend.model, backend.tokenizer
    batched = generate_chat(model, tokenizer, messages, max_new_tokens=8, batch_size=5)
    alone = generate_chat(model, tokenizer, messages, max_new_tokens=8, batch_size=1)
    assert batched == alone
    assert len({answer.prompt_tokens for answer in batched}) > 1  # padding was exercised


def test_rank_scores_every_candidate(backend):
    scores = backend.rank(make_requests(3))
    assert [len(row) for row in scores] == [20, 20, 20]
    assert all(math.isfinite(score) and score < 0 for row in scores for score in row)
    assert len({round(score, 3) for score in scores[0]}) > 10  # candidates are told apart


def test_rank_with_cache_equals_naive_log_likelihoods(backend):
    """Cache reuse gives each candidate the log-likelihood of a full, uncached forward pass
    of prompt + candidate: users of different prompt lengths, batched 3 at a time (so one
    batch is short), with titles of different token lengths."""
    requests = make_requests(4, seed=7, candidates=8)
    scores = backend.rank(requests)
    tokenizer = backend.tokenizer
    lengths = set()
    for request, row in zip(requests, scores, strict=True):
        prompt = encode(tokenizer, render_chat(tokenizer, request.prompt) + ANSWER_PREFIX)
        for title, score in zip(request.candidate_titles, row, strict=True):
            continuation = encode(tokenizer, title + ANSWER_SUFFIX)
            lengths.add(len(continuation))
            assert score == pytest.approx(
                naive_logprob(backend.model, prompt, continuation), abs=1e-4
            )
    assert max(lengths) - min(lengths) >= 3


def test_scoring_uneven_candidate_counts_and_batches(backend):
    """Users with different numbers of continuations, in batches that do not divide them."""
    model, tokenizer = backend.model, backend.tokenizer
    prompts = [encode(tokenizer, text) for text in ("A user", "A user has watched", "Hi")]
    continuations = [
        [encode(tokenizer, t) for t in ("Heat (1995)", "Alien")],
        [encode(tokenizer, "Toy Story (1995)</answer>")],
        [encode(tokenizer, t) for t in ("Fargo", "Babe (1995)", "Casino Money Train (1990)")],
    ]
    for batch_size in (1, 2, 3):
        scores = score_continuations(model, prompts, continuations, batch_size=batch_size)
        assert [len(row) for row in scores] == [2, 1, 3]
        for prompt, options, row in zip(prompts, continuations, scores, strict=True):
            for ids, score in zip(options, row, strict=True):
                assert score.tokens == len(ids)
                assert score.logprob == pytest.approx(naive_logprob(model, prompt, ids), abs=1e-4)


def test_mean_score_is_per_token(tiny_lm, backend):
    requests = make_requests(2, seed=2)
    mean = HFBackend(str(tiny_lm), batch_size=2, rank_score="mean").rank(requests)
    total = backend.rank(requests)
    for request, mean_row, total_row in zip(requests, mean, total, strict=True):
        for title, m, t in zip(request.candidate_titles, mean_row, total_row, strict=True):
            tokens = len(encode(backend.tokenizer, title + ANSWER_SUFFIX))
            assert m == pytest.approx(t / tokens, abs=1e-5)


def test_describe_records_the_model_and_settings(backend):
    info = backend.describe()
    assert info["backend"] == "hf"
    assert info["revision"] is None  # a local directory outside the Hub cache
    assert info["dtype"] == "float32" and info["device"] == "cpu"
    assert info["parameters"] == sum(p.numel() for p in backend.model.parameters())
    assert info["adapter"] is None
    assert info["batch_size"] == 3 and info["max_new_tokens"] == 12
    assert info["generation"]["do_sample"] is False
    assert info["rank"]["score"] == "sum" and info["rank"]["kv_cache_reuse"] is True
    assert info["prompt_format"] == "chat_template"


def test_revision_is_the_hub_commit_of_a_cached_snapshot(tiny_lm, tmp_path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = tmp_path / "models--me--tiny" / "snapshots" / commit
    shutil.copytree(tiny_lm, snapshot)
    assert HFBackend(str(snapshot), batch_size=1).describe()["revision"] == commit


def test_pad_token_falls_back_to_eos_and_padding_is_left(backend):
    assert backend.tokenizer.pad_token == backend.tokenizer.eos_token == "<|im_end|>"
    assert backend.tokenizer.padding_side == "left"


def test_adapter_loads_and_changes_outputs(tiny_lm, tiny_lora, backend):
    adapted = HFBackend(str(tiny_lm), adapter=str(tiny_lora), batch_size=3, max_new_tokens=12)
    info = adapted.describe()["adapter"]
    assert info["path"] == str(tiny_lora)
    assert info["base_model"] == str(tiny_lm)
    requests = make_requests(2, seed=3)
    base_scores, adapted_scores = backend.rank(requests), adapted.rank(requests)
    assert max(abs(a - b) for a, b in zip(base_scores[0], adapted_scores[0], strict=True)) > 1e-2
    assert adapted.generate(requests) != backend.generate(requests)


def test_adapter_for_another_base_model_is_a_one_line_error(tiny_lm, foreign_lora):
    with pytest.raises(UserError) as excinfo:
        HFBackend(str(tiny_lm), adapter=str(foreign_lora))
    message = one_line_error(excinfo)
    assert "someone/other-base-model" in message and str(tiny_lm) in message
    assert "--model" in message


def test_adapter_for_a_base_of_other_depth_is_a_one_line_error(tiny_lm, other_depth_lora):
    """PEFT itself would load the layers that fit and only warn about the others."""
    with pytest.raises(UserError) as excinfo:
        HFBackend(str(tiny_lm), adapter=str(other_depth_lora))
    message = one_line_error(excinfo)
    assert "someone/other-base-model" in message
    assert "layers.2." in message or "layers.1." in message


def test_adapter_without_safetensors_is_refused(tiny_lm, tiny_lora, tmp_path):
    pickled = tmp_path / "pickled-lora"
    pickled.mkdir()
    shutil.copy(tiny_lora / "adapter_config.json", pickled)
    (pickled / "adapter_model.bin").write_bytes(b"not loaded")
    with pytest.raises(UserError) as excinfo:
        HFBackend(str(tiny_lm), adapter=str(pickled))
    assert "adapter_model.safetensors" in one_line_error(excinfo)


def test_pickled_weights_are_refused(bin_only_lm):
    with pytest.raises(UserError) as excinfo:
        HFBackend(str(bin_only_lm))
    message = one_line_error(excinfo)
    assert "pytorch_model.bin" in message and "safetensors" in message


@pytest.mark.parametrize("spec", ["./no/such/model", "nobody-owns/this-model-xyz"])
def test_missing_model_is_a_one_line_error(spec):
    with pytest.raises(UserError) as excinfo:
        HFBackend(spec)
    assert spec in one_line_error(excinfo)


def test_bad_dtype_and_device_are_one_line_errors(tiny_lm):
    with pytest.raises(UserError, match="--model-args dtype=float8"):
        HFBackend(str(tiny_lm), dtype="float8")
    with pytest.raises(UserError, match="--model-args device=gpu0"):
        HFBackend(str(tiny_lm), device="gpu0")


def test_a_model_without_chat_template_gets_plain_prompts(tiny_lm, tmp_path):
    plain = tmp_path / "no-template"
    shutil.copytree(tiny_lm, plain)
    (plain / "chat_template.jinja").unlink()
    backend = HFBackend(str(plain), batch_size=2, max_new_tokens=4)
    assert backend.describe()["prompt_format"] == "plain"
    request = make_requests(1)[0]
    rendered = render_chat(backend.tokenizer, request.prompt)
    assert rendered.startswith("System: You are a recommender")
    assert rendered.endswith("\n\nAssistant:\n")
    assert len(backend.rank([request])[0]) == 20


# -- batch sizes: `auto` is exercised with a simulated CUDA device (none in CI) --------------


def fits_up_to(limit: int, calls: list[int]):
    def run(batch):
        calls.append(len(batch))
        if len(batch) > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return [item * 10 for item in batch]

    return run


def test_auto_batch_size_doubles_until_out_of_memory_then_keeps_what_fits():
    sizer = BatchSizer("auto", torch.device("cuda"), cap=64)
    calls: list[int] = []
    assert sizer.run(list(range(40)), fits_up_to(6, calls)) == [i * 10 for i in range(40)]
    assert calls[:5] == [1, 2, 4, 8, 4]  # 8 ran out of memory and was retried as 4
    assert sizer.size == 4 and not sizer.growing
    calls.clear()
    sizer.run(list(range(9)), fits_up_to(6, calls))  # a later call reuses the size found
    assert calls == [4, 4, 1]


def test_auto_batch_size_stops_at_the_cap():
    sizer = BatchSizer("auto", torch.device("cuda"), cap=8)
    calls: list[int] = []
    sizer.run(list(range(30)), fits_up_to(100, calls))
    assert calls == [1, 2, 4, 8, 8, 7]


def test_auto_batch_size_on_cpu_is_fixed():
    sizer = BatchSizer("auto", torch.device("cpu"))
    calls: list[int] = []
    sizer.run(list(range(20)), fits_up_to(100, calls))
    assert calls == [8, 8, 4]


def test_fixed_batch_size_out_of_memory_is_a_user_error():
    with pytest.raises(UserError, match="--batch-size 16"):
        BatchSizer(16, torch.device("cuda")).run(list(range(20)), fits_up_to(6, []))
    with pytest.raises(UserError, match="--batch-size"):
        BatchSizer(0, torch.device("cpu"))


def test_the_harness_resolves_model_paths_to_this_backend(tiny_lm):
    options = {"batch_size": "auto", "max_new_tokens": 8, "adapter": None, "seed": 1}
    backend = resolve_backend(f"hf:{tiny_lm}", **options, base_url=None)
    assert isinstance(backend, HFBackend)
    assert backend.batch_size == 8  # auto on a CPU: the fixed default
    assert backend.describe()["seed"] == 1
    with pytest.raises(UserError, match="--base-url"):
        resolve_backend(str(tiny_lm), base_url="http://127.0.0.1:9/v1")


def test_a_corrupt_safetensors_file_is_one_line(tiny_lm, ml100k_build, tmp_path):
    from tests.conftest import run_cli

    broken = tmp_path / "broken"
    shutil.copytree(tiny_lm, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    result = run_cli("evaluate", "--model", str(broken), "--dataset", str(ml100k_build),
                     "--limit", "1", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"r2rec-bench: error: {broken}: cannot load it as a causal LM")


def test_rank_mode_uses_no_deprecated_cache_argument(backend):
    """transformers deprecates `past_key_values` for removal; rank mode no longer passes a
    cache at all (one packed forward pass), so nothing warns inside the progress bar."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backend.rank(make_requests(2, seed=4))
    assert not [w for w in caught if "past_key_values" in str(w.message)]
