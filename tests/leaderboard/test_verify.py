"""`r2rec-bench leaderboard verify` through the console script: every real submission is
accepted, every kind of tampering is rejected with its reason, and verdicts are deterministic."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from r2rec_bench.leaderboard.submission import MAX_BYTES
from tests.conftest import REPO, run_cli
from tests.leaderboard.conftest import DATASET, edit_results, read_samples, write_samples

POP = f"{DATASET}/baseline--pop"


def verify(root: Path, dataset: Path, *extra: str):
    return run_cli("leaderboard", "verify", str(root), "--dataset", str(dataset), *extra)


def rejection(result, name: str = POP) -> str:
    """The reason printed for ``name``, after checking the exit code and the summary."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "submissions rejected" in result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith(f"rejected {name}:")]
    assert len(lines) == 1, result.stdout
    return lines[0]


def test_real_submissions_are_accepted(submissions, ml100k_build):
    result = verify(submissions, ml100k_build)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"accepted {POP}: 943 users, HR@1 0.2121",
        f"accepted {DATASET}/baseline--random: 943 users, HR@1 0.0392",
    ]


def test_one_evaluate_folder_verifies(evaluated, ml100k_build):
    result = verify(evaluated["pop"], ml100k_build)  # run.json beside it is fine here
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("accepted ")


def test_verification_is_deterministic(submissions, ml100k_build):
    folder = submissions / POP
    samples = read_samples(folder)
    samples[3]["target_rank"] += 1
    write_samples(folder, samples)
    first = verify(submissions, ml100k_build, "--json")
    second = verify(submissions, ml100k_build, "--json")
    assert first.returncode == second.returncode == 2
    assert first.stdout == second.stdout
    report = json.loads(first.stdout)
    assert [v["accepted"] for v in report["verdicts"]] == [False, True]


def _change_metric(folder: Path) -> None:
    edit_results(
        folder, lambda r: r["metrics"]["hr@1"].update(value=r["metrics"]["hr@1"]["value"] + 0.01)
    )


def _change_interval(folder: Path) -> None:
    edit_results(folder, lambda r: r["metrics"]["mrr"].update(ci_high=0.99))


def _change_answer_count(folder: Path) -> None:
    edit_results(folder, lambda r: r["answers"].update(valid=r["answers"]["valid"] - 1))


def _edit_output(folder: Path) -> None:
    samples = read_samples(folder)
    samples[0]["output"] = samples[0]["output"].replace("<answer>", "<answer>Toy Story (1995)\n")
    write_samples(folder, samples)


def _edit_output_and_hash(folder: Path) -> None:
    """An output made to hit, its hash recomputed, the stored ranking left as it was."""
    samples = read_samples(folder)
    sample = samples[0]
    sample["output"] = "<think>\n</think>\n<answer>Something else entirely</answer>"
    sample["output_sha256"] = hashlib.sha256(sample["output"].encode()).hexdigest()
    write_samples(folder, samples)


def _edit_ranking(folder: Path) -> None:
    """A miss turned into a hit: ranking, rank and hit@1 consistent with each other."""
    samples = read_samples(folder)
    sample = next(s for s in samples if s["target_rank"] > 1)
    sample["ranking"].remove(sample["target_index"])
    sample["ranking"].insert(0, sample["target_index"])
    sample.update({"target_rank": 1, "hit@1": True})
    write_samples(folder, samples)


def _another_prompt(folder: Path) -> None:
    """A run made with another prompt than the dataset's, every other field consistent."""
    samples = read_samples(folder)
    samples[2]["prompt_sha256"] = hashlib.sha256(b"a prompt of my own").hexdigest()
    write_samples(folder, samples)


def _change_target(folder: Path) -> None:
    samples = read_samples(folder)
    samples[5]["target_index"] = (samples[5]["target_index"] + 1) % 20
    write_samples(folder, samples)


def _wrong_fingerprint(folder: Path) -> None:
    edit_results(folder, lambda r: r["dataset"].update(fingerprint="0" * 64))


def _missing_users(folder: Path) -> None:
    write_samples(folder, read_samples(folder)[:-5])


def _extra_users(folder: Path) -> None:
    samples = read_samples(folder)
    write_samples(folder, [*samples, {**samples[0], "user_id": "stranger"}])


def _user_twice(folder: Path) -> None:
    samples = read_samples(folder)
    write_samples(folder, [*samples, samples[0]])


def _oversized_results(folder: Path) -> None:
    edit_results(folder, lambda r: r.update(padding="x" * MAX_BYTES["results.json"]))


def _non_json_results(folder: Path) -> None:
    (folder / "results.json").write_bytes(b"\x89PNG\r\n\x1a\n not json")


