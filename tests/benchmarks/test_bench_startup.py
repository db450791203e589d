"""``r2rec-bench --help`` start-up, against a bare ``python -c pass`` in the same run.

Both are whole processes, so the ratio shows what the console script adds to the
interpreter's own start-up (the issue's goal: under 0.3 s, and no torch import).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("r2rec-bench")
HEAVY = ("torch", "transformers", "datasets")

pytestmark = pytest.mark.benchmark(group="start-up")


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=True)


def test_python_startup(benchmark):
    result = benchmark.pedantic(run, args=(sys.executable, "-c", "pass"), rounds=20)
    assert result.stdout == ""


def test_help_startup(benchmark):
    result = benchmark.pedantic(run, args=(str(SCRIPT), "--help"), rounds=20)
    assert result.stdout.startswith("usage: r2rec-bench")
    # The timed runs cannot list their imports without slowing down; one more run can.
    imports = run(sys.executable, "-X", "importtime", str(SCRIPT), "--help").stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in imports.splitlines()[1:]}
    assert not imported & set(HEAVY)
