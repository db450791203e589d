"""results.json: computed from an output directory's run.json and samples.jsonl (never from
memory), so a resumed run and an uninterrupted one end with the same figures."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from r2rec_bench import __version__
from r2rec_bench.atomic import write_text_atomic
from r2rec_bench.errors import UserError
from r2rec_bench.faithfulness import aggregate as aggregate_faithfulness
from r2rec_bench.faithfulness.counterfactual import LOG, read_log
from r2rec_bench.harness.record import RESULTS, RUN, SAMPLES, read_json, read_samples
from r2rec_bench.task.parser import FUZZY_THRESHOLD, UNTAGGED_RULE
from r2rec_bench.task.records import RESULTS_SCHEMA_VERSION, Results
from r2rec_bench.task.scoring import summarize_samples

_LIBRARIES = (
    "numpy",
    "pyarrow",
    "huggingface-hub",
    "tqdm",
    "torch",
    "transformers",
    "peft",
    "accelerate",
    "trl",
    "httpx",
    "datasets",
)


def environment() -> dict:
    libraries = {}
    for name in _LIBRARIES:
        try:
            libraries[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "libraries": libraries,
    }


def _merge_counterfactual(out: Path, samples: list[dict]) -> list[dict]:
    """Samples with their counterfactual values (from ``counterfactual.jsonl``) written into
    their ``faithfulness``, so that samples.jsonl holds every per-sample figure."""
    log = read_log(out / LOG)
    if not log:
        return samples
    missing = [s["user_id"] for s in samples if s["user_id"] not in log]
    if missing:
        raise UserError(
            f"{out / LOG}: {len(missing)} of {len(samples)} users have no counterfactual "
            "outcome yet; rerun the same evaluate command to finish"
        )
    merged = []
    for sample in samples:
        faithfulness = dict(sample.get("faithfulness") or {})
        faithfulness["counterfactual"] = log[sample["user_id"]]
        merged.append({**sample, "faithfulness": faithfulness})
    if merged != samples:
        text = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in merged)
        write_text_atomic(out / SAMPLES, text)
    return merged


def finalize(out: Path) -> dict:
    """Compute and write results.json for a complete output directory; returns it."""
    out = Path(out)
    run = read_json(out / RUN, "rerun the evaluate command")
    samples = read_samples(out / SAMPLES)
    if len(samples) != run["users"]:
        raise UserError(
            f"{out}: {len(samples)} of {run['users']} users evaluated; rerun the "
            "same evaluate command to finish"
        )
    config = run["config"]
    samples = _merge_counterfactual(out, samples)
    summary = summarize_samples(samples, config["seed"])
    seconds = sum(s["seconds"] or 0.0 for s in samples)
    prompt_tokens = sum(s["prompt_tokens"] or 0 for s in samples)
    completion_tokens = sum(s["completion_tokens"] or 0 for s in samples)
    results = Results(
        schema_version=RESULTS_SCHEMA_VERSION,
        harness={"name": "r2rec-bench", "version": __version__},
        dataset=run["dataset"],
        split=config["split"],
        mode=config["mode"],
        model=run["model"],
        backend=run["backend"],
        parser={
            "fuzzy": config["fuzzy"],
            "fuzzy_threshold": FUZZY_THRESHOLD,
            "untagged": UNTAGGED_RULE,
        },
        seed=config["seed"],
        limit=config["limit"],
        shard=tuple(config["shard"]) if config["shard"] else None,
        n_users=summary["n_users"],
        metrics=summary["metrics"],
        interval=summary["interval"],
        answers=summary["answers"],
        faithfulness=aggregate_faithfulness(samples, seed=config["seed"]),
        cost={
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "wall_seconds": seconds,
            "users_per_second": len(samples) / seconds if seconds > 0 else None,
        },
        environment=environment(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    write_text_atomic(out / RESULTS, results.to_json())
    return json.loads(results.to_json())
