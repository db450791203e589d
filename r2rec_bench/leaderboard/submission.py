"""What a submission is on disk, and reading one without trusting it.

A submission is the two files ``r2rec-bench evaluate`` writes, ``results.json`` and
``samples.jsonl``, filed as ``<submissions>/<dataset>/<name>/``, with ``seeds.json`` beside
them when the model was run under several seeds (leaderboard.seeds). Everything in them
comes from a stranger, so reading checks the layout, the names (no escaping the submissions
folder), the sizes (before reading anything) and that the files are JSON of the right shape;
every problem is a :class:`Rejected` whose message names the file (and line) and the fix.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter, ValidationError
from pydantic_core import from_json

from r2rec_bench.task.records import Results, Sample, SeedRuns

RESULTS, SAMPLES, SEEDS = "results.json", "samples.jsonl", "seeds.json"
FILES = (RESULTS, SAMPLES)
OPTIONAL_FILES = (SEEDS,)  # other seeds of the same model (leaderboard.seeds)
# results.json is a few kilobytes; samples.jsonl of an LLM with long reasoning on ml-1m's
# 6,040 users is tens of megabytes; seeds.json of ten seeds there, about 3 MB. Well above
# each, still small enough to hold in memory.
MAX_BYTES = {RESULTS: 1 << 20, SAMPLES: 256 << 20, SEEDS: 64 << 20}
# Folder names: what `model_slug` produces (letters, digits, . _ + -), starting with a letter
# or digit, so that no name is empty, hidden, "..", absolute or holds a separator.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
_RESUBMIT = "submit the files `r2rec-bench evaluate` wrote, unedited"
_SAMPLES = TypeAdapter(list[Sample])


class Rejected(Exception):
    """A submission that cannot be accepted: the message says where and what to do."""


def check_name(name: str, what: str = "submission name") -> str:
    """``name`` if it is a safe folder name, else :class:`Rejected`."""
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise Rejected(
            f"{what} {name!r} is not a safe folder name; use letters, digits, '.', '_', '+' "
            "and '-' (no path separators, no '..'), starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class Submission:
    """A submission's files, read and shape-checked, not yet verified against the data."""

    path: Path  # the folder holding results.json and samples.jsonl
    name: str
    results: dict
    samples: list[dict]
    lines: list[int]  # samples.jsonl line number of each sample, for error messages
    answers: frozenset  # (user id, output sha256) pairs: what the run answered
    seeds: dict | None = None  # seeds.json, when the model's other seeds are filed with it

    @property
    def dataset_name(self) -> str:
        return self.results["dataset"]["name"]


def _read_bytes(path: Path, root: Path) -> bytes:
    if path.is_symlink() or not path.is_file():
        raise Rejected(f"{path}: missing or not a plain file; {_RESUBMIT}")
    if not path.resolve().is_relative_to(root.resolve()):
        raise Rejected(f"{path}: resolves outside the submission folder; use plain files")
    size = path.stat().st_size
    if size > MAX_BYTES[path.name]:
        raise Rejected(
            f"{path}: {size:,} bytes, over the limit of {MAX_BYTES[path.name]:,}; {_RESUBMIT}"
        )
    return path.read_bytes()


def _parse_results(path: Path, data: bytes) -> dict:
    try:
        results = Results.model_validate_json(data)
    except ValidationError as exc:
        raise Rejected(f"{path}: {_problem(exc)}; {_RESUBMIT}") from None
    check_name(results.dataset.name, f"{path}: dataset name")
    return json.loads(data)


