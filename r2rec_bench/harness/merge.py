"""``r2rec-bench merge``: join the outputs of ``evaluate --shard i/n`` into one run."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from r2rec_bench.atomic import atomic_directory
from r2rec_bench.errors import UserError
from r2rec_bench.harness.record import RUN, SAMPLES, read_json, read_samples, write_json_atomic
from r2rec_bench.harness.results import finalize


def merge_shards(shard_dirs: list[Path | str], output_dir: Path | str) -> dict:
    """Join the outputs of ``--shard 0/n`` … ``--shard n-1/n`` into one run directory.

    The shards must share their config (but for the shard), be complete, be all n of them
    once each, and hold every user once; the merged samples follow the split's row order.
    """
    if not shard_dirs:
        raise UserError("merge: give the shard directories to join")
    output_dir = Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()):
        raise UserError(f"{output_dir}: exists and is not empty; choose a new --output-dir")
    runs, samples = [], []
    for directory in map(Path, shard_dirs):
        run = read_json(directory / RUN, "pass a directory written by `evaluate --shard`")
        shard = run.get("config", {}).get("shard")
        if not shard:
            raise UserError(f"{directory}: not a shard (run without --shard)")
        found = read_samples(directory / SAMPLES)
        if len(found) != run["users"]:
            raise UserError(
                f"{directory}: shard {shard[0]}/{shard[1]} is incomplete "
                f"({len(found)} of {run['users']} users); rerun its evaluate "
                "command"
            )
        runs.append((directory, run))
        samples.extend(found)
    first_dir, first = runs[0]
    base = {**first["config"], "shard": None}
    for directory, run in runs[1:]:
        other = {**run["config"], "shard": None}
        different = sorted(k for k in base.keys() | other.keys() if base.get(k) != other.get(k))
        if different:
            raise UserError(
                f"{directory}: a different run from {first_dir} "
                f"({', '.join(different)} differ); merge shards of one evaluate "
                "command"
            )
    count = first["config"]["shard"][1]
    given = Counter(run["config"]["shard"][0] for _, run in runs)
    twice = sorted(i for i, n in given.items() if n > 1)
    missing = sorted(set(range(count)) - set(given))
    if twice or missing or any(run["config"]["shard"][1] != count for _, run in runs):
        problem = (
            f"shard {twice[0]}/{count} given twice"
            if twice
            else (
                f"shard {missing[0]}/{count} missing" if missing else "shards of different counts"
            )
        )
        raise UserError(f"merge: {problem}; pass each of the {count} shard directories once")
    users = Counter(sample["user_id"] for sample in samples)
    repeated = [user for user, n in users.items() if n > 1]
    if repeated or len(samples) != first["users_before_sharding"]:
        expected = first["users_before_sharding"]
        raise UserError(
            f"merge: the shards do not cover the users exactly once "
            f"({len(samples)} samples for {expected} users)"
        )
    samples.sort(key=lambda sample: sample["index"])
    merged = {**first, "config": base, "users": len(samples), "merged_shards": count}
    with atomic_directory(output_dir) as staging:
        write_json_atomic(staging / RUN, merged)
        with open(staging / SAMPLES, "w", encoding="utf-8") as handle:
            handle.write("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples))
        results = finalize(staging)
    return results
