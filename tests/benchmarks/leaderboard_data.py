"""A synthetic dataset directory and synthetic leaderboard submissions, for timing `verify`
and `build` at ml-1m's size (6,040 test users) without building ml-1m.

The dataset directory holds only what the harness reads to verify (MANIFEST.json and the
`eval` test split, 20 candidates per user); each submission is what `evaluate --mode
generate` writes: a reasoning trace citing a few candidates and one answered title per user,
and results.json computed by the harness's own ``summarize``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from r2rec_bench.hashing import sha256_file
from r2rec_bench.task.metrics import summarize
from r2rec_bench.task.parser import FUZZY_THRESHOLD

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
        "fingerprint": hashlib.sha256(digest.encode()).hexdigest(),
        "configs": [{"config": "eval", "split": "test", "path": relative, "rows": users}],
        "files": {relative: {"sha256": digest}},
    }
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    return root


def write_submission(folder: Path, dataset: Path, skill: float, seed: int) -> None:
    """A generate-mode run that answers the target with probability about ``skill``."""
    rng = np.random.default_rng(seed)
    manifest = json.loads((dataset / "MANIFEST.json").read_text())
    rows = pq.read_table(dataset / manifest["configs"][0]["path"]).to_pylist()
    lines, ranks = [], []
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
        rank = 1 if answer == row["target_index"] else 0
        ranks.append(rank)
        sample = {
            "index": index,
            "user_id": row["user_id"],
            "candidates": row["candidates"],
            "target": row["target"],
            "target_index": row["target_index"],
            "output": output,
            "scores": None,
            "ranking": [answer],
            "target_rank": rank,
            "hit@1": rank == 1,
            "valid": True,
            "match": "exact",
            "problems": [],
            "prompt_sha256": "0" * 64,
            "output_sha256": hashlib.sha256(output.encode()).hexdigest(),
            "prompt_tokens": 40,
            "completion_tokens": 30,
            "seconds": 0.01,
            "faithfulness": None,
        }
        lines.append(json.dumps(sample))
    folder.mkdir(parents=True)
    (folder / "samples.jsonl").write_text("\n".join(lines) + "\n")
    summary = summarize(ranks, [True] * len(ranks), seed=0)
    results = {
        "schema_version": 1,
        "dataset": {"id": NAME, "name": NAME, "source": "local", "revision": None,
                    "fingerprint": manifest["fingerprint"], "builder_version": "0.0.0",
                    "hub_repo": None},
        "split": "test",
        "mode": "generate",
        "model": {"id": folder.name},
        "backend": {"spec": f"synthetic:{folder.name}", "options": {}},
        "parser": {"fuzzy": False, "fuzzy_threshold": FUZZY_THRESHOLD},
        "seed": 0,
        "limit": None,
        "shard": None,
        "n_users": summary["n_users"],
        "metrics": summary["metrics"],
        "interval": summary["interval"],
        "answers": {"valid": len(rows), "match": {"exact": len(rows)}},
        "faithfulness": None,
        "cost": {"prompt_tokens": 40 * len(rows), "completion_tokens": 30 * len(rows)},
    }  # fmt: skip
    (folder / "results.json").write_text(json.dumps(results, indent=2))
