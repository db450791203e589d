"""`evaluate`, `merge` and `compare` on the command line, and the model-spec dispatch.

The real backends (hf, openai, baselines) have their own tests; here a test double stands in
for one behind the `ref:` prefix, so that the commands run end to end without a model.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import types

import pytest

from r2rec_bench.cli import main
from r2rec_bench.errors import UserError
from r2rec_bench.harness.backends import parse_model_spec, resolve_backend
from tests.conftest import run_cli
from tests.harness.support import HashBackend

REFERENCE = "r2rec_bench.faithfulness.reference"


@pytest.fixture
def hash_reference(monkeypatch) -> list[tuple]:
    """`ref:<salt>` builds a HashBackend; the list records each factory call's arguments."""
    calls: list[tuple] = []

    def make_reference_backend(name, *, seed=0, dataset=None):
        calls.append((name, seed, dataset))
        return HashBackend(salt=name)

    module = types.ModuleType(REFERENCE)
    module.make_reference_backend = make_reference_backend
    monkeypatch.setitem(sys.modules, REFERENCE, module)
    return calls


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- happy paths ----------------------------------------------------------------------------


def test_evaluate_json_then_resume(ml100k_build, tmp_path, capsys, hash_reference):
    out = tmp_path / "out"
    args = ["evaluate", "--model", "ref:a", "--dataset", str(ml100k_build), "--limit", "25",
            "--seed", "4", "--batch-size", "10", "--output-dir", str(out), "--json"]  # fmt: skip
    code, stdout, stderr = run_main(capsys, *args)
    assert code == 0
    report = json.loads(stdout)
    assert report["path"] == str(out) and report["n_users"] == 25 and report["seed"] == 4
    assert report["backend"] == {"spec": "ref:a", "options": {"batch_size": 10}}
    assert json.loads((out / "results.json").read_text())["metrics"] == report["metrics"]
    assert hash_reference == [("a", 4, ml100k_build)]  # seed and data reach the backend
    assert stderr == ""  # --json: no progress bar
    code, stdout, _ = run_main(capsys, *args)
    assert code == 0 and json.loads(stdout)["metrics"] == report["metrics"]
    assert len((out / "samples.jsonl").read_text().splitlines()) == 25


def test_evaluate_prints_a_table_and_a_progress_bar(ml100k_build, tmp_path, capsys,
                                                     hash_reference):  # fmt: skip
    code, stdout, stderr = run_main(capsys, "evaluate", "--model", "ref:a", "--dataset",
                                    str(ml100k_build), "--limit", "12", "--output-dir",
                                    str(tmp_path / "o"))  # fmt: skip
    assert code == 0
    assert "ref:a on ml-100k-iot test (generate, 12 users)" in stdout
    assert any(line.startswith("hr@1 ") for line in stdout.splitlines())
    assert f"results: {tmp_path / 'o' / 'results.json'}" in stdout
    assert "users/s" in stderr and "12/12" in stderr


def test_a_fractional_limit_is_that_share_of_the_users(ml100k_build, tmp_path, capsys,
                                                       hash_reference, monkeypatch):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = run_main(capsys, "evaluate", "--model", "ref:a", "--dataset",
                               str(ml100k_build), "--limit", "0.01", "--json")  # fmt: skip
    assert code == 0
    report = json.loads(stdout)
    assert report["n_users"] == report["limit"] == 10  # 1% of 943, rounded up
    assert report["path"] == "results/ml-100k-iot/ref--a/test-generate-limit10"
    assert (tmp_path / report["path"] / "results.json").is_file()


