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
