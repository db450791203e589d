"""`evaluate --model openai:...` against a real OpenAI-compatible server that no one here
wrote: llama.cpp's, through llama-cpp-python's `llama_cpp.server`, serving the original GGUF
of SmolLM2-135M-Instruct (its native format). The test starts and stops the server.

llama-cpp-python builds llama.cpp from source with the machine's compiler (about 4 minutes
on 2 cores; `.ci/run` installs it, and README says how). Where it is not installed the test
is skipped with that reason, unless R2REC_BENCH_REQUIRE_LLAMA_CPP=1 makes its absence a
failure (as in CI).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import run_cli

MODEL = "smollm2-135m-instruct"


def _llama_cpp_installed() -> bool:
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        return False
    return True


if not _llama_cpp_installed():
    if os.environ.get("R2REC_BENCH_REQUIRE_LLAMA_CPP") == "1":
        raise RuntimeError("llama-cpp-python[server] is required here but not installed")
    pytest.skip("llama-cpp-python[server] is not installed", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(smollm2_checkpoint, tmp_path_factory):
    from r2rec_bench.models import gguf_file

    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_file(MODEL, quiet=True)),
        "--model_alias", MODEL, "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "2",
    ]  # fmt: skip
    with open(log, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as reply:
                    if json.load(reply)["data"]:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"llama.cpp server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.5)
        yield base, process, log
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_evaluate_against_the_llama_cpp_server(server, ml100k_build, tmp_path):
    # Generate mode only: rank mode needs prompt log-probabilities (`--logits_all true`),
    # with which this server spends minutes per user on 2 cores (BENCHMARKS.md §14).
    base, process, log = server
    result = run_cli(
        "evaluate", "--model", f"openai:{MODEL}", "--base-url", base, "--dataset",
        str(ml100k_build), "--limit", "3", "--max-new-tokens", "48", "--batch-size", "1",
        "--json", cwd=tmp_path,
    )  # fmt: skip
    died = "" if process.poll() is None else f"; server exited {process.returncode}"
    assert result.returncode == 0, result.stderr[-1000:] + died + log.read_text()[-1500:]
    results = json.loads(result.stdout)
    assert results["n_users"] == 3 and results["backend"]["spec"] == f"openai:{MODEL}"
    folder = tmp_path / "results/ml-100k-iot" / f"openai--{MODEL}" / "test-generate-limit3"
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    assert all(isinstance(s["output"], str) and s["output"] for s in samples)
    assert all(s["prompt_tokens"] > 500 and s["completion_tokens"] > 0 for s in samples)
    assert results["answers"]["valid"] == sum(s["valid"] for s in samples)