def test_shards_merge_and_compare_on_the_command_line(ml100k_build, tmp_path, capsys,
                                                       hash_reference):  # fmt: skip
    common = ["--dataset", str(ml100k_build), "--limit", "40", "--quiet"]
    for i in range(2):
        assert main(["evaluate", "--model", "ref:a", *common, "--shard", f"{i}/2",
                     "--output-dir", str(tmp_path / "a")]) == 0  # fmt: skip
    code, stdout, _ = run_main(capsys, "merge", str(tmp_path / "a" / "shard-0-of-2"),
                               str(tmp_path / "a" / "shard-1-of-2"), "--output-dir",
                               str(tmp_path / "merged"), "--json")  # fmt: skip
    assert code == 0 and json.loads(stdout)["n_users"] == 40
    assert main(["evaluate", "--model", "ref:b", *common, "--output-dir", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    code, stdout, _ = run_main(capsys, "compare", str(tmp_path / "merged" / "results.json"),
                               str(tmp_path / "b"), "--metric", "hr@1", "--metric", "mrr",
                               "--json")  # fmt: skip
    report = json.loads(stdout)
    assert code == 0 and list(report["metrics"]) == ["hr@1", "mrr"] and report["n_users"] == 40
    assert {"a", "b", "diff", "ci_low", "ci_high", "p_value", "n"} == set(report["metrics"]["mrr"])
    code, stdout, _ = run_main(capsys, "compare", str(tmp_path / "merged"), str(tmp_path / "b"))
    assert (
        code == 0
        and stdout.splitlines()[0] == f"a = ref:a ({tmp_path / 'merged' / 'results.json'})"
    )
    assert (
        sum(line.startswith(("hr@", "ndcg@", "mrr", "valid")) for line in stdout.splitlines()) == 9
    )


# --- bad input: one line, exit code 2 -------------------------------------------------------


def _one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("r2rec-bench: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--model", "ref:nope"], ["nope"]),
        (["--model", "foo:bar"], ["unknown backend prefix `foo:`"]),
        (["--model", "openai:"], ["no model name"]),
        (["--model", "ref:a", "--limit", "0"], ["--limit 0", "at least 1"]),
        (["--model", "ref:a", "--limit", "1.5"], ["--limit 1.5", "fraction between 0 and 1"]),
        (["--model", "ref:a", "--limit", "ten"], ["--limit ten: not a number"]),
        (
            ["--model", "ref:a", "--gen-kwargs", "temperature=0.5"],
            ["--gen-kwargs does not apply to `ref` models"],
        ),
        (
            ["--model", "ref:a", "--mode", "rank", "--gen-kwargs", "temperature=0.5"],
            ["--gen-kwargs: rank mode"],
        ),
        (
            ["--model", "ref:a", "--chat-template", "plain"],
            ["--chat-template does not apply to `ref` models"],
        ),
        (["--model", "ref:a", "--shard", "2/2"], ["--shard 2/2"]),
        (["--model", "ref:a", "--shard", "first"], ["--shard first"]),
        (["--model", "ref:a", "--batch-size", "0"], ["--batch-size 0"]),
        (["--model", "ref:a", "--max-new-tokens", "0"], ["--max-new-tokens 0"]),
    ],
)
def test_bad_arguments(ml100k_build, tmp_path, args, fragments):
    result = run_cli("evaluate", "--dataset", str(ml100k_build), "--output-dir",
                     str(tmp_path / "o"), *args)  # fmt: skip
    _one_line_error(result, *fragments)
    assert not (tmp_path / "o").exists()


def test_a_dataset_without_eval(no_eval_dataset, tmp_path):
    result = run_cli("evaluate", "--model", "ref:a", "--dataset", str(no_eval_dataset))
    _one_line_error(result, f"{no_eval_dataset} has no `eval` config", "r2rec-bench build")


def test_missing_dataset_and_results(tmp_path):
    _one_line_error(run_cli("evaluate", "--model", "m", "--dataset", str(tmp_path / "nope")),
                    "no such directory")  # fmt: skip
    _one_line_error(run_cli("compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")),
                    "a.json: missing")  # fmt: skip
    _one_line_error(run_cli("merge", str(tmp_path), "--output-dir", str(tmp_path / "m")),
                    "run.json: missing")  # fmt: skip


