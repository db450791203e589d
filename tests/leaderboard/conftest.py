"""Real submissions for the leaderboard tests: baselines evaluated once per session on the
real ml-100k-iot build by the console script, and helpers that tamper with copies of them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

DATASET = "ml-100k-iot"
MODELS = ("pop", "random")
# A model name and a reasoning text that would run script if pasted into a page unescaped.
EVIL = "<script>alert(1)</script><img src=x onerror=alert(2)>"


@pytest.fixture(scope="session")
def evaluated(ml100k_build, tmp_path_factory) -> dict[str, Path]:
    """model -> the output directory of `r2rec-bench evaluate --model baseline:<model>`, and
    "hallucinator" -> that of `ref:hallucinator` (the base of the site's markup entry: a
    model of its own, so that it is no near-duplicate of a baseline)."""
    root = tmp_path_factory.mktemp("evaluated")
    runs = {}
    specs = {model: f"baseline:{model}" for model in MODELS} | {"hallucinator": "ref:hallucinator"}
    for model, spec in specs.items():
        out = root / model
        result = run_cli(
            "evaluate", "--model", spec, "--dataset", str(ml100k_build),
            "--output-dir", str(out), "--quiet",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        runs[model] = out
    return runs


def file_submission(run: Path, root: Path, name: str) -> Path:
    """Copy an evaluate run's two files into ``root/<dataset>/<name>/``."""
    folder = root / DATASET / name
    folder.mkdir(parents=True)
    for file in ("results.json", "samples.jsonl"):
        shutil.copyfile(run / file, folder / file)
    return folder


@pytest.fixture
def submissions(evaluated, tmp_path) -> Path:
    """A submissions folder holding the two baselines, as `submit` files them."""
    root = tmp_path / "submissions"
    for model in MODELS:
        file_submission(evaluated[model], root, f"baseline--{model}")
    return root


def read_samples(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]


def write_samples(folder: Path, samples: list[dict]) -> None:
    text = "".join(json.dumps(sample, ensure_ascii=False) + "\n" for sample in samples)
    (folder / "samples.jsonl").write_text(text)


def edit_results(folder: Path, edit) -> None:
    path = folder / "results.json"
    results = json.loads(path.read_text())
    edit(results)
    path.write_text(json.dumps(results, indent=2))


def make_evil(folder: Path, dataset: Path) -> None:
    """Name the model with markup and put markup in the first user's reasoning, as a
    well-formed submission would carry it: the output's hash and faithfulness are
    recomputed, so the answer and every figure still verify."""
    from r2rec_bench.faithfulness import aggregate, rescore_static
    from r2rec_bench.task.dataset import open_dataset

    samples = read_samples(folder)
    output = samples[0]["output"].replace("<think>\n", f"<think>\n{EVIL}\n", 1)
    assert output != samples[0]["output"]
    samples[0]["output"] = output
    samples[0]["output_sha256"] = hashlib.sha256(output.encode()).hexdigest()
    (static,) = rescore_static(open_dataset(dataset), "test", samples[:1])
    samples[0]["faithfulness"] = {**samples[0]["faithfulness"], "static": static}
    write_samples(folder, samples)

    def edit(results: dict) -> None:
        results["backend"]["spec"] = EVIL
        results["faithfulness"] = aggregate(samples, results["seed"])

    edit_results(folder, edit)


# The synthetic board's entries: (submission name, spec, model record, share of hits). The
# first two are close enough for their HR@1 intervals to overlap.
SYNTHETIC_ENTRIES = (
    ("chat-7b", "org-a/chat-7b", {"parameters": 7_000_000_000, "revision": "a" * 40}, 0.6),
    ("served", "openai:served-model", {}, 0.5),
    ("cooccurrence", "baseline:cooccurrence", {"parameters": 5_000}, 0.2),
)


@pytest.fixture
def two_board_site(evaluated, ml100k_build, tmp_path) -> Path:
    """A site rendered by `leaderboard build` with two boards: ml-100k-iot (the two baselines
    and the reference recommender ref:hallucinator) and a small synthetic dataset (a Hub LLM
    of 7B parameters, a served LLM of unknown size and a classical baseline)."""
    from r2rec_bench.task.dataset import open_dataset
    from tests.benchmarks.leaderboard_data import NAME, write_dataset, write_submission

    root = tmp_path / "two-boards"
    submissions = root / "submissions"
    for model in MODELS:
        file_submission(evaluated[model], submissions, f"baseline--{model}")
    file_submission(evaluated["hallucinator"], submissions, "ref--hallucinator")
    synthetic = write_dataset(root / NAME, users=200, items=500)
    for seed, (name, spec, model, skill) in enumerate(SYNTHETIC_ENTRIES):
        folder = submissions / NAME / name
        write_submission(folder, synthetic, skill=skill, seed=seed)

        def describe(results: dict, spec=spec, model=model) -> None:
            results["backend"]["spec"] = spec
            results["model"] = {"id": spec, **model}

        edit_results(folder, describe)
    pins = json.loads((REPO / "leaderboard" / "datasets.json").read_text())
    pins[NAME] = {"hub_repo": None, "fingerprint": open_dataset(synthetic).recomputed_fingerprint()}
    (root / "datasets.json").write_text(json.dumps(pins))
    site = root / "site"
    result = run_cli(
        "leaderboard", "build", "--submissions", str(submissions), "--out", str(site),
        "--dataset", str(ml100k_build), "--dataset", str(synthetic),
        "--pins", str(root / "datasets.json"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return site
