"""A synthetic dataset directory and synthetic leaderboard submissions, for timing `verify`
and `build` at ml-1m's size (6,040 test users) without building ml-1m.

The dataset directory holds only what the harness reads to verify (MANIFEST.json and the
`eval` test split, 20 candidates per user); each submission is what `evaluate --mode
generate` writes: a reasoning trace citing a few candidates and one answered title per user,
each sample scored and results.json summarised by the benchmark's own functions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from r2rec_bench.hashing import canonical_json, dataset_fingerprint, sha256_file, sha256_text
from r2rec_bench.task.parser import FUZZY_THRESHOLD, UNTAGGED_RULE
from r2rec_bench.task.records import RESULTS_SCHEMA_VERSION, Results, Sample
from r2rec_bench.task.scoring import score_text, summarize_samples

CANDIDATES = 20
HISTORY = 10
NAME = "synthetic-iot"


def write_dataset(root: Path, users: int, items: int, seed: int = 0) -> Path:
    """A dataset directory with an `eval` test split of ``users`` users."""
    rng = np.random.default_rng(seed)
    titles = [f"Synthetic film {k:05d} ({1950 + k % 70})" for k in range(items)]
    rows = []
    for u in range(users):
        picked = rng.choice(items, CANDIDATES + HISTORY, replace=False)
        candidates, history = picked[:CANDIDATES], picked[CANDIDATES:]
        target_index = int(rng.integers(CANDIDATES))
        rows.append(
            {
                "user_id": f"u{u:05d}",
                "prompt": [{"role": "user", "content": f"Recommend for user u{u:05d}."}],
                "history": [str(i) for i in history],
                "history_titles": [titles[i] for i in history],
                "candidates": [str(i) for i in candidates],
                "candidate_titles": [titles[i] for i in candidates],
                "target": str(candidates[target_index]),
                "target_title": titles[candidates[target_index]],
                "target_index": target_index,
            }
        )
    (root / "eval").mkdir(parents=True)
    relative = "eval/test-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(rows), root / relative)
    digest = sha256_file(root / relative)
    manifest = {
        "schema_version": 1,
        "dataset": NAME,
        "builder_version": "0.0.0",
        "fingerprint": dataset_fingerprint({relative: digest}),
        "configs": [{"config": "eval", "split": "test", "path": relative, "rows": users}],
        "files": {relative: {"sha256": digest}},
    }
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    return root


def write_submission(folder: Path, dataset: Path, skill: float, seed: int) -> None:
    """A generate-mode run that answers the target with probability about ``skill``, each
    sample scored by the benchmark's one scoring path as the runner scores it."""
    rng = np.random.default_rng(seed)
    manifest = json.loads((dataset / "MANIFEST.json").read_text())
    rows = pq.read_table(dataset / manifest["configs"][0]["path"]).to_pylist()
    samples = []
    for index, row in enumerate(rows):
        titles = row["candidate_titles"]
        hit = rng.random() < skill
        answer = row["target_index"] if hit else int(rng.integers(CANDIDATES))
        cited = titles[int(rng.integers(CANDIDATES))]
        output = (
            f'<think>\nThought 1: the user watched "{row["history_titles"][-1]}".\n'
            f'Thought 2: users who liked it also liked "{cited}".\n</think>\n'
            f"<answer>{titles[answer]}</answer>"
        )
        scored = score_text(output, titles, row["target_index"])
        sample = Sample.model_validate(
            {
                "index": index,
                "user_id": row["user_id"],
                "candidates": row["candidates"],
                "target": row["target"],
                "target_index": row["target_index"],
                **scored.fields(),
                "prompt_sha256": sha256_text(canonical_json(row["prompt"])),
                "prompt_tokens": 40,
                "completion_tokens": 30,
                "seconds": 0.01,
                "faithfulness": None,
            }
        )
        samples.append(json.loads(sample.to_json()))
    folder.mkdir(parents=True)
    (folder / "samples.jsonl").write_text("".join(json.dumps(x) + "\n" for x in samples))
    summary = summarize_samples(samples, seed=0)
    results = Results.model_validate(
        {
            "schema_version": RESULTS_SCHEMA_VERSION,
            "harness": {"name": "r2rec-bench", "version": "synthetic"},
            "dataset": {"id": NAME, "name": NAME, "source": "local", "revision": None,
                        "fingerprint": manifest["fingerprint"], "builder_version": "0.0.0",
                        "hub_repo": None},
            "split": "test",
            "mode": "generate",
            "model": {"id": folder.name},
            "backend": {"spec": f"synthetic:{folder.name}", "options": {}},
            "parser": {"fuzzy": False, "fuzzy_threshold": FUZZY_THRESHOLD,
                       "untagged": UNTAGGED_RULE},
            "seed": 0,
            "limit": None,
            "shard": None,
            **{key: summary[key] for key in ("n_users", "metrics", "interval", "answers")},
            "faithfulness": None,
            "cost": {"prompt_tokens": 40 * len(rows), "completion_tokens": 30 * len(rows),
                     "total_tokens": 70 * len(rows), "wall_seconds": 0.01 * len(rows),
                     "users_per_second": 100.0},
            "environment": {},
            "created_at": "2026-01-01T00:00:00+00:00",
        }
    )  # fmt: skip
    (folder / "results.json").write_text(results.to_json())
