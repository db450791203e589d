"""Verification by recomputation (DESIGN §11): a submission's figures are accepted only when
its per-sample log, checked against the dataset's gold targets, gives every one of them again.

What is checked, in order, each failure being one reason:

1. the files' layout, names, sizes and JSON shape (:mod:`.submission`);
2. the dataset: the fingerprint in results.json equals that of the dataset it names;
3. the users: exactly the split's users, each once (missing and extra users are counted);
4. each sample: its candidates, target and target index equal the gold; its output hash
   equals the hash of its output; its ranking, validity and match are what the harness's
   parser makes of the output again (``generate``) or what its scores rank (``rank``); its
   target rank and hit@1 follow from that ranking;
5. every reported figure: the metrics with their intervals (``summarize`` with the reported
   seed, so the bootstrap draws are the same), the user count, the answer counts and, when
   reported, the faithfulness block and each sample's static faithfulness, rescored.

Nothing random and nothing order-dependent: the same submissions give the same verdicts.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from r2rec_bench.errors import UserError
from r2rec_bench.harness.data import SPLITS, EvalDataset
from r2rec_bench.leaderboard.submission import (
    RESULTS,
    SAMPLES,
    Rejected,
    Submission,
    read_submission,
    scan,
)

TOLERANCE = 1e-9  # floating-point noise between machines; any real edit is far larger
MODES = ("generate", "rank")
_RESUBMIT = "submit the files `r2rec-bench evaluate` wrote, unedited"


@dataclass(frozen=True)
class Gold:
    """A split's fixed candidates and targets, indexed by user."""

    row_of: dict[str, int]
    candidates: list[list[str]]
    titles: list[list[str]]
    targets: list[str]
    target_titles: list[str]
    target_index: list[int]


class DatasetFinder:
    """Locates the dataset a results.json names and reads its gold targets once per split.

    Where it looks, first match wins: the ``--dataset`` targets given (by dataset name),
    ``out/<name>`` (where ``r2rec-bench build`` writes), then the dataset's Hub repo.
    """

    def __init__(self, targets: list[str] | None = None) -> None:
        from r2rec_bench.harness.data import open_dataset

        self._datasets: dict[str, EvalDataset] = {}
        for target in targets or []:
            dataset = open_dataset(target)
            self._datasets[dataset.name] = dataset
        self._gold: dict[tuple[str, str], Gold] = {}

    def dataset(self, block: dict) -> EvalDataset:
        from r2rec_bench.harness.data import open_dataset

        name = block["name"]
        if name not in self._datasets:
            local = Path("out") / name
            hub_id = block["id"] if block.get("source") == "hub" else block.get("hub_repo")
            target = local if (local / "MANIFEST.json").is_file() else hub_id
            if not isinstance(target, (str, Path)):
                raise UserError(
                    f"dataset {name}: not at {local} and no Hub repo is named for it; pass "
                    "--dataset DIR_OR_HUB_ID"
                )
            try:
                self._datasets[name] = open_dataset(target)
            except UserError as exc:
                raise UserError(
                    f"dataset {name}: not at {local}, and {exc}; pass --dataset DIR_OR_HUB_ID"
                ) from None
        return self._datasets[name]

    def gold(self, dataset: EvalDataset, split: str) -> Gold:
        key = (dataset.fingerprint, split)
        if key not in self._gold:
            eval_split = dataset.split(split)
            examples = eval_split.examples(range(len(eval_split)))
            self._gold[key] = Gold(
                row_of={e.request.user_id: e.index for e in examples},
                candidates=[list(e.request.candidates) for e in examples],
                titles=[list(e.request.candidate_titles) for e in examples],
                targets=[e.gold.target for e in examples],
                target_titles=[e.gold.target_title for e in examples],
                target_index=[e.gold.target_index for e in examples],
            )
        return self._gold[key]


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
    if isinstance(recomputed, float) and isinstance(reported, (int, float)):
        if not isinstance(reported, bool) and (
            math.isclose(reported, recomputed, rel_tol=0, abs_tol=TOLERANCE)
            or (math.isnan(reported) and math.isnan(recomputed))
        ):
            return None
    elif reported == recomputed and type(reported) is type(recomputed):
        return None
    return f"`{where}` is {json.dumps(reported)} but the samples give {json.dumps(recomputed)}"