def _non_json_sample(folder: Path) -> None:
    lines = (folder / "samples.jsonl").read_text().splitlines()
    lines[2] = "{not json"
    (folder / "samples.jsonl").write_text("\n".join(lines) + "\n")


def _missing_field(folder: Path) -> None:
    edit_results(folder, lambda r: r.pop("seed"))


def _deeply_nested(folder: Path) -> None:
    (folder / "results.json").write_text('{"a":' * 100_000 + "1" + "}" * 100_000)


def _deeply_nested_sample(folder: Path) -> None:
    lines = (folder / "samples.jsonl").read_text().splitlines()
    lines[3] = '{"a":' * 200_000 + "1" + "}" * 200_000
    (folder / "samples.jsonl").write_text("\n".join(lines) + "\n")


def _two_samples_on_one_line(folder: Path) -> None:
    lines = (folder / "samples.jsonl").read_text().splitlines()
    lines[1:3] = [lines[1] + "," + lines[2]]
    (folder / "samples.jsonl").write_text("\n".join(lines) + "\n")


def _sample_field_mistyped(folder: Path) -> None:
    samples = read_samples(folder)
    samples[6]["target_rank"] = "1"
    write_samples(folder, samples)


def _negative_seed(folder: Path) -> None:
    edit_results(folder, lambda r: r.update(seed=-1))


def _faithfulness_not_a_block(folder: Path) -> None:
    edit_results(folder, lambda r: r.update(faithfulness="oops"))


def _unsafe_dataset_name(folder: Path) -> None:
    edit_results(folder, lambda r: r["dataset"].update(name="../../etc"))


def _extra_file(folder: Path) -> None:
    (folder / "run.sh").write_text("echo hi\n")


def _linked_results(folder: Path) -> None:
    outside = folder.parent.parent.parent / "outside.json"
    shutil.move(folder / "results.json", outside)
    os.symlink(outside, folder / "results.json")


TAMPERING = {
    "changed metric": (_change_metric, "`metrics.hr@1.value` is 0.222"),
    "changed interval": (_change_interval, "`metrics.mrr.ci_high` is 0.99 but the samples give"),
    "changed answer count": (
        _change_answer_count,
        "`answers.valid` is 942 but the samples give 943",
    ),
    "edited output": (
        _edit_output,
        "samples.jsonl:1: user 1: `output` does not match its `output_sha256`",
    ),
    "edited output, rehashed": (
        _edit_output_and_hash,
        "samples.jsonl:1: user 1: `ranking` is not what the output parses to",
    ),
    "edited ranking": (
        _edit_ranking,
        "`ranking` is not what the output parses to",
    ),
    "another prompt": (
        _another_prompt,
        "samples.jsonl:3: user 3: `prompt_sha256` is not the hash of the dataset's prompt",
    ),
    "changed target": (
        _change_target,
        "samples.jsonl:6: user 6: row index, candidates or target differ",
    ),
    "wrong fingerprint": (
        _wrong_fingerprint,
        "dataset fingerprint 0000000000000000… is not that of ml-100k-iot",
    ),
    "missing users": (
        _missing_users,
        "5 of the 943 users of the test split missing and 0 users not in it",
    ),
    "extra users": (
        _extra_users,
        "0 of the 943 users of the test split missing and 1 users not in it",
    ),
    "user twice": (_user_twice, "samples.jsonl:944: user 1 appears twice"),
    "oversized file": (_oversized_results, "bytes, over the limit of 1,048,576"),
    "non-JSON results": (_non_json_results, "results.json: not valid JSON ("),
    "non-JSON sample": (_non_json_sample, "samples.jsonl:3: not a sample (not valid JSON ("),
    "two samples on one line": (
        _two_samples_on_one_line,
        "samples.jsonl:2: not a sample (not valid JSON (trailing characters",
    ),
    "a sample's field mistyped": (
        _sample_field_mistyped,
        "samples.jsonl:7: not a sample (field `target_rank`: Input should be a valid integer",
    ),
    "missing field": (_missing_field, "results.json: field `seed`: Field required"),
    "results nested 100,000 deep": (
        _deeply_nested,
        "results.json: not valid JSON (recursion limit exceeded",
    ),
    "a sample nested 200,000 deep": (
        _deeply_nested_sample,
        "samples.jsonl:4: not a sample (not valid JSON (recursion limit exceeded",
    ),
    "negative seed": (_negative_seed, "field `seed`: Input should be greater than or equal to 0"),
    "faithfulness not a block": (_faithfulness_not_a_block, "field `faithfulness`: Input should"),
    "name escaping via results": (
        _unsafe_dataset_name,
        "dataset name '../../etc' is not a safe folder name",
    ),
    "extra file": (_extra_file, "unexpected file 'run.sh'"),
    "link out of the folder": (_linked_results, "results.json: missing or not a plain file"),
}


