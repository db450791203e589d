"""Training killed with SIGKILL, then the same command again: it continues from the last
checkpoint (the global step goes on, it does not restart at 0) and finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import run_cli
from tests.trainer.conftest import tiny_sft_recipe

MAX_STEPS = 12


def _complete_checkpoints(out: Path) -> list[Path]:
    # transformers writes trainer_state.json last: only then is a checkpoint whole.
    return [p for p in out.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]


def test_sigkilled_training_resumes_from_its_last_checkpoint(ml100k_build, tmp_path):
    out = tmp_path / "sft"
    recipe = tiny_sft_recipe(
        tmp_path / "sft.yaml", ml100k_build, out, max_steps=MAX_STEPS, save_steps=3
    )
    command = [str(Path(sys.executable).with_name("r2rec-bench")), "train", "sft",
               "--recipe", str(recipe), "--quiet"]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not _complete_checkpoints(out):
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint within 5 minutes"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the run's own process group, started above
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert not (out / "training_metrics.json").exists()  # it died mid-training

    again = run_cli("train", "sft", "--recipe", str(recipe), "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads(again.stdout)
    resumed_step = summary["resumed_from_step"]
    assert 3 <= resumed_step < MAX_STEPS
    assert summary["resumed_from"] == str(out / f"checkpoint-{resumed_step}")
    assert summary["global_step"] == MAX_STEPS
    assert summary["steps_this_run"] == MAX_STEPS - resumed_step
    # One loss per step, each step once: the second run went on from the checkpoint's step.
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    assert [entry["step"] for entry in history if "loss" in entry] == list(range(1, MAX_STEPS + 1))
    assert (out / "model.safetensors").is_file()
