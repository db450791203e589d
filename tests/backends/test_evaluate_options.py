"""`evaluate`'s lm-eval-style options on a tiny random Llama, through the console script and
the Python API: sampling settings and seeds, chat-template control, and repeats."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

import r2rec_bench
from r2rec_bench.errors import UserError
from r2rec_bench.harness.backends.hf import HFBackend
from r2rec_bench.llm.generation import generate_chat
from r2rec_bench.task.records import Results
from tests.conftest import run_cli
from tests.support.tiny_lm import make_requests

SAMPLED = ["--gen-kwargs", "temperature=0.7,top_p=0.9", "--model-args", "dtype=float32"]


def evaluate_cli(tiny_lm, dataset, out, *extra: str) -> list[dict]:
    result = run_cli(
        "evaluate", "--model", str(tiny_lm), "--dataset", str(dataset), "--limit", "6",
        "--max-new-tokens", "16", "--output-dir", str(out), "--quiet", *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]


def test_sampling_settings_are_recorded_and_a_seed_repeats_the_samples(
    tiny_lm, ml100k_build, tmp_path
):
    first = evaluate_cli(tiny_lm, ml100k_build, tmp_path / "a", *SAMPLED, "--seed", "1")
    again = evaluate_cli(tiny_lm, ml100k_build, tmp_path / "b", *SAMPLED, "--seed", "1")
    other = evaluate_cli(tiny_lm, ml100k_build, tmp_path / "c", *SAMPLED, "--seed", "2")
    greedy = evaluate_cli(tiny_lm, ml100k_build, tmp_path / "d", "--seed", "1")

    outputs = [[sample["output"] for sample in run] for run in (first, again, other, greedy)]
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]  # the seed is what made them equal
    assert outputs[0] != outputs[3]  # and sampling is what made them differ
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    generation = results["model"]["generation"]
    assert generation["do_sample"] is True
    assert (generation["temperature"], generation["top_p"], generation["seed"]) == (0.7, 0.9, 1)
    assert results["model"]["dtype"] == "float32"
    assert results["backend"]["options"]["dtype"] == "float32"
    assert results["backend"]["options"]["generation"] == {"temperature": 0.7, "top_p": 0.9}
    greedy_results = json.loads((tmp_path / "d" / "results.json").read_text())
    assert greedy_results["model"]["generation"]["do_sample"] is False
    assert greedy_results["model"]["generation"]["seed"] is None


def test_a_resume_must_keep_the_sampling_settings(tiny_lm, ml100k_build, tmp_path):
    evaluate_cli(tiny_lm, ml100k_build, tmp_path / "a", *SAMPLED)
    result = run_cli(
        "evaluate", "--model", str(tiny_lm), "--dataset", str(ml100k_build), "--limit", "6",
        "--max-new-tokens", "16", "--output-dir", str(tmp_path / "a"), "--quiet",
        "--gen-kwargs", "temperature=0.9", "--model-args", "dtype=float32",
    )  # fmt: skip
    assert result.returncode == 2
    assert "holds a different run" in result.stderr and "options" in result.stderr


def test_repeats_run_one_seed_each_and_summarise_their_spread(tiny_lm, ml100k_build, tmp_path):
    result = run_cli(
        "evaluate", "--model", str(tiny_lm), "--dataset", str(ml100k_build), "--limit", "4",
        "--max-new-tokens", "8", "--output-dir", str(tmp_path / "r"), "--seed", "5",
        "--gen-kwargs", "temperature=1.0,n=2", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "r" / "repeats.json").read_text())
    assert summary == json.loads(result.stdout)
    assert summary["seeds"] == [5, 6]
    for r, seed in enumerate(summary["seeds"]):
        run = json.loads((tmp_path / "r" / f"repeat-{r}" / "results.json").read_text())
        assert run["seed"] == seed and run["model"]["generation"]["seed"] == seed
    hr = summary["metrics"]["hr@1"]
    assert hr["mean"] == pytest.approx(sum(hr["values"]) / 2)


def test_the_python_api_returns_the_typed_results_it_wrote(tiny_lm, ml100k_build, tmp_path):
    results = r2rec_bench.evaluate(
        model=str(tiny_lm), dataset=ml100k_build, mode="rank", limit=0.004,
        model_args={"dtype": "float32"}, output_dir=tmp_path / "api",
    )  # fmt: skip
    assert isinstance(results, Results)
    assert results.n_users == 4 and results.limit == 4  # 0.4% of 943 users, rounded up
    on_disk = Results.model_validate_json((tmp_path / "api" / "results.json").read_text())
    assert results.metrics == on_disk.metrics


@pytest.mark.parametrize(
    ("gen_kwargs", "fragment"),
    [
        ({"top_p": 0.9}, "add temperature"),
        ({"temperature": -1}, "temperature=-1"),
        ({"temperature": 0.5, "top_p": 1.5}, "top_p=1.5"),
        ({"beams": 4}, "--gen-kwargs beams: unknown"),
        ({"n": 2}, "evaluate_repeats"),
    ],
)
def test_bad_generation_settings(tiny_lm, ml100k_build, tmp_path, gen_kwargs, fragment):
    with pytest.raises(UserError, match=fragment):
        r2rec_bench.evaluate(model=str(tiny_lm), dataset=ml100k_build, limit=2,
                             gen_kwargs=gen_kwargs, output_dir=tmp_path / "o")  # fmt: skip
    assert not (tmp_path / "o").exists()


def test_a_checkpoints_own_decoding_defaults_do_not_apply(tiny_lm):
    backend = HFBackend(str(tiny_lm), batch_size=2, max_new_tokens=10, dtype="float32")
    model, tokenizer = backend.model, backend.tokenizer
    prompts = [request.prompt for request in make_requests(2)]
    plain = generate_chat(model, tokenizer, prompts, max_new_tokens=10)
    ids = tokenizer(["a b c"], return_tensors="pt")
    with torch.inference_mode():
        before = model.generate(**ids, max_new_tokens=10, do_sample=False)
    try:
        # A checkpoint default that forbids the tokens greedy search picked ...
        model.generation_config.suppress_tokens = sorted(set(before[0, 3:].tolist()))
        with torch.inference_mode():
            after = model.generate(**ids, max_new_tokens=10, do_sample=False)
        assert after.tolist() != before.tolist()  # ... is live in a plain generate() ...
        # ... and is not applied by the harness's decoding.
        assert generate_chat(model, tokenizer, prompts, max_new_tokens=10) == plain
    finally:
        model.generation_config.suppress_tokens = None


def test_chat_template_choices_are_applied_and_recorded(tiny_lm, tmp_path):
    own = HFBackend(str(tiny_lm), max_new_tokens=4)
    template = tmp_path / "t.jinja"
    template.write_text(
        "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] "
    )
    custom = HFBackend(str(tiny_lm), max_new_tokens=4, chat_template=str(template))
    plain = HFBackend(str(tiny_lm), max_new_tokens=4, chat_template="plain")

    own_template = own.tokenizer.chat_template
    assert own.describe()["chat_template"] == {
        "source": "model",
        "sha256": hashlib.sha256(own_template.encode()).hexdigest(),
    }
    assert custom.describe()["chat_template"] == {
        "source": "file:t.jinja",
        "sha256": hashlib.sha256(template.read_bytes()).hexdigest(),
    }
    assert plain.describe()["chat_template"] == {"source": "plain", "sha256": None}
    assert plain.describe()["prompt_format"] == "plain"
    with pytest.raises(UserError, match=r"--chat-template nope\.jinja: no such file"):
        HFBackend(str(tiny_lm), chat_template="nope.jinja")


def test_revisions_are_for_hub_ids_only(tiny_lm, ml100k_build, tmp_path):
    with pytest.raises(UserError, match=r"--revision v1: .* is a local directory"):
        r2rec_bench.evaluate(model=str(tiny_lm), dataset=ml100k_build, limit=1,
                             revision="v1", output_dir=tmp_path / "o")  # fmt: skip
    with pytest.raises(UserError, match=r"--dataset-revision main: .* local directory"):
        r2rec_bench.evaluate(model=str(tiny_lm), dataset=ml100k_build, limit=1,
                             dataset_revision="main", output_dir=tmp_path / "o")  # fmt: skip
    assert not (tmp_path / "o").exists()


def test_a_model_revision_is_asked_of_the_hub(monkeypatch, tiny_lm):
    import huggingface_hub

    asked = {}

    def snapshot_download(repo_id, *, revision=None, allow_patterns=None):
        asked.update(repo_id=repo_id, revision=revision)
        return str(tiny_lm)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    backend = HFBackend("org/tiny", revision="abc123", max_new_tokens=4)
    assert asked == {"repo_id": "org/tiny", "revision": "abc123"}
    assert backend.describe()["id"] == "org/tiny"
