"""Builds are byte-deterministic and independent of the raw file's form and row order."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from r2rec_bench.build import build
from r2rec_bench.hashing import sha256_file
from r2rec_bench.sources.movielens import ML100K_GENRES


def parquet_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*.parquet"))}


def all_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_two_builds_are_byte_identical(ml100k_raw, ml100k_build, tmp_path):
    again, _ = build("ml-100k-iot", out=tmp_path / "again", raw_dir=ml100k_raw, quiet=True)
    assert all_hashes(again) == all_hashes(ml100k_build)
    assert len(parquet_hashes(again)) == 7  # items, interactions, eval x2, sft x2, rl


def test_shuffling_the_raw_rows_changes_nothing(raw_copy, ml100k_build, tmp_path):
    rng = random.Random(7)
    for name in ("ml-100k.inter", "ml-100k.item"):
        header, *rows = (raw_copy / name).read_text(encoding="utf-8").splitlines(keepends=True)
        rng.shuffle(rows)
        (raw_copy / name).write_text(header + "".join(rows), encoding="utf-8")
    shuffled, _ = build("ml-100k-iot", out=tmp_path / "shuffled", raw_dir=raw_copy, quiet=True)
    assert parquet_hashes(shuffled) == parquet_hashes(ml100k_build)


def test_another_seed_changes_the_candidates_only(ml100k_raw, ml100k_build, tmp_path):
    other, manifest = build(
        "ml-100k-iot", out=tmp_path / "seed1", raw_dir=ml100k_raw, seed=1, quiet=True
    )
    assert manifest["protocol"]["seed"] == 1
    for split in ("test", "validation"):
        path = f"eval/{split}-00000-of-00001.parquet"
        before, after = pq.read_table(ml100k_build / path), pq.read_table(other / path)
        assert before.column("target").equals(after.column("target"))
        assert before.column("history").equals(after.column("history"))
        changed = sum(
            a != b
            for a, b in zip(
                before.column("candidates").to_pylist(),
                after.column("candidates").to_pylist(),
                strict=True,
            )
        )
        assert changed > 900
    same = "interactions/train-00000-of-00001.parquet"
    assert sha256_file(ml100k_build / same) == sha256_file(other / same)


def write_grouplens_files(recbole_dir: Path, target: Path) -> None:
    """Write the same ratings and movies in GroupLens' exact ml-100k format: ``u.data``
    (tab-separated) and ``u.item`` (pipe-separated, latin-1, title with year, 19 flags)."""
    target.mkdir()
    inter = (recbole_dir / "ml-100k.inter").read_text(encoding="utf-8").splitlines()[1:]
    with open(target / "u.data", "w", encoding="latin-1", newline="") as handle:
        for line in inter:
            user, item, rating, timestamp = line.split("\t")
            handle.write(f"{user}\t{item}\t{int(float(rating))}\t{int(float(timestamp))}\n")
    items = (recbole_dir / "ml-100k.item").read_text(encoding="utf-8").splitlines()[1:]
    with open(target / "u.item", "w", encoding="latin-1", newline="") as handle:
        for line in items:
            item, title, year, classes = line.split("\t")
            dated = f"{title} ({year})" if year.isdigit() else title
            release = f"01-Jan-{year}" if year.isdigit() else ""
            url = f"http://us.imdb.com/M/title-exact?{dated.replace(' ', '%20')}" if release else ""
            genres = set(classes.split(" "))
            flags = "|".join("1" if g in genres else "0" for g in ML100K_GENRES)
            handle.write(f"{item}|{dated}|{release}||{url}|{flags}\n")


def test_grouplens_and_recbole_files_give_identical_splits(ml100k_raw, ml100k_build, tmp_path):
    grouplens = tmp_path / "grouplens"
    write_grouplens_files(ml100k_raw, grouplens)
    built, manifest = build("ml-100k-iot", out=tmp_path / "gl", raw_dir=grouplens, quiet=True)
    assert manifest["source"]["format"] == "movielens-100k/grouplens"
    assert parquet_hashes(built) == parquet_hashes(ml100k_build)


def test_an_output_folder_holding_other_files_is_refused_and_kept(ml100k_raw, raw_copy, tmp_path):
    from tests.conftest import run_cli

    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "thesis.txt").write_text("x")
    result = run_cli("build", "--raw-dir", str(ml100k_raw), "--out", str(folder), "--quiet")
    assert result.returncode == 2 and "not a dataset written by r2rec-bench" in result.stderr
    assert (folder / "thesis.txt").read_text() == "x" and len(list(folder.iterdir())) == 1
    # The raw folder itself, or a folder holding it, is never an output.
    for out in (raw_copy, raw_copy.parent):
        result = run_cli("build", "--raw-dir", str(raw_copy), "--out", str(out), "--quiet")
        assert result.returncode == 2 and "holds the raw files" in result.stderr
    assert sorted(p.name for p in raw_copy.iterdir()) == sorted(
        p.name for p in ml100k_raw.iterdir()
    )
    site = tmp_path / "site"
    site.mkdir()
    (site / "notes.md").write_text("mine")
    result = run_cli("leaderboard", "build", "--out", str(site), "--quiet")
    assert result.returncode == 2 and "not a leaderboard site written by" in result.stderr
    assert (site / "notes.md").read_text() == "mine"


def test_staging_left_by_a_killed_build_is_cleaned_on_the_next(ml100k_raw, tmp_path):
    import os

    from tests.conftest import run_cli

    out = tmp_path / "ml"
    dead = tmp_path / ".ml.tmp-999999999-abcd"  # no such process
    alive = tmp_path / f".ml.tmp-{os.getpid()}-efgh"  # this test's own process
    for folder in (dead, alive):
        folder.mkdir()
        (folder / "half-written.parquet").write_bytes(b"x")
    result = run_cli("build", "--raw-dir", str(ml100k_raw), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert not dead.exists() and alive.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, "ml"])


def test_an_item_listed_twice_in_the_catalog_is_an_error_naming_both(raw_copy, tmp_path):
    from tests.conftest import run_cli

    item_file = next(raw_copy.glob("*.item"))
    lines = item_file.read_text(encoding="utf-8").splitlines()
    lines.append(lines[2].replace("GoldenEye", "GoldenEye, a second title"))  # item 2 again
    item_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (raw_copy / "SHA256SUMS").unlink(missing_ok=True)  # an edited copy: no recorded sums
    result = run_cli("build", "--raw-dir", str(raw_copy), "--out", str(tmp_path / "o"), "--quiet")
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "item id '2' is listed twice in the catalog (entries 2 and 1,683)" in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("column", ["user", "timestamp"])
def test_an_absurdly_long_field_is_one_short_line(raw_copy, tmp_path, column):
    """20 MB in one field: as a user id it once made numpy ask for tens of GB; as a timestamp
    it was echoed whole into the error message."""
    from tests.conftest import run_cli

    inter = next(raw_copy.glob("*.inter"))
    lines = inter.read_text(encoding="utf-8").splitlines()
    user, item, rating, stamp = lines[1].split("\t")
    huge = "9" * 20_000_000 + "x"
    fields = [huge, item, rating, stamp] if column == "user" else [user, item, rating, huge]
    lines.insert(1, "\t".join(fields))
    inter.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (raw_copy / "SHA256SUMS").unlink(missing_ok=True)
    result = run_cli("build", "--raw-dir", str(raw_copy), "--out", str(tmp_path / "o"), "--quiet")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert len(line) < 400, line[:400]
    if column == "user":
        assert "a user id of 20,000,001 characters" in line
    else:
        assert ":2: field 'timestamp' is '9999" in line


def _one_line_error(args: list[str]) -> str:
    from tests.conftest import run_cli

    result = run_cli(*args)
    assert result.returncode == 2, result.stderr[-800:]
    (line,) = result.stderr.strip().splitlines()
    return line


def test_os_errors_on_raw_files_are_one_line(raw_copy, tmp_path):
    out = str(tmp_path / "o")
    item = next(raw_copy.glob("*.item"))
    original = item.read_bytes()
    item.write_bytes(b"\xff\xfe" + original)  # not UTF-8
    (raw_copy / "SHA256SUMS").unlink(missing_ok=True)
    line = _one_line_error(["build", "--raw-dir", str(raw_copy), "--out", out, "--quiet"])
    assert f"{item}:1: byte 0 is not valid UTF-8" in line
    item.unlink()
    item.mkdir()  # unreadable: a folder where the file should be
    line = _one_line_error(["build", "--raw-dir", str(raw_copy), "--out", out, "--quiet"])
    assert f"{raw_copy}: missing file {item.name}" in line


def test_an_unwritable_out_fails_before_the_work(ml100k_raw, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = blocker / "dataset"
    line = _one_line_error(["build", "--raw-dir", str(ml100k_raw), "--out", str(out), "--quiet"])
    assert line == (
        f"r2rec-bench: error: --out {out}: {blocker} is not a folder this process can write "
        "to; choose another output folder"
    )
