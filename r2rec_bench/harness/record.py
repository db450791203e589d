"""An evaluation's output directory: what is being evaluated, and the samples so far.

- ``run.json``: the run's *config* (model spec and revision, dataset fingerprint, split, mode,
  seed, limit, shard, parser setting, the backend options that change outputs), which a resume
  must match exactly, plus the dataset and model descriptions. Written once, atomically.
- ``samples.jsonl``: one :class:`~r2rec_bench.task.records.Sample` per line, appended a batch
  at a time and fsynced after each, so a crash loses at most the batch in flight; a torn last
  line is cut off on resume.
- ``.lock``: held by the process evaluating into the directory; a second process on the same
  directory stops at once instead of paying for every user twice.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from r2rec_bench.atomic import write_text_atomic
from r2rec_bench.errors import UserError, at
from r2rec_bench.hashing import canonical_json
from r2rec_bench.task.records import Sample

RUN, SAMPLES, RESULTS, LOCK = "run.json", "samples.jsonl", "results.json", ".lock"
_START_AGAIN = "use another --output-dir or delete it"


def write_json_atomic(path: Path, payload: dict) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


def read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise UserError(f"{path}: missing; {what}")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc}); {what}") from None
    if not isinstance(payload, dict):
        raise UserError(f"{path}: not a JSON object; {what}")
    return payload


def validation_problem(error: ValidationError) -> str:
    """The first problem of a pydantic error as ``field: message``."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(the record)"
    return f"field `{field}`: {first['msg']}"


def read_samples(path: Path, *, repair: bool = False) -> list[dict]:
    """The samples of ``samples.jsonl``, each validated as a ``Sample``; [] when the file does
    not exist.

    Every sample is written with its newline in one write, so text after the last newline,
    or a last line that does not parse, is a write torn by a crash: with ``repair`` it is
    cut off the file (appending then continues on a clean line boundary), otherwise it is
    an error. Any other bad line, or a user twice, is an error naming the line.
    """
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    torn = lines.pop() != b""  # the last element is what follows the last newline
    samples, seen, kept = [], set(), 0
    for number, line in enumerate(lines, 1):
        try:
            Sample.model_validate_json(line)
            sample = json.loads(line)
        except (ValidationError, ValueError) as exc:
            if number == len(lines) and not torn:
                torn = True
                break
            detail = validation_problem(exc) if isinstance(exc, ValidationError) else "not JSON"
            raise UserError(
                f"{at(path, number)}: not a sample ({detail}); the file was edited or "
                f"corrupted; {_START_AGAIN}"
            ) from None
        user = sample["user_id"]
        if user in seen:
            raise UserError(
                f"{at(path, number)}: user {user!r} appears twice; the file was edited or "
                f"corrupted; {_START_AGAIN}"
            )
        seen.add(user)
        samples.append(sample)
        kept += len(line) + 1
    if torn:
        if not repair:
            raise UserError(
                f"{at(path, len(samples) + 1)}: an incomplete sample (the run was "
                "interrupted); rerun the same evaluate command to finish it"
            )
        with open(path, "r+b") as handle:
            handle.truncate(kept)
            handle.flush()
            os.fsync(handle.fileno())
    return samples


def append_samples(handle, samples: list[Sample]) -> None:
    """One write per batch, then fsync: a crash tears at most this batch's last line."""
    handle.write("".join(sample.to_json() + "\n" for sample in samples))
    handle.flush()
    os.fsync(handle.fileno())


def check_config(out: Path, record: dict) -> None:
    """Refuse an output directory that holds a different run (nothing is written)."""
    path = out / RUN
    if not path.exists():
        if (out / SAMPLES).exists():
            raise UserError(
                f"{out}: has {SAMPLES} but no {RUN}, so it cannot be resumed safely; {_START_AGAIN}"
            )
        if out.is_dir() and any(p.name != LOCK for p in out.iterdir()):
            raise UserError(f"{out}: not empty and not an evaluation's output; {_START_AGAIN}")
        return
    existing = read_json(path, _START_AGAIN).get("config", {})
    wanted = json.loads(canonical_json(record["config"]))
    different = sorted(
        key
        for key in wanted.keys() | existing.keys()
        if wanted.get(key, existing.get(key)) != existing.get(key)
    )
    if different:
        detail = "; ".join(
            f"{k}: {canonical_json(existing.get(k))} there, {canonical_json(wanted.get(k))} now"
            for k in different
        )
        raise UserError(
            f"{out}: holds a different run, so it cannot be resumed ({detail}); {_START_AGAIN}"
        )


def start_record(out: Path, record: dict) -> None:
    """Check ``out`` against ``record`` and write run.json for a new run."""
    check_config(out, record)
    if not (out / RUN).exists():
        write_json_atomic(out / RUN, record)


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock for the block; another process holding it is a ``UserError``."""
    with open(out / LOCK, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(
                f"{out}: another evaluate process is writing into it; wait for it to finish "
                "or use another --output-dir"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
