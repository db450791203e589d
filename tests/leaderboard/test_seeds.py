"""A model run under several seeds: `evaluate --seeds N` on a real baseline, `submit` filing
the first run with the others' rankings in seeds.json, `leaderboard verify` recomputing every
seed's figures, and the site showing the spread."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.leaderboard.conftest import DATASET

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def seeded(ml100k_build, tmp_path_factory) -> Path:
    """`evaluate --seeds 3` of BPR, one short epoch a fit, on the real ml-100k-iot build."""
    out = tmp_path_factory.mktemp("seeded") / "bpr"
    result = run_cli(
        "evaluate", "--model", "baseline:bpr", "--dataset", str(ml100k_build),
        "--model-args", "max_epochs=1,patience=1", "--seeds", str(len(SEEDS)),
        "--output-dir", str(out), "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def filed(seeded, ml100k_build, tmp_path_factory) -> Path:
    """The seeded run as `submit` files it."""
    to = tmp_path_factory.mktemp("filed") / "submissions"
    result = run_cli(
        "submit", str(seeded), "--to", str(to), "--dataset", str(ml100k_build),
        "--name", "bpr-seeds",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return to


def _samples(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]


def _verify(root: Path, dataset: Path) -> tuple[int, str]:
    result = run_cli("leaderboard", "verify", str(root), "--dataset", str(dataset))
    return result.returncode, result.stdout + result.stderr


def test_each_seed_is_a_fit_of_its_own_and_the_spread_is_over_them(seeded):
    summary = json.loads((seeded / "repeats.json").read_text())
    assert summary["seeds"] == list(SEEDS)
    runs = [json.loads((seeded / f"repeat-{r}" / "results.json").read_text()) for r in SEEDS]
    assert [run["model"]["fit"]["seed"] for run in runs] == list(SEEDS)
    assert len({run["model"]["revision"] for run in runs}) == len(SEEDS)  # three cached fits
    rankings = [[s["ranking"] for s in _samples(seeded / f"repeat-{r}")] for r in SEEDS]
    assert rankings[0] != rankings[1] != rankings[2]
    values = [run["metrics"]["hr@1"]["value"] for run in runs]
    hr1 = summary["metrics"]["hr@1"]
    assert hr1["values"] == values and hr1["mean"] == pytest.approx(sum(values) / 3)


def test_submit_files_the_first_seed_with_the_others_rankings(seeded, filed, ml100k_build):
    folder = filed / DATASET / "bpr-seeds"
    assert sorted(p.name for p in folder.iterdir()) == [
        "results.json", "samples.jsonl", "seeds.json",
    ]  # fmt: skip
    for file in ("results.json", "samples.jsonl"):
        assert (folder / file).read_bytes() == (seeded / "repeat-0" / file).read_bytes()
    seeds = json.loads((folder / "seeds.json").read_text())
    assert seeds["seeds"] == list(SEEDS)
    for run, r in zip(seeds["runs"], SEEDS[1:], strict=True):
        samples = _samples(seeded / f"repeat-{r}")
        assert run["seed"] == r
        assert run["rankings"] == [s["ranking"] for s in samples]  # same user order here
        results = json.loads((seeded / f"repeat-{r}" / "results.json").read_text())
        assert run["metrics"]["hr@1"] == pytest.approx(results["metrics"]["hr@1"]["value"])
    summary = json.loads((seeded / "repeats.json").read_text())
    for name, spread in seeds["spread"].items():
        for key in ("mean", "sd", "min", "max"):
            assert spread[key] == pytest.approx(summary["metrics"][name][key])
    code, output = _verify(filed, ml100k_build)
    assert code == 0 and "accepted" in output, output


def _reverse_rankings(seeds: dict) -> None:
    """Every ranking of one seed reversed: its best candidates become its worst."""
    run = seeds["runs"][0]
    run["rankings"] = [ranking[::-1] for ranking in run["rankings"]]


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (_reverse_rankings, "seeds.runs[0].metrics.hr@1"),
        (lambda s: s["spread"]["hr@1"].update(mean=0.9), "seeds.spread.hr@1.mean"),
        (lambda s: s["runs"][0]["metrics"].update({"hr@1": 0.9}), "seeds.runs[0].metrics.hr@1"),
        (lambda s: s["runs"][0]["rankings"][3].append(20), "a candidate twice or one"),
        (lambda s: s["runs"][0]["rankings"].pop(), "rankings and"),
        (lambda s: s.update(seeds=[1, 1, 2]), "start with results.json's seed"),
        (lambda s: s["runs"].reverse(), "must be the runs of seeds"),
        (lambda s: s["runs"][0]["model"].update(hyperparameters={}), "not the submitted model"),
        (lambda s: s.update(extra=1), "seeds.json: field `extra`"),
    ],
)
def test_an_edited_seeds_file_is_rejected(filed, ml100k_build, tmp_path, edit, fragment):
    root = tmp_path / "submissions"
    folder = root / DATASET / "edited"
    shutil.copytree(filed / DATASET / "bpr-seeds", folder)
    seeds = json.loads((folder / "seeds.json").read_text())
    edit(seeds)
    (folder / "seeds.json").write_text(json.dumps(seeds))
    code, output = _verify(root, ml100k_build)
    assert code == 2 and "rejected" in output and fragment in output, output


def test_a_run_of_another_model_is_not_filed_as_a_seed(seeded, ml100k_build, tmp_path):
    mixed = tmp_path / "mixed"
    shutil.copytree(seeded, mixed)
    other = tmp_path / "random"
    result = run_cli(
        "evaluate", "--model", "baseline:random", "--dataset", str(ml100k_build), "--seed", "1",
        "--output-dir", str(other), "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shutil.rmtree(mixed / "repeat-1")
    shutil.copytree(other, mixed / "repeat-1")
    to = tmp_path / "to"
    result = run_cli("submit", str(mixed), "--to", str(to), "--dataset", str(ml100k_build))
    assert result.returncode == 2
    assert "not the same model" in result.stderr and "repeat-1" in result.stderr
    assert not to.exists()


def test_a_model_that_ignores_its_seed_refuses_seeds(ml100k_build, tmp_path):
    result = run_cli(
        "evaluate", "--model", "baseline:pop", "--dataset", str(ml100k_build), "--seeds", "2",
        "--output-dir", str(tmp_path / "pop"),
    )  # fmt: skip
    assert result.returncode == 2
    assert "baseline:pop does not depend on its seed" in result.stderr
    assert not (tmp_path / "pop").exists()


def test_seeds_and_gen_kwargs_n_must_agree(ml100k_build, tmp_path):
    result = run_cli(
        "evaluate", "--model", "baseline:random", "--dataset", str(ml100k_build),
        "--seeds", "2", "--gen-kwargs", "n=3", "--output-dir", str(tmp_path / "r"),
    )  # fmt: skip
    assert result.returncode == 2 and "--seeds 2 and --gen-kwargs n=3" in result.stderr


def test_the_site_shows_the_spread_beside_the_verified_run(filed, ml100k_build, tmp_path):
    site = tmp_path / "site"
    result = run_cli(
        "leaderboard", "build", "--submissions", str(filed), "--out", str(site),
        "--dataset", str(ml100k_build), "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seeds = json.loads((filed / DATASET / "bpr-seeds" / "seeds.json").read_text())
    spread = seeds["spread"]["hr@1"]
    text = f"3 seeds: {spread['mean']:.4f} ± {spread['sd']:.4f}"
    assert text in (site / "index.html").read_text()
    assert f"({text})" in (site / "LEADERBOARD.md").read_text()
    entry = json.loads((site / "leaderboard.json").read_text())["boards"][0]["entries"][0]
    assert entry["seeds"] == {"seeds": list(SEEDS), "spread": seeds["spread"]}
    page = (site / "entries" / DATASET / "test" / "bpr-seeds.html").read_text()
    assert "3 seeds: mean ± sd [min, max]" in page
    assert f"{spread['mean']:.4f} ± {spread['sd']:.4f} [{spread['min']:.4f}" in page