def _problem(error: ValidationError, skip: int = 0) -> str:
    """The first problem of a validation error, with the offending value cut short (a
    hostile file may hold megabytes in one field); ``skip`` leading parts of its location
    are not the field's (the line's position in an array)."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"][skip:])
    if first["type"] == "json_invalid":
        detail = first["msg"].removeprefix("Invalid JSON: ")[:120]
        return f"not valid JSON ({detail})"
    return f"field `{field}`: {first['msg'][:200]}" if field else first["msg"][:200]


def _parse_samples(path: Path, data: bytes) -> tuple[list[dict], list[int]]:
    numbered = [(n, line) for n, line in enumerate(data.split(b"\n"), 1) if line.strip()]
    if not numbered:
        raise Rejected(f"{path}: no samples; {_RESUBMIT}")
    lines = [number for number, _ in numbered]
    # The lines decoded and validated as one JSON array, in pydantic's Rust core: line by
    # line in Python (json.loads and a validation each) reading took 3× as long. A line is
    # one sample only if the array has exactly one element per line ("{…},{…}" on one line
    # would shift every later line); otherwise, or on invalid JSON, the lines one by one
    # say which is wrong.
    array = b"[" + b",".join(line for _, line in numbered) + b"]"
    try:
        samples = from_json(array)
    except ValueError:
        samples = None
    if not isinstance(samples, list) or len(samples) != len(numbered):
        _reject_first_bad_line(path, numbered)
    try:
        _SAMPLES.validate_json(array)
    except ValidationError as exc:
        number = lines[exc.errors()[0]["loc"][0]]
        raise Rejected(
            f"{path}:{number}: not a sample ({_problem(exc, skip=1)}); {_RESUBMIT}"
        ) from None
    return samples, lines


def _reject_first_bad_line(path: Path, numbered: list[tuple[int, bytes]]) -> None:
    for number, line in numbered:
        try:
            Sample.model_validate_json(line)
        except ValidationError as exc:
            raise Rejected(
                f"{path}:{number}: not a sample ({_problem(exc)}); {_RESUBMIT}"
            ) from None
    raise Rejected(f"{path}: not one JSON sample per line; {_RESUBMIT}")


# Share of users with byte-identical answers from which two submissions are one: one changed
# byte in one output must not make a copy new, and two honest runs share far fewer.
NEAR_DUPLICATE = 0.9


def answer_pairs(samples: list[dict]) -> frozenset:
    """What a run answered, user by user (output hashes), whatever the timings or order."""
    return frozenset((s["user_id"], s.get("output_sha256")) for s in samples)


def shared_answers(a: frozenset, b: frozenset) -> float:
    """Share of users answered byte-identically by two runs (of the larger run's users)."""
    return len(a & b) / max(len(a), len(b), 1)


def read_results(folder: Path) -> dict:
    """``folder``'s results.json alone, checked as :func:`read_submission` checks it."""
    return _parse_results(folder / RESULTS, _read_bytes(folder / RESULTS, folder))


def read_submission(folder: Path, name: str | None = None) -> Submission:
    """Read ``folder``'s results.json and samples.jsonl; :class:`Rejected` if malformed.

    ``name`` is the submission's name (default: the folder's); callers that file it under
    that name check it with :func:`check_name`.
    """
    folder = Path(folder)
    results = read_results(folder)
    samples, lines = _parse_samples(folder / SAMPLES, _read_bytes(folder / SAMPLES, folder))
    seeds = None
    if (folder / SEEDS).exists() or (folder / SEEDS).is_symlink():
        data = _read_bytes(folder / SEEDS, folder)
        try:
            SeedRuns.model_validate_json(data)
        except ValidationError as exc:
            raise Rejected(f"{folder / SEEDS}: {_problem(exc)}; {_RESUBMIT}") from None
        seeds = json.loads(data)
    return Submission(
        path=folder,
        name=name or folder.name,
        results=results,
        samples=samples,
        lines=lines,
        answers=answer_pairs(samples),
        seeds=seeds,
    )


@dataclass(frozen=True)
class Slot:
    """One folder of a submissions tree: where a submission is, or what is wrong there."""

    dataset: str
    name: str
    path: Path
    problem: str | None  # set when the folder breaks the layout


def scan(root: Path) -> list[Slot]:
    """Every ``<dataset>/<name>/`` folder under a submissions root, sorted; anything that
    breaks the layout (a stray file, a link, an unsafe name, a file missing or extra) is a
    slot with a problem."""
    root = Path(root)
    slots = []
    for dataset_dir in sorted(root.iterdir()):
        if dataset_dir.name.startswith("."):
            continue  # a staging folder of a submit in progress, .gitkeep and the like
        for path in sorted(dataset_dir.iterdir()) if _is_folder(dataset_dir) else [dataset_dir]:
            slots.append(Slot(dataset_dir.name, path.name, path, _layout_problem(root, path)))
    return slots


def _is_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _layout_problem(root: Path, path: Path) -> str | None:
    where = f"{path}: "
    layout = (
        "a submission is <dataset>/<name>/ holding results.json and samples.jsonl (and "
        "seeds.json, when it has several seeds)"
    )
    if not _is_folder(path):
        return where + f"not a folder; {layout}"
    for part in path.relative_to(root).parts:
        try:
            check_name(part, "folder name")
        except Rejected as exc:
            return where + str(exc)
    extra = sorted(p.name for p in path.iterdir() if p.name not in (*FILES, *OPTIONAL_FILES))
    if extra:
        return where + f"unexpected file {extra[0]!r}; {layout}"
    return None
