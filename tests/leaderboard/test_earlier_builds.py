"""Earlier builds in a pin: a submission evaluated on a build whose scoring files (eval, items,
interactions) the pinned build kept byte-identical verifies without being run again, and is
marked on the site; any difference in those files, or a listed build whose files do not hash
to its fingerprint, is refused.

The pinned build here is a copy of the real build with one sft file changed, as a builder bump
that rewrites only the reasoning corpus leaves it; the submissions were evaluated on the
original, which the pins list as the earlier build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from r2rec_bench.hashing import dataset_fingerprint, sha256_file
from tests.conftest import run_cli
from tests.leaderboard.conftest import DATASET, edit_results

EARLIER = "ml-100k-iot 2.0.0 (protocol v2)"
POP = f"{DATASET}/baseline--pop"
RANDOM = f"{DATASET}/baseline--random"
NOTE = f"evaluated on {EARLIER}; its eval, items and interactions files are identical"


def _file_hashes(build: Path) -> dict[str, str]:
    manifest = json.loads((build / "MANIFEST.json").read_text())
    return {path: entry["sha256"] for path, entry in manifest["files"].items()}


@pytest.fixture
def rebuilt(ml100k_build, tmp_path) -> Path:
    """The build with its sft training file changed and its manifest rewritten to match."""
    copy = tmp_path / "rebuilt"
    shutil.copytree(ml100k_build, copy)
    manifest = json.loads((copy / "MANIFEST.json").read_text())
    relative = next(path for path in manifest["files"] if path.startswith("sft/train"))
    with open(copy / relative, "ab") as handle:
        handle.write(b"another reasoning corpus")
    manifest["files"][relative]["sha256"] = sha256_file(copy / relative)
    hashes = {path: entry["sha256"] for path, entry in manifest["files"].items()}
    manifest["fingerprint"] = dataset_fingerprint(hashes)
    manifest["builder_version"] = "3.0.0"
    (copy / "MANIFEST.json").write_text(json.dumps(manifest))
    return copy


def write_pins(folder: Path, pinned: Path, earlier: list[dict]) -> Path:
    pins = folder / "datasets.json"
    fingerprint = json.loads((pinned / "MANIFEST.json").read_text())["fingerprint"]
    entry = {"hub_repo": None, "fingerprint": fingerprint, "earlier_builds": earlier}
    pins.write_text(json.dumps({DATASET: entry}))
    return pins


def earlier_build(files: dict[str, str], fingerprint: str | None = None) -> dict:
    fingerprint = fingerprint or dataset_fingerprint(files)
    return {"builder": EARLIER, "fingerprint": fingerprint, "files": files}


def verify(submissions: Path, dataset: Path, pins: Path):
    return run_cli(
        "leaderboard", "verify", str(submissions), "--dataset", str(dataset), "--pins", str(pins)
    )


def test_a_submission_on_an_earlier_build_with_identical_scoring_files_is_accepted(
    submissions, ml100k_build, rebuilt, tmp_path
):
    unlisted = verify(submissions, rebuilt, write_pins(tmp_path, rebuilt, []))
    assert unlisted.returncode == 2
    assert (
        f"rejected {POP}: " in unlisted.stdout and "is not that of ml-100k-iot" in unlisted.stdout
    )
    pins = write_pins(tmp_path, rebuilt, [earlier_build(_file_hashes(ml100k_build))])
    result = verify(submissions, rebuilt, pins)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"accepted {POP}: 943 users, HR@1 0.2121",
        f"accepted {RANDOM}: 943 users, HR@1 0.0392",
    ]


@pytest.mark.parametrize(
    "changed",
    [
        "eval/test-00000-of-00001.parquet",
        "items/catalog-00000-of-00001.parquet",
        "interactions/train-00000-of-00001.parquet",
    ],
)
def test_an_earlier_build_whose_scoring_file_differs_is_rejected(
    changed, submissions, ml100k_build, rebuilt, tmp_path
):
    files = _file_hashes(ml100k_build) | {changed: "0" * 64}
    edited = earlier_build(files)  # consistent with itself: its fingerprint is of these files
    edit_results(
        submissions / POP, lambda r: r["dataset"].update(fingerprint=edited["fingerprint"])
    )
    result = verify(submissions, rebuilt, write_pins(tmp_path, rebuilt, [edited]))
    assert result.returncode == 2
    line = next(line for line in result.stdout.splitlines() if line.startswith(f"rejected {POP}:"))
    assert (
        f"evaluated on {EARLIER}, whose scoring files are not the pinned build's: {changed} "
        "differs (sha256 0000000000000000…"
    ) in line
    assert line.endswith("evaluate on the pinned build of the dataset")


def test_an_earlier_build_whose_files_do_not_hash_to_its_fingerprint_is_refused(
    submissions, ml100k_build, rebuilt, tmp_path
):
    files = _file_hashes(ml100k_build)
    claimed = dataset_fingerprint(files)
    files["eval/test-00000-of-00001.parquet"] = "0" * 64
    pins = write_pins(tmp_path, rebuilt, [earlier_build(files, claimed)])
    result = verify(submissions, rebuilt, pins)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        f"r2rec-bench: error: {pins}: dataset 'ml-100k-iot': `earlier_builds[0].files` hash to "
        f"fingerprint {dataset_fingerprint(files)[:16]}…, not its `fingerprint` {claimed[:16]}…"
    )


@pytest.mark.parametrize(
    ("earlier", "field"),
    [
        ({"builder": EARLIER, "fingerprint": "f" * 64}, "`earlier_builds[0].files` must map"),
        ({"builder": EARLIER, "files": {}}, "`earlier_builds[0].fingerprint` must be 64"),
        ({"fingerprint": "f" * 64, "files": {}}, "`earlier_builds[0].builder` must name"),
    ],
)
def test_a_malformed_earlier_build_is_one_line(earlier, field, rebuilt, tmp_path):
    from r2rec_bench.errors import UserError
    from r2rec_bench.leaderboard.finder import load_pins

    pins = write_pins(tmp_path, rebuilt, [earlier])
    with pytest.raises(UserError) as raised:
        load_pins(pins)
    assert str(raised.value).startswith(f"{pins}: dataset 'ml-100k-iot': {field}")


def test_the_pinned_fingerprint_still_verifies_and_others_are_still_rejected(
    submissions, ml100k_build, rebuilt, tmp_path
):
    pins = write_pins(tmp_path, rebuilt, [earlier_build(_file_hashes(ml100k_build))])
    pinned = json.loads(pins.read_text())[DATASET]["fingerprint"]
    edit_results(submissions / POP, lambda r: r["dataset"].update(fingerprint=pinned))
    edit_results(submissions / RANDOM, lambda r: r["dataset"].update(fingerprint="e" * 64))
    result = verify(submissions, rebuilt, pins)
    assert result.returncode == 2
    assert f"accepted {POP}: 943 users" in result.stdout
    assert (
        f"rejected {RANDOM}: {submissions / RANDOM / 'results.json'}: dataset fingerprint "
        f"eeeeeeeeeeeeeeee… is not that of ml-100k-iot on this leaderboard ({pinned[:16]}…)"
    ) in result.stdout


def test_the_site_marks_an_entry_evaluated_on_an_earlier_build(
    submissions, ml100k_build, rebuilt, tmp_path
):
    pins = write_pins(tmp_path, rebuilt, [earlier_build(_file_hashes(ml100k_build))])
    pinned = json.loads(pins.read_text())[DATASET]["fingerprint"]
    edit_results(submissions / RANDOM, lambda r: r["dataset"].update(fingerprint=pinned))
    site = tmp_path / "site"
    result = run_cli(
        "leaderboard", "build", "--submissions", str(submissions), "--out", str(site),
        "--dataset", str(rebuilt), "--pins", str(pins),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    board = json.loads((site / "leaderboard.json").read_text())["boards"][0]
    assert board["fingerprint"] == pinned
    marks = {entry["name"]: entry["earlier_build"] for entry in board["entries"]}
    assert marks["baseline--random"] is None
    assert marks["baseline--pop"]["builder"] == EARLIER
    assert marks["baseline--pop"]["fingerprint"] == dataset_fingerprint(_file_hashes(ml100k_build))
    assert marks["baseline--pop"]["note"].startswith(NOTE)
    index = (site / "index.html").read_text()
    assert index.count(f'<span class="build-note" title="{NOTE}') == 1
    pop_page = (site / f"entries/{DATASET}/test/baseline--pop.html").read_text()
    random_page = (site / f"entries/{DATASET}/test/baseline--random.html").read_text()
    assert NOTE in pop_page and NOTE not in random_page
    rows = (site / "LEADERBOARD.md").read_text().splitlines()
    assert [row.startswith("| 1 | baseline:pop |") for row in rows if NOTE in row] == [True]