@pytest.mark.parametrize("kind", TAMPERING)
def test_tampering_is_rejected_with_its_reason(kind, submissions, ml100k_build):
    tamper, reason = TAMPERING[kind]
    tamper(submissions / POP)
    result = verify(submissions, ml100k_build)
    line = rejection(result)
    assert reason in line, line
    assert f"accepted {DATASET}/baseline--random" in result.stdout  # the others still pass


def test_duplicate_is_rejected(submissions, ml100k_build):
    shutil.copytree(submissions / POP, submissions / DATASET / "pop-again")
    line = rejection(verify(submissions, ml100k_build), f"{DATASET}/pop-again")
    assert f"a duplicate of {POP} (100.0% of the users answered byte-identically)" in line


def test_a_copy_with_one_byte_changed_is_still_a_duplicate(submissions, ml100k_build):
    copy = submissions / DATASET / "pop-again"
    shutil.copytree(submissions / POP, copy)
    samples = read_samples(copy)
    samples[0]["output"] += "\n"  # after </answer>: the answer and every figure stay the same
    samples[0]["output_sha256"] = hashlib.sha256(samples[0]["output"].encode()).hexdigest()
    write_samples(copy, samples)
    line = rejection(verify(submissions, ml100k_build), f"{DATASET}/pop-again")
    assert f"a duplicate of {POP} (99.9% of the users answered byte-identically)" in line


def test_misfiled_submission_is_rejected(submissions, ml100k_build):
    (submissions / "ml-1m-iot").mkdir()
    shutil.move(submissions / POP, submissions / "ml-1m-iot" / "baseline--pop")
    line = rejection(verify(submissions, ml100k_build), "ml-1m-iot/baseline--pop")
    assert "filed under ml-1m-iot/ but results.json is on dataset ml-100k-iot" in line


@pytest.mark.parametrize("name", ["-rm", "a b", "x;y", "über", "a..b"])
def test_unsafe_folder_names_are_rejected(name, submissions, ml100k_build):
    shutil.move(submissions / POP, submissions / DATASET / name)
    line = rejection(verify(submissions, ml100k_build), f"{DATASET}/{name}")
    assert "is not a safe folder name" in line


def test_linked_submission_folder_is_rejected(submissions, ml100k_build, evaluated):
    os.symlink(evaluated["pop"], submissions / DATASET / "linked")
    line = rejection(verify(submissions, ml100k_build), f"{DATASET}/linked")
    assert "not a folder" in line