def _ranking_from_scores(scores: list[float], target_index: int) -> list[int]:
    # The harness's order: higher score first; the target after the candidates it ties with.
    return sorted(range(len(scores)), key=lambda j: (-scores[j], j == target_index, j))


def _rank_of_target(ranking: list, target_index: int) -> int:
    return ranking.index(target_index) + 1 if target_index in ranking else 0


def _check_sample(
    sample: dict, row: int, gold: Gold, mode: str, fuzzy: bool, where: str
) -> tuple[int, bool]:
    """(target rank, valid) of one sample, after checking it against the gold and its own
    output; :class:`Rejected` naming the first field that disagrees."""
    from r2rec_bench.harness.parser import parse_answer
    from r2rec_bench.hashing import sha256_text

    target_index = gold.target_index[row]
    if (
        sample.get("index") != row
        or sample.get("candidates") != gold.candidates[row]
        or sample.get("target") != gold.targets[row]
        or sample.get("target_index") != target_index
    ):
        raise Rejected(
            f"{where}: user {sample['user_id']}: row index, candidates or target differ "
            f"from the dataset's; {_RESUBMIT}"
        )
    ranking, valid = sample.get("ranking"), sample.get("valid")
    if mode == "generate":
        output = sample.get("output")
        if not isinstance(output, str) or sample.get("output_sha256") != sha256_text(output):
            raise Rejected(
                f"{where}: user {sample['user_id']}: `output` does not match its "
                f"`output_sha256` (an edited sample); {_RESUBMIT}"
            )
        parsed = parse_answer(output, gold.titles[row], fuzzy=fuzzy)
        expected = (list(parsed.ranking), parsed.valid, parsed.match)
    else:
        scores = sample.get("scores")
        canonical = json.dumps(scores, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        if (
            not isinstance(scores, list)
            or len(scores) != len(gold.candidates[row])
            or not all(s is None or type(s) in (int, float) for s in scores)
            or sample.get("output_sha256") != sha256_text(canonical)
        ):
            raise Rejected(
                f"{where}: user {sample['user_id']}: `scores` are not one number per "
                f"candidate matching `output_sha256` (an edited sample); {_RESUBMIT}"
            )
        # null stands for a score that was not finite; ranks cannot be recomputed from it.
        finite = None not in scores
        expected = (_ranking_from_scores(scores, target_index) if finite else [], finite, "scores")
        if not finite and valid is True:
            raise Rejected(
                f"{where}: user {sample['user_id']}: an infinite score cannot be "
                "verified; score candidates with finite numbers"
            )
    if (ranking, valid, sample.get("match")) != expected:
        raise Rejected(
            f"{where}: user {sample['user_id']}: `ranking`, `valid` or `match` is not what "
            f"the {'output parses to' if mode == 'generate' else 'scores rank'} (an edited "
            f"sample); {_RESUBMIT}"
        )
    rank = _rank_of_target(ranking, target_index)
    if sample.get("target_rank") != rank or sample.get("hit@1") != (rank == 1):
        raise Rejected(
            f"{where}: user {sample['user_id']}: `target_rank` or `hit@1` does not follow "
            f"from `ranking` (an edited sample); {_RESUBMIT}"
        )
    return rank, valid


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


def _check_faithfulness(
    submission: Submission, dataset: EvalDataset, split: str, seed: int
) -> None:
    """The faithfulness block must be what the per-sample values aggregate to, and each
    sample's static values what its output scores again (DESIGN §9)."""
    from r2rec_bench.faithfulness import aggregate, rescore_static

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


def verify_submission(submission: Submission, finder: DatasetFinder) -> None:
    """Recompute every figure of ``submission``; :class:`Rejected` with the first reason."""
    from r2rec_bench.harness.metrics import summarize

    results = submission.results
    results_path = submission.path / RESULTS
    if results["schema_version"] != 1:
        raise Rejected(f"{results_path}: schema version {results['schema_version']} unknown")
    split, mode = results["split"], results["mode"]
    if split not in SPLITS or mode not in MODES:
        raise Rejected(f"{results_path}: split {split!r} or mode {mode!r} unknown; {_RESUBMIT}")
    dataset = finder.dataset(results["dataset"])
    if results["dataset"]["fingerprint"] != dataset.fingerprint:
        raise Rejected(
            f"{results_path}: dataset fingerprint {results['dataset']['fingerprint'][:16]}… "
            f"is not that of {dataset.name} ({dataset.fingerprint[:16]}…, {dataset.root}); "
            "evaluate on the published build of the dataset"
        )
    gold = finder.gold(dataset, split)
    rows = _check_users(submission, gold, split)
    fuzzy = bool(results["parser"].get("fuzzy"))
    ranks, valid = [], []
    samples_path = str(submission.path / SAMPLES)
    for sample, line, row in zip(submission.samples, submission.lines, rows, strict=True):
        rank, is_valid = _check_sample(sample, row, gold, mode, fuzzy, f"{samples_path}:{line}")
        ranks.append(rank)
        valid.append(is_valid)
    summary = summarize(ranks, valid, seed=results["seed"])
    answers = {
        "valid": sum(valid),
        "match": dict(sorted(Counter(s["match"] for s in submission.samples).items())),
    }
    for field, recomputed in (
        ("n_users", summary["n_users"]),
        ("metrics", summary["metrics"]),
        ("interval", summary["interval"]),
        ("answers", answers),
    ):
        found = _difference(results[field], recomputed, field)
        if found:
            raise Rejected(f"{results_path}: {found} (an edited result); {_RESUBMIT}")
    _check_faithfulness(submission, dataset, split, results["seed"])


def verify_folder(folder: Path, finder: DatasetFinder, name: str | None = None) -> Verdict:
    """Read and verify one submission folder (an evaluate output directory works too)."""
    folder = Path(folder)
    dataset = folder.parent.name
    try:
        submission = read_submission(folder, name)
        verify_submission(submission, finder)
    except Rejected as exc:
        return Verdict(dataset, name or folder.name, folder, str(exc))
    return Verdict(submission.dataset_name, submission.name, folder, None, submission)


def verify_tree(root: Path, finder: DatasetFinder) -> list[Verdict]:
    """Verify every submission under a submissions root, in sorted order.

    A submission must sit under the folder of the dataset it names; one whose answers equal
    an accepted submission's (the same outputs for the same users) is a duplicate.
    """
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder; pass a submissions folder")
    verdicts = []
    accepted_by_answers: dict[tuple[str, str], str] = {}
    for slot in scan(root):
        if slot.problem:
            verdicts.append(Verdict(slot.dataset, slot.name, slot.path, slot.problem))
            continue
        verdict = verify_folder(slot.path, finder)
        if verdict.accepted:
            submission = verdict.submission
            key = (submission.dataset_name, submission.answers_sha256)
            if submission.dataset_name != slot.dataset:
                verdict = Verdict(
                    slot.dataset,
                    slot.name,
                    slot.path,
                    f"{slot.path}: filed under {slot.dataset}/ but results.json is on dataset "
                    f"{submission.dataset_name}; move it to {submission.dataset_name}/",
                )
            elif key in accepted_by_answers:
                verdict = Verdict(
                    slot.dataset,
                    slot.name,
                    slot.path,
                    f"{slot.path}: a duplicate of {accepted_by_answers[key]} (the same "
                    "answers for the same users); remove one",
                )
            else:
                accepted_by_answers[key] = f"{slot.dataset}/{slot.name}"
        verdicts.append(verdict)
    return verdicts
