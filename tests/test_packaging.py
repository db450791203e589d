"""Builders and card templates work from an installed wheel, not only from a checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_installed_wheel_carries_builders_and_cards_and_builds(ml100k_raw, tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(wheels), str(REPO)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = wheels.glob("r2rec_bench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "r2rec_bench/_data/builders/ml-100k-iot.toml" in names
    assert "r2rec_bench/_data/hub_cards/dataset_card.md" in names
    assert "r2rec_bench/lm_eval_tasks/r2rec_ml100k_iot_rank.yaml" in names
    assert "r2rec_bench/lm_eval_tasks/_r2rec_template_yaml" in names

    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
         str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    probe = (
        "import r2rec_bench.resources as r, r2rec_bench.build as b\n"
        "print(r.resource_dir('builders'))\n"
        f"b.build('ml-100k-iot', out={str(tmp_path / 'ds')!r}, raw_dir={str(ml100k_raw)!r}, "
        "quiet=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}  # the wheel's copy shadows the checkout
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(site))
    assert (tmp_path / "ds" / "README.md").read_text().count("config_name:") == 5


def test_the_declared_minimum_versions_build_and_verify(ml100k_raw, ml100k_build, tmp_path):
    """The core dependencies at their declared floors (the lowest release of each that is
    published for this Python) install, build a dataset, and verify every seeded submission
    against the published build: a floor that does not work fails here."""
    import tomllib

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    # igraph 0.11.0 and 0.11.1 were never published as wheels: 0.11.2 is the lowest 0.11.
    published = {"igraph==0.11": "igraph==0.11.2"}
    floors = [published.get(d.replace(">=", "=="), d.replace(">=", "==")) for d in declared]
    venv = tmp_path / "floors"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    installed = subprocess.run([*pip, *floors], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr[-2000:]
    subprocess.run([*pip, "--no-deps", "-e", str(REPO)], check=True, capture_output=True)
    script = venv / "bin" / "r2rec-bench"
    build = subprocess.run(
        [str(script), "build", "--raw-dir", str(ml100k_raw), "--out", str(tmp_path / "ds"),
         "--quiet"], capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    verify = subprocess.run(
        [str(script), "leaderboard", "verify", "--dataset", str(ml100k_build)],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout[-1500:] + verify.stderr[-1500:]