def test_help_imports_no_heavy_library():
    probe = (
        "import sys\n"
        "from r2rec_bench.cli import main\n"
        "for args in (['--help'], ['evaluate', '--help'], ['compare', '--help']):\n"
        "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'pandas', 'pyarrow', "
        "'evaluate') if m in sys.modules]\n"
        "print('heavy=' + ','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "heavy="


# --- model specs ----------------------------------------------------------------------------


def _fake_module(monkeypatch, name: str, attribute: str, factory) -> None:
    module = types.ModuleType(name)
    setattr(module, attribute, factory)
    monkeypatch.setitem(sys.modules, name, module)


class Recorder:
    def __init__(self, model, *, base_url=None, max_new_tokens=512, seed=0):
        self.args = {"model": model, "base_url": base_url, "max_new_tokens": max_new_tokens,
                     "seed": seed}  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "module", "attribute", "name"),
    [
        ("Qwen/Qwen2.5-0.5B", "r2rec_bench.harness.backends.hf", "HFBackend", "Qwen/Qwen2.5-0.5B"),
        ("hf:org/model", "r2rec_bench.harness.backends.hf", "HFBackend", "org/model"),
        ("openai:gpt-4o-mini", "r2rec_bench.harness.backends.openai", "OpenAIBackend",
         "gpt-4o-mini"),
        ("baseline:sasrec", "r2rec_bench.baselines", "make_baseline_backend", "sasrec"),
        ("ref:oracle", REFERENCE, "make_reference_backend", "oracle"),
    ],
)  # fmt: skip
def test_specs_dispatch_to_their_backend(monkeypatch, spec, module, attribute, name):
    _fake_module(monkeypatch, module, attribute, Recorder)
    backend = resolve_backend(spec, base_url="http://h/v1", max_new_tokens=None, seed=3,
                              dataset="/data", batch_size=8)  # fmt: skip
    assert isinstance(backend, Recorder)
    # None is left out (the default stays); context options the backend cannot take are
    # dropped; the user's own options are passed.
    assert backend.args == {"model": name, "base_url": "http://h/v1", "max_new_tokens": 512,
                            "seed": 3}  # fmt: skip


def test_a_flag_the_backend_cannot_take_is_an_error(monkeypatch):
    _fake_module(monkeypatch, "r2rec_bench.harness.backends.openai", "OpenAIBackend", Recorder)
    with pytest.raises(UserError, match="--adapter does not apply to `openai` models"):
        resolve_backend("openai:m", adapter="lora/")


def test_a_missing_dependency_names_the_extra(monkeypatch):
    def needs_torch(model, **options):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    _fake_module(monkeypatch, "r2rec_bench.harness.backends.hf", "HFBackend", needs_torch)
    with pytest.raises(UserError) as error:
        resolve_backend("org/model")
    assert "the `hf` backend cannot import torch" in str(error.value)
    assert "pip install 'r2rec-bench[hf]'" in str(error.value)


def test_a_missing_backend_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "r2rec_bench.harness.backends.openai", None)
    with pytest.raises(UserError, match="not part of this installation"):
        resolve_backend("openai:m")
    monkeypatch.setitem(sys.modules, REFERENCE, None)
    with pytest.raises(UserError, match="unknown reference recommender 'nope'"):
        resolve_backend("ref:nope")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("org/model", ("hf", "org/model")),
        ("hf:org/model", ("hf", "org/model")),
        ("openai:gpt-4o", ("openai", "gpt-4o")),
        ("baseline:pop", ("baseline", "pop")),
        ("ref:oracle", ("ref", "oracle")),
        ("/models/a:b", ("hf", "/models/a:b")),  # a path holding a colon is still a path
    ],
)
def test_parse_model_spec(spec, expected):
    assert parse_model_spec(spec) == expected


@pytest.mark.parametrize("spec", ["foo:bar", "openai:", "baseline:  ", ""])
def test_malformed_specs(spec):
    with pytest.raises(UserError):
        parse_model_spec(spec)


def test_an_unreachable_endpoint_fails_and_leaves_no_output(ml100k_build, tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "run"
    result = run_cli(
        "evaluate", "--model", "openai:m", "--base-url", f"http://127.0.0.1:{port}/v1",
        "--dataset", str(ml100k_build), "--limit", "2", "--output-dir", str(out), "--quiet",
        "--model-args", "max_retries=0",
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "connection failed" in lines[0] and "--base-url" in lines[0]
    assert not out.exists()


def test_a_mistyped_local_dataset_path_is_not_sent_to_the_hub(ml100k_build, tmp_path):
    (tmp_path / "out").mkdir()
    shutil.copytree(ml100k_build, tmp_path / "out" / "ml-100k-iot")
    result = run_cli(
        "evaluate", "--model", "baseline:pop", "--dataset", "out/ml-100k-io", cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "r2rec-bench: error: out/ml-100k-io: no such directory; did you mean out/ml-100k-iot?"
    ]


def test_results_are_as_readable_as_the_samples(ml100k_build, tmp_path):
    result = run_cli("evaluate", "--model", "baseline:pop", "--dataset", str(ml100k_build),
                     "--limit", "3", "--output-dir", str(tmp_path / "run"), "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "run").iterdir()}
    assert modes["results.json"] == modes["samples.jsonl"] == modes["run.json"]
    assert modes["results.json"] & 0o044  # readable by group and others under a usual umask
