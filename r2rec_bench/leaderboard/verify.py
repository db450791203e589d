"""Verification by recomputation (DESIGN §11): a submission's figures are accepted only when
its per-sample log, checked against the dataset's gold targets, gives every one of them again.

What is checked, in order, each failure being one reason:

1. the files' layout, names, sizes and JSON shape (:mod:`.submission`);
2. the dataset: the fingerprint in results.json equals that of the dataset it names, or
   that of an earlier build the pin lists whose eval, items and interactions files are
   byte-identical to the pinned files read;
3. the users: exactly the split's users, each once (missing and extra users are counted);
4. each sample: its candidates, target and target index equal the gold; its prompt hash is
   the hash of the dataset's prompt; every output-dependent field (output hash, ranking,
   validity, match, strict format, problems, target rank, hit@1) is what the benchmark's one
   scoring path (task.scoring, shared with the runner) gives for its output or scores;
5. every reported figure: the metrics with their intervals (``summarize_samples`` with the
   reported seed, so the bootstrap draws are the same), the user count, the answer counts
   and, when reported, the faithfulness block and each sample's static faithfulness, rescored;
6. seeds.json, when there: each other seed's rankings give its metrics, and every metric's
   spread across the seeds is what those and the verified run give (leaderboard.seeds).

Nothing random and nothing order-dependent: the same submissions give the same verdicts.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from r2rec_bench.errors import UserError
from r2rec_bench.faithfulness import aggregate, rescore_static
from r2rec_bench.leaderboard.finder import DatasetFinder, Gold
from r2rec_bench.leaderboard.seeds import recomputed_seeds
from r2rec_bench.leaderboard.submission import (
    NEAR_DUPLICATE,
    RESULTS,
    SAMPLES,
    SEEDS,
    Rejected,
    Submission,
    read_submission,
    scan,
    shared_answers,
)
from r2rec_bench.memory import gc_paused
from r2rec_bench.parallel import fork_map
from r2rec_bench.task.dataset import Dataset
from r2rec_bench.task.scoring import score_scores, score_text, summarize_samples

TOLERANCE = 1e-9  # floating-point noise between machines; any real edit is far larger
_RESUBMIT = "submit the files `r2rec-bench evaluate` wrote, unedited"


@dataclass(frozen=True)
class Verdict:
    """One submission's outcome: accepted (``reason`` is None) or rejected with a reason."""

    dataset: str
    name: str
    path: Path
    reason: str | None
    submission: Submission | None = None

    @property
    def accepted(self) -> bool:
        return self.reason is None

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "name": self.name,
            "path": str(self.path),
            "accepted": self.accepted,
            "reason": self.reason,
        }