def test_a_dataset_that_cannot_be_found_is_one_line(submissions, tmp_path):
    pins = tmp_path / "pins.json"
    shutil.copyfile(REPO / "leaderboard" / "datasets.json", pins)
    edited = json.loads(pins.read_text())
    edited[DATASET]["hub_repo"] = None  # nowhere to fetch it from, and no out/ here
    pins.write_text(json.dumps(edited))
    result = run_cli("leaderboard", "verify", str(submissions), "--pins", str(pins), cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("r2rec-bench: error: dataset ml-100k-iot: not at out/ml-100k-iot")
    assert line.endswith("pass --dataset DIR_OR_HUB_ID")


def test_without_the_pins_file_nothing_is_verified(submissions, tmp_path):
    result = run_cli("leaderboard", "verify", str(submissions), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "r2rec-bench: error: leaderboard/datasets.json: no such file; the leaderboard's pinned "
        "datasets are needed (pass --pins)"
    ]


def test_the_gold_never_comes_from_where_a_submission_says(submissions, ml100k_build):
    # A forged entry naming another "copy" of the dataset on the Hub, first in sort order.
    forged = submissions / DATASET / "aaa-forged"
    shutil.copytree(submissions / POP, forged)
    fake = {"id": "attacker/fake-gold", "source": "hub", "hub_repo": "attacker/fake-gold",
            "revision": "0" * 40, "fingerprint": "f" * 64}  # fmt: skip
    edit_results(forged, lambda r: r["dataset"].update(fake))
    result = verify(submissions, ml100k_build)
    line = rejection(result, f"{DATASET}/aaa-forged")
    assert "dataset fingerprint ffffffffffffffff… is not that of ml-100k-iot on this " in line
    # Every other submission is resolved on its own, against the pinned build.
    assert (
        f"accepted {POP}" in result.stdout
        and f"accepted {DATASET}/baseline--random" in result.stdout
    )
    # The right fingerprint with a false location: the location is ignored, the pin is used.
    edit_results(forged, lambda r: r["dataset"].update(fingerprint=_pinned()))
    shutil.rmtree(submissions / POP)  # not a duplicate any more
    assert f"accepted {DATASET}/aaa-forged" in verify(submissions, ml100k_build).stdout


def _pinned() -> str:
    pins = json.loads((REPO / "leaderboard" / "datasets.json").read_text())
    return pins[DATASET]["fingerprint"]


def test_a_dataset_the_leaderboard_does_not_pin_is_rejected(submissions, ml100k_build):
    edit_results(submissions / POP, lambda r: r["dataset"].update(name="ml-1m-iot"))
    (submissions / "ml-1m-iot").mkdir()
    shutil.move(submissions / POP, submissions / "ml-1m-iot" / "baseline--pop")
    line = rejection(verify(submissions, ml100k_build), "ml-1m-iot/baseline--pop")
    assert "dataset 'ml-1m-iot' is not on this leaderboard" in line


def test_the_pinned_fingerprint_is_recomputed_from_the_files(submissions, ml100k_build, tmp_path):
    # A copy whose sft file was altered and its manifest entry rewritten to match: the
    # manifest's own fingerprint still claims the pinned build, the files do not.
    copy = tmp_path / "altered"
    shutil.copytree(ml100k_build, copy)
    manifest = json.loads((copy / "MANIFEST.json").read_text())
    relative = next(path for path in manifest["files"] if path.startswith("sft/train"))
    with open(copy / relative, "ab") as handle:
        handle.write(b"\0")
    digest = hashlib.sha256((copy / relative).read_bytes()).hexdigest()
    manifest["files"][relative]["sha256"] = digest
    (copy / "MANIFEST.json").write_text(json.dumps(manifest))
    result = verify(submissions, copy)
    assert result.returncode == 2
    assert "its files have fingerprint" in result.stderr and "not the pinned" in result.stderr


def test_seeded_submissions_are_accepted(ml100k_build):
    """Every seeded submission (each baseline, reference recommender and zero-shot real LLM)
    verifies against the real build."""
    seeded = REPO / "leaderboard" / "submissions"
    names = {path.name for path in (seeded / "ml-100k-iot").iterdir()}
    baselines = ("random", "pop", "itemknn", "bpr", "lightgcn", "sasrec", "gru4rec")
    references = ("oracle", "rationalizer", "hallucinator")
    llms = {"smollm2-135m-instruct", "smollm2-135m-instruct--rank"}
    assert names >= {f"baseline--{b}" for b in baselines} | {f"ref--{r}" for r in references} | llms
    result = verify(seeded, ml100k_build)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(names) and all(line.startswith("accepted ") for line in lines)


def test_reproduce_runs_the_model_again_and_catches_rewritten_answers(
    submissions, ml100k_build, tmp_path
):
    from r2rec_bench.faithfulness import aggregate
    from r2rec_bench.task.scoring import score_text, summarize_samples

    honest = run_cli("leaderboard", "reproduce", str(submissions / POP), "--dataset",
                     str(ml100k_build), "--limit", "40", "--quiet")  # fmt: skip
    assert honest.returncode == 0, honest.stderr
    assert "reproduced: 40 of 40 users answered identically, 40 with the same target rank" in (
        honest.stdout
    )
    # The same run with its first 40 answers rewritten to put the target first, every hash
    # and figure recomputed: verification accepts it (it cannot know), reproduction does not.
    forged = submissions / POP
    samples = read_samples(forged)
    already_first = sum(sample["target_rank"] == 1 for sample in samples[:40])
    for sample in samples[:40]:
        titles = sample["output"].split("<answer>")[1].split("</answer>")[0].splitlines()
        target = titles.pop(sample["ranking"].index(sample["target_index"]))
        sample["output"] = (
            "<think>\n</think>\n<answer>" + "\n".join([target, *titles]) + "</answer>"
        )
        sample.update(
            score_text(
                sample["output"],
                titles[:0] or _candidate_titles(sample, ml100k_build),
                sample["target_index"],
            ).fields()
        )
    write_samples(forged, samples)
    summary = summarize_samples(samples, 0)

    def refresh(results: dict) -> None:
        results.update({key: summary[key] for key in ("n_users", "metrics", "interval", "answers")})
        results["faithfulness"] = aggregate(samples, results["seed"])

    edit_results(forged, refresh)
    assert f"accepted {POP}" in verify(submissions, ml100k_build).stdout
    caught = run_cli("leaderboard", "reproduce", str(forged), "--dataset", str(ml100k_build),
                     "--limit", "40", "--quiet")  # fmt: skip
    assert caught.returncode == 1
    # Only the users whose target the model ranked first anyway answer the same.
    assert (
        f"NOT reproduced: {already_first} of 40 users answered identically, {already_first} "
        "with the same target rank"
    ) in caught.stdout
    assert "HR@1 1.0000 submitted" in caught.stdout


def _candidate_titles(sample: dict, dataset: Path) -> list[str]:
    from r2rec_bench.task.dataset import open_dataset

    (example,) = open_dataset(dataset).split("test").examples([sample["index"]])
    return example.request.candidate_titles