def _difference(reported, recomputed, where: str) -> str | None:
    """The first field where ``reported`` differs from ``recomputed``, as a phrase; floats
    may differ by :data:`TOLERANCE`."""
    if isinstance(recomputed, dict):
        if not isinstance(reported, dict) or reported.keys() != recomputed.keys():
            keys = sorted(recomputed) if isinstance(recomputed, dict) else recomputed
            return f"`{where}` should have the fields {keys}"
        for key in recomputed:
            found = _difference(reported[key], recomputed[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(recomputed, list):
        if not isinstance(reported, list) or len(reported) != len(recomputed):
            return f"`{where}` should have {len(recomputed)} entries"
        return next(
            (
                found
                for k, (a, b) in enumerate(zip(reported, recomputed, strict=True))
                if (found := _difference(a, b, f"{where}[{k}]"))
            ),
            None,
        )
    if isinstance(recomputed, float) and isinstance(reported, (int, float)):
        if not isinstance(reported, bool) and (
            math.isclose(reported, recomputed, rel_tol=0, abs_tol=TOLERANCE)
            or (math.isnan(reported) and math.isnan(recomputed))
        ):
            return None
    elif reported == recomputed and type(reported) is type(recomputed):
        return None
    return f"`{where}` is {json.dumps(reported)} but the samples give {json.dumps(recomputed)}"


def _check_sample(
    sample: dict, row: int, gold: Gold, mode: str, fuzzy: bool, where: str
) -> tuple[int, bool]:
    """(target rank, valid) of one sample, after checking it against the gold and scoring
    its output again through the benchmark's one scoring path (task.scoring); :class:`Rejected`
    naming the first field that disagrees."""
    example = gold.examples[row]
    request, target_index = example.request, example.gold.target_index
    user = sample["user_id"]
    if (
        sample["index"] != row
        or sample["candidates"] != list(request.candidates)
        or sample["target"] != example.gold.target
        or sample["target_index"] != target_index
    ):
        raise Rejected(
            f"{where}: user {user}: row index, candidates or target differ from the "
            f"dataset's; {_RESUBMIT}"
        )
    if sample["prompt_sha256"] != gold.prompt_sha256[row]:
        raise Rejected(
            f"{where}: user {user}: `prompt_sha256` is not the hash of the dataset's prompt "
            f"(the model saw another prompt); {_RESUBMIT}"
        )
    if mode == "generate":
        if not isinstance(sample["output"], str):
            raise Rejected(f"{where}: user {user}: no `output` text in generate mode; {_RESUBMIT}")
        scored = score_text(sample["output"], request.candidate_titles, target_index, fuzzy=fuzzy)
    else:
        if not isinstance(sample["scores"], list):
            raise Rejected(f"{where}: user {user}: no `scores` in rank mode; {_RESUBMIT}")
        scored = score_scores(sample["scores"], user, request.candidates, target_index)
    recomputed = scored.fields()
    if sample["output_sha256"] != recomputed["output_sha256"]:
        raise Rejected(
            f"{where}: user {user}: `{'output' if mode == 'generate' else 'scores'}` does not "
            f"match its `output_sha256` (an edited sample); {_RESUBMIT}"
        )
    for field, value in recomputed.items():
        if sample[field] != value:
            raise Rejected(
                f"{where}: user {user}: `{field}` is not what the "
                f"{'output parses to' if mode == 'generate' else 'scores rank'} (an edited "
                f"sample); {_RESUBMIT}"
            )
    return scored.target_rank, scored.valid


def _check_users(submission: Submission, gold: Gold, split: str) -> list[int]:
    """Each sample's row in the split; :class:`Rejected` unless every user is there once."""
    path = submission.path / SAMPLES
    seen: dict[str, int] = {}
    rows = []
    extra = 0
    for sample, line in zip(submission.samples, submission.lines, strict=True):
        user = sample["user_id"]
        if user in seen:
            raise Rejected(f"{path}:{line}: user {user} appears twice; {_RESUBMIT}")
        seen[user] = line
        row = gold.row_of.get(user)
        extra += row is None
        rows.append(row)
    missing = len(gold.row_of) - (len(rows) - extra)
    if missing or extra:
        raise Rejected(
            f"{path}: {missing:,} of the {len(gold.row_of):,} users of the {split} split "
            f"missing and {extra:,} users not in it; a submission covers exactly the split's "
            "users (run evaluate without --limit, merge every shard)"
        )
    return rows


def _check_faithfulness(submission: Submission, dataset: Dataset, split: str, seed: int) -> None:
    """The faithfulness block must be what the per-sample values aggregate to, and each
    sample's static values what its output scores again (DESIGN §9)."""

    found = _difference(
        submission.results["faithfulness"], aggregate(submission.samples, seed), "faithfulness"
    )
    if found:
        raise Rejected(f"{submission.path / RESULTS}: {found} (an edited result); {_RESUBMIT}")
    stored = [(s.get("faithfulness") or {}).get("static") for s in submission.samples]
    if all(values is None for values in stored):
        return  # nothing static to rescore (rank mode, or a run without faithfulness)
    rescored = rescore_static(dataset, split, submission.samples, seed)
    for sample, line, values, again in zip(
        submission.samples, submission.lines, stored, rescored, strict=True
    ):
        found = _difference(values, again, "faithfulness.static")
        if found:
            raise Rejected(
                f"{submission.path / SAMPLES}:{line}: user {sample['user_id']}: {found} "
                f"(an edited sample); {_RESUBMIT}"
            )


def _check_build(block: dict, finder: DatasetFinder, results_path: Path) -> None:
    """The build a submission names must be the pinned one, or an earlier build the pin lists
    whose every scoring file is byte-identical to the pinned build's files as read here."""
    pin = finder.pin(block["name"])
    claimed = block["fingerprint"]
    if claimed == pin.fingerprint:
        return
    earlier = pin.earlier_build(claimed)
    if earlier is None:
        raise Rejected(
            f"{results_path}: dataset fingerprint {claimed[:16]}… is not that of "
            f"{block['name']} on this leaderboard ({pin.fingerprint[:16]}…); evaluate on the "
            "pinned build of the dataset"
        )
    differs = earlier.scoring_difference(finder.file_hashes(block))
    if differs:
        raise Rejected(
            f"{results_path}: evaluated on {earlier.builder}, whose scoring files are not the "
            f"pinned build's: {differs}; evaluate on the pinned build of the dataset"
        )


def verify_submission(submission: Submission, finder: DatasetFinder) -> None:
    """Recompute every figure of ``submission``; :class:`Rejected` with the first reason."""
    results = submission.results
    results_path = submission.path / RESULTS
    split, mode = results["split"], results["mode"]
    _check_build(results["dataset"], finder, results_path)
    dataset = finder.dataset(results["dataset"])
    gold = finder.gold(dataset, split)
    rows = _check_users(submission, gold, split)
    fuzzy = bool(results["parser"].get("fuzzy"))
    samples_path = str(submission.path / SAMPLES)
    for sample, line, row in zip(submission.samples, submission.lines, rows, strict=True):
        _check_sample(sample, row, gold, mode, fuzzy, f"{samples_path}:{line}")
    # The samples now hold exactly what scoring gives, so their figures are the recomputed ones.
    summary = summarize_samples(submission.samples, results["seed"])
    for field in ("n_users", "metrics", "interval", "answers"):
        recomputed = summary[field]
        found = _difference(results[field], recomputed, field)
        if found:
            raise Rejected(f"{results_path}: {found} (an edited result); {_RESUBMIT}")
    _check_faithfulness(submission, dataset, split, results["seed"])
    if submission.seeds is not None:
        found = _difference(submission.seeds, recomputed_seeds(submission), "seeds")
        if found:
            raise Rejected(f"{submission.path / SEEDS}: {found} (an edited file); {_RESUBMIT}")


def verify_folder(folder: Path, finder: DatasetFinder, name: str | None = None) -> Verdict:
    """Read and verify one submission folder (an evaluate output directory works too)."""
    folder = Path(folder)
    dataset = folder.parent.name
    try:
        with gc_paused():
            submission = read_submission(folder, name)
            verify_submission(submission, finder)
    except Rejected as exc:
        return Verdict(dataset, name or folder.name, folder, str(exc))
    return Verdict(submission.dataset_name, submission.name, folder, None, submission)


def _near_duplicate_of(
    submission: Submission, accepted: list[Submission]
) -> tuple[Submission, float] | None:
    """The accepted submission on the same board this one nearly copies, and the share of
    users they answered byte-identically; None when it copies none."""
    for other in accepted:
        same_board = (other.dataset_name, other.results["split"]) == (
            submission.dataset_name,
            submission.results["split"],
        )
        share = shared_answers(submission.answers, other.answers) if same_board else 0.0
        if share >= NEAR_DUPLICATE:
            return other, share
    return None


def verify_tree(root: Path, finder: DatasetFinder, jobs: int | None = None) -> list[Verdict]:
    """Verify every submission under a submissions root, in sorted order, in ``jobs``
    processes (default: one per available CPU).

    A submission must sit under the folder of the dataset it names; one that answers at least
    :data:`NEAR_DUPLICATE` of its users byte-identically to an accepted submission on the same
    dataset is a duplicate (one changed byte does not make a copy new).
    """
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder; pass a submissions folder")
    slots = scan(root)
    checked = iter(_verify_folders([s.path for s in slots if not s.problem], finder, jobs))
    verdicts = []
    accepted: list[Submission] = []
    for slot in slots:
        if slot.problem:
            verdicts.append(Verdict(slot.dataset, slot.name, slot.path, slot.problem))
            continue
        verdict = next(checked)
        if verdict.accepted:
            submission = verdict.submission
            duplicate = _near_duplicate_of(submission, accepted)
            if submission.dataset_name != slot.dataset:
                verdict = Verdict(
                    slot.dataset,
                    slot.name,
                    slot.path,
                    f"{slot.path}: filed under {slot.dataset}/ but results.json is on dataset "
                    f"{submission.dataset_name}; move it to {submission.dataset_name}/",
                )
            elif duplicate is not None:
                original, share = duplicate
                verdict = Verdict(
                    slot.dataset,
                    slot.name,
                    slot.path,
                    f"{slot.path}: a duplicate of {original.dataset_name}/{original.name} "
                    f"({share:.1%} of the users answered byte-identically); remove one",
                )
            else:
                accepted.append(submission)
        verdicts.append(verdict)
    return verdicts


def _verify_folders(folders: list[Path], finder: DatasetFinder, jobs: int | None) -> list[Verdict]:
    """:func:`verify_folder` on each folder, in order, one process per CPU (each submission
    is independent of the others)."""
    finder.prime(folders)
    return fork_map(lambda k: verify_folder(folders[k], finder), len(folders), jobs)
