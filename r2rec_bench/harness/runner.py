"""The evaluation loop, its on-disk record, resume, shard merging and paired comparison.

An output directory holds three files:

- ``run.json``: what is being evaluated (the *config*, which a resume must match exactly:
  model spec and revision, dataset fingerprint, split, mode, seed, limit, shard, parser
  setting, the backend options that change outputs), plus the dataset and model
  descriptions. Written once, atomically, before the first sample.
- ``samples.jsonl``: one JSON object per user, appended a batch at a time and flushed to
  disk (``fsync``) after each batch, so a crash loses at most the batch in flight; a torn
  last line is dropped on resume.
- ``results.json``: metrics with intervals and everything needed to interpret them, computed
  from ``samples.jsonl`` (never from memory) when every user is done, written atomically.

A resume is the same command again: users already in ``samples.jsonl`` are skipped, and since
every metric depends only on the multiset of per-user outcomes, the results equal those of an
uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import time
from collections import Counter
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from r2rec_bench import __version__
from r2rec_bench.errors import UserError, at
from r2rec_bench.harness.data import SPLITS, EvalDataset, EvalExample, open_dataset
from r2rec_bench.harness.types import Backend
from r2rec_bench.hashing import sha256_text

SCHEMA_VERSION = 1
RUN, SAMPLES, RESULTS = "run.json", "samples.jsonl", "results.json"
MODES = ("generate", "rank")
FAITHFULNESS = ("static", "full")
DEFAULT_BATCH_SIZE = 32
# Options that change how fast or where a model runs, not what it answers: a resume may
# change them (a smaller batch after running out of memory, a restarted server's new port).
_FREE_OPTIONS = frozenset({"batch_size", "base_url"})
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


def model_slug(spec: str, adapter: str | None = None) -> str:
    """A folder name for a model: a local path's last component, else the spec made safe."""
    path = Path(spec).expanduser()
    slug = path.resolve().name if path.exists() else spec
    if adapter:
        slug += "+" + Path(adapter).expanduser().resolve().name
    return re.sub(r"[^A-Za-z0-9._+-]+", "--", slug).strip("-.") or "model"


def default_output_dir(dataset_name: str, spec: str, adapter: str | None = None) -> Path:
    return Path("results") / dataset_name / model_slug(spec, adapter)


def _canonical(value) -> str:
    # default=str: a backend's description may hold non-JSON values (a dtype, a path).
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _redact_url(url):
    """A URL without user, password and query: no credential reaches results.json."""
    if not isinstance(url, str):
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON to a temporary sibling, fsync it, then rename over ``path``."""
    from r2rec_bench.atomic import write_text_atomic

    write_text_atomic(path, json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


def _read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise UserError(f"{path}: missing; {what}")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc}); {what}") from None
    if not isinstance(payload, dict):
        raise UserError(f"{path}: not a JSON object; {what}")
    return payload


def read_samples(path: Path, *, repair: bool = False) -> list[dict]:
    """The samples of ``samples.jsonl``; [] when it does not exist.

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
            sample = json.loads(line)
            user = sample["user_id"]
        except (ValueError, TypeError, KeyError):
            if number == len(lines) and not torn:
                torn = True
                break
            raise UserError(
                f"{at(path, number)}: not a sample; the file was edited or corrupted; delete "
                "the output directory and rerun"
            ) from None
        if user in seen:
            raise UserError(
                f"{at(path, number)}: user {user!r} appears twice; the file was "
                "edited or corrupted; delete the output directory and rerun"
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


def _ranking_from_scores(scores: list[float], target_index: int) -> list[int]:
    """Candidates by score, best first. Ties put the target after the candidates it ties
    with, so that its position agrees with the pessimistic ``ranks_from_scores``."""
    return sorted(range(len(scores)), key=lambda j: (-scores[j], j == target_index, j))


def _json_scores(scores: list[float]) -> list[float | None]:
    return [score if math.isfinite(score) else None for score in scores]


def _evaluate_batch(
    backend: Backend, examples: list[EvalExample], mode: str, fuzzy: bool, scorer=None
) -> list[dict]:
    from r2rec_bench.harness.metrics import rank_of_target
    from r2rec_bench.harness.parser import parse_answer

    requests = [example.request for example in examples]
    outputs = backend.generate(requests) if mode == "generate" else backend.rank(requests)
    if len(outputs) != len(requests):
        raise RuntimeError(
            f"backend {type(backend).__name__}.{mode} answered {len(outputs)} of "
            f"{len(requests)} requests"
        )
    records, readings = [], []
    for example, output in zip(examples, outputs, strict=True):
        request, gold = example.request, example.gold
        if mode == "generate":
            parsed = parse_answer(output.text, request.candidate_titles, fuzzy=fuzzy)
            readings.append((len(records), request, parsed))
            ranking, valid = list(parsed.ranking), parsed.valid
            match, problems = parsed.match, list(parsed.problems)
            text, scores = output.text, None
            output_hash = sha256_text(output.text)
            tokens = (output.prompt_tokens, output.completion_tokens)
        else:
            scores = [float(score) for score in output]
            if len(scores) != len(request.candidates):
                raise RuntimeError(
                    f"backend {type(backend).__name__}.rank gave {len(scores)} scores for "
                    f"{len(request.candidates)} candidates (user {request.user_id})"
                )
            valid = not any(math.isnan(score) for score in scores)
            ranking = _ranking_from_scores(scores, gold.target_index) if valid else []
            match, problems = "scores", [] if valid else ["nan_score"]
            text, scores = None, _json_scores(scores)
            output_hash = sha256_text(_canonical(scores))
            tokens = (None, None)
        target_rank = rank_of_target(ranking, gold.target_index)
        records.append(
            {
                "index": example.index,
                "user_id": request.user_id,
                "candidates": list(request.candidates),
                "target": gold.target,
                "target_index": gold.target_index,
                "output": text,
                "scores": scores,
                "ranking": ranking,
                "target_rank": target_rank,
                "hit@1": target_rank == 1,
                "valid": valid,
                "match": match,
                "problems": problems,
                "prompt_sha256": sha256_text(_canonical(request.prompt)),
                "output_sha256": output_hash,
                "prompt_tokens": tokens[0],
                "completion_tokens": tokens[1],
                "seconds": None,  # filled in per batch by the caller
                "faithfulness": None,
            }
        )
    if scorer is not None and readings:
        from r2rec_bench.faithfulness import sample_input

        inputs = [sample_input(request, parsed) for _, request, parsed in readings]
        for (position, _, _), values in zip(readings, scorer.score(inputs), strict=True):
            records[position]["faithfulness"] = {"static": values}
    return records


def _check_config(out: Path, record: dict) -> None:
    """Write run.json for a new run; for an existing one, refuse a different config."""
    path = out / RUN
    if not path.exists():
        if (out / SAMPLES).exists():
            raise UserError(
                f"{out}: has {SAMPLES} but no {RUN}, so it cannot be resumed "
                "safely; use another --output-dir or delete it"
            )
        write_json_atomic(path, record)
        return
    existing = _read_json(path, "use another --output-dir or delete it").get("config", {})
    wanted = json.loads(_canonical(record["config"]))
    different = sorted(
        k for k in wanted.keys() | existing.keys() if wanted.get(k) != existing.get(k)
    )
    if different:
        detail = "; ".join(
            f"{k}: {_canonical(existing.get(k))} there, {_canonical(wanted.get(k))} now"
            for k in different
        )
        raise UserError(
            f"{out}: holds a different run, so it cannot be resumed ({detail}); "
            "use another --output-dir or delete it"
        )


def _batch_size(batch_size, backend: Backend) -> int:
    if isinstance(batch_size, int) and not isinstance(batch_size, bool):
        if batch_size < 1:
            raise UserError(f"--batch-size {batch_size}: must be at least 1")
        return batch_size
    # "auto" or unset: the backend may know its best batch (hf measures it); else a default.
    preferred = getattr(backend, "batch_size", None)
    return preferred if isinstance(preferred, int) and preferred > 0 else DEFAULT_BATCH_SIZE


def check_arguments(*, split: str, mode: str, limit: int | None, shard) -> None:
    """``UserError`` for a bad split, mode, limit or shard, before anything slow happens."""
    if split not in SPLITS:
        raise UserError(f"--split {split}: use one of {', '.join(SPLITS)}")
    if mode not in MODES:
        raise UserError(f"--mode {mode}: use one of {', '.join(MODES)}")
    if limit is not None and limit < 1:
        raise UserError(f"--limit {limit}: must be at least 1 (leave it out for every user)")
    if shard is not None and not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
        raise UserError(f"--shard {shard[0]}/{shard[1]}: use i/n with 0 <= i < n")


def check_faithfulness(faithfulness: str, mode: str) -> None:
    if faithfulness not in FAITHFULNESS:
        raise UserError(f"--faithfulness {faithfulness}: use one of {', '.join(FAITHFULNESS)}")
    if faithfulness == "full" and mode != "generate":
        raise UserError(
            "--faithfulness full: the counterfactual metrics edit a reasoning, which only "
            "--mode generate produces"
        )


def run_evaluation(
    backend: Backend,
    dataset: EvalDataset | str | Path,
    *,
    model_spec: str | None = None,
    options: dict | None = None,
    split: str = "test",
    mode: str = "generate",
    limit: int | None = None,
    batch_size: int | str | None = None,
    seed: int = 0,
    output_dir: Path | str | None = None,
    shard: tuple[int, int] | None = None,
    quiet: bool = False,
    fuzzy: bool = False,
    faithfulness: str = "static",
) -> dict:
    """Evaluate ``backend`` on a dataset split, resuming whatever the output directory holds.

    In generate mode every sample gets its static faithfulness; ``faithfulness="full"``
    then asks the model again on edited inputs (the counterfactual metrics).

    ``model_spec`` names the model in the config (default: the backend's described id);
    ``options`` are the backend options it was built with, recorded in run.json (those that
    change outputs also in the config). ``shard=(i, n)`` evaluates rows i, i+n, i+2n, ... of
    the first ``limit`` users into ``<output_dir>/shard-i-of-n``. Returns results.json.
    """
    from tqdm.auto import tqdm

    check_arguments(split=split, mode=mode, limit=limit, shard=shard)
    check_faithfulness(faithfulness, mode)
    dataset = open_dataset(dataset)
    eval_split = dataset.split(split)
    description = backend.describe()
    spec = model_spec or str(description.get("id") or type(backend).__name__)
    options = {key: value for key, value in (options or {}).items() if value is not None}
    selected = list(range(len(eval_split)))[:limit]
    indices = selected[shard[0] :: shard[1]] if shard else selected
    if not indices:
        raise UserError(
            f"--shard {shard[0]}/{shard[1]}: no users in this shard of "
            f"{len(selected)}; use fewer shards"
        )
    out = (
        Path(output_dir)
        if output_dir
        else default_output_dir(dataset.name, spec, options.get("adapter"))
    )
    if shard:
        out = out / f"shard-{shard[0]}-of-{shard[1]}"
    record = {
        "schema_version": SCHEMA_VERSION,
        "config": {
            "model": spec,
            "model_revision": description.get("revision"),
            "dataset_fingerprint": dataset.fingerprint,
            "split": split,
            "mode": mode,
            "seed": seed,
            "limit": limit,
            "shard": list(shard) if shard else None,
            "fuzzy": fuzzy,
            "options": {k: v for k, v in options.items() if k not in _FREE_OPTIONS},
        },
        "dataset": dataset.describe(),
        "model": description,
        "backend": {
            "spec": spec,
            "options": {k: _redact_url(v) if k == "base_url" else v for k, v in options.items()},
        },
        "users": len(indices),
        "users_before_sharding": len(selected),
    }
    fresh = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        _check_config(out, record)
        done = {sample["user_id"] for sample in read_samples(out / SAMPLES, repair=True)}
        wanted = {eval_split.user_ids[i] for i in indices}
        strays = done - wanted
        if strays:
            raise UserError(
                f"{out / SAMPLES}: holds user {sorted(strays)[0]!r}, who is not part "
                "of this run; use another --output-dir or delete it"
            )
        todo = [i for i in indices if eval_split.user_ids[i] not in done]
        step = _batch_size(batch_size, backend)
        scorer = None
        if mode == "generate" and todo:
            from r2rec_bench.faithfulness import static_scorer

            scorer = static_scorer(dataset, seed)
        progress = tqdm(
            total=len(indices),
            initial=len(indices) - len(todo),
            unit=" users",
            desc=f"{dataset.name} {split} {mode}",
            disable=quiet,
            dynamic_ncols=True,
        )
        with open(out / SAMPLES, "a", encoding="utf-8") as handle, progress:
            for start in range(0, len(todo), step):
                examples = eval_split.examples(todo[start : start + step])
                began = time.perf_counter()
                records = _evaluate_batch(backend, examples, mode, fuzzy, scorer)
                seconds = (time.perf_counter() - began) / len(records)
                for sample in records:
                    sample["seconds"] = seconds
                # One write per batch, then fsync: a crash tears at most this batch's last line.
                handle.write("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in records))
                handle.flush()
                os.fsync(handle.fileno())
                progress.update(len(records))
        if faithfulness == "full":
            from r2rec_bench.faithfulness.counterfactual import run_counterfactual

            run_counterfactual(
                backend,
                dataset,
                split,
                read_samples(out / SAMPLES),
                out,
                seed=seed,
                batch_size=step,
                quiet=quiet,
            )
    except BaseException:
        # A run that evaluated nobody leaves nothing to resume: leave no directory behind.
        samples = out / SAMPLES
        if fresh and (not samples.exists() or samples.stat().st_size == 0):
            shutil.rmtree(out, ignore_errors=True)
        raise
    return finalize(out)


def _environment() -> dict:
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
    from r2rec_bench.faithfulness.counterfactual import LOG, read_log

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
        from r2rec_bench.atomic import write_text_atomic

        text = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in merged)
        write_text_atomic(out / SAMPLES, text)
    return merged


def finalize(out: Path) -> dict:
    """Compute results.json from an output directory's run.json and samples.jsonl."""
    from r2rec_bench.faithfulness import aggregate as aggregate_faithfulness
    from r2rec_bench.harness.metrics import summarize
    from r2rec_bench.harness.parser import FUZZY_THRESHOLD

    out = Path(out)
    run = _read_json(out / RUN, "rerun the evaluate command")
    samples = read_samples(out / SAMPLES)
    if len(samples) != run["users"]:
        raise UserError(
            f"{out}: {len(samples)} of {run['users']} users evaluated; rerun the "
            "same evaluate command to finish"
        )
    config = run["config"]
    samples = _merge_counterfactual(out, samples)
    summary = summarize(
        [s["target_rank"] for s in samples], [s["valid"] for s in samples], seed=config["seed"]
    )
    seconds = sum(s["seconds"] for s in samples)
    prompt_tokens = sum(s["prompt_tokens"] or 0 for s in samples)
    completion_tokens = sum(s["completion_tokens"] or 0 for s in samples)
    results = {
        "schema_version": SCHEMA_VERSION,
        "harness": {"name": "r2rec-bench", "version": __version__},
        "dataset": run["dataset"],
        "split": config["split"],
        "mode": config["mode"],
        "model": run["model"],
        "backend": run["backend"],
        "parser": {"fuzzy": config["fuzzy"], "fuzzy_threshold": FUZZY_THRESHOLD},
        "seed": config["seed"],
        "limit": config["limit"],
        "shard": config["shard"],
        "n_users": summary["n_users"],
        "metrics": summary["metrics"],
        "interval": summary["interval"],
        "answers": {
            "valid": sum(bool(s["valid"]) for s in samples),
            "match": dict(sorted(Counter(s["match"] for s in samples).items())),
        },
        "faithfulness": aggregate_faithfulness(samples, seed=config["seed"]),
        "cost": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "wall_seconds": seconds,
            "users_per_second": len(samples) / seconds if seconds > 0 else None,
        },
        "environment": _environment(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json_atomic(out / RESULTS, results)
    return results


def merge_shards(shard_dirs: list[Path | str], output_dir: Path | str) -> dict:
    """Join the outputs of ``--shard 0/n`` … ``--shard n-1/n`` into one run directory.

    The shards must share their config (but for the shard), be complete, be all n of them
    once each, and hold every user once; the merged samples follow the split's row order.
    """
    from r2rec_bench.atomic import atomic_directory

    if not shard_dirs:
        raise UserError("merge: give the shard directories to join")
    output_dir = Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()):
        raise UserError(f"{output_dir}: exists and is not empty; choose a new --output-dir")
    runs, samples = [], []
    for directory in map(Path, shard_dirs):
        run = _read_json(directory / RUN, "pass a directory written by `evaluate --shard`")
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


def _results_path(target: Path | str) -> Path:
    path = Path(target)
    return path / RESULTS if path.is_dir() else path


def compare_runs(
    results_a: Path | str,
    results_b: Path | str,
    *,
    metrics: list[str] | None = None,
    seed: int = 0,
) -> dict:
    """Paired differences (a − b) per metric on the same users, from each run's samples."""
    import numpy as np

    from r2rec_bench.harness.metrics import metric_names, paired_compare, per_user_metrics

    names = metric_names()
    chosen = [m.lower() for m in metrics] if metrics else names
    unknown = [m for m in chosen if m not in names]
    if unknown:
        raise UserError(f"--metric {unknown[0]}: use one of {', '.join(names)}")
    runs = []
    for target in (results_a, results_b):
        path = _results_path(target)
        results = _read_json(path, "pass a results.json written by `r2rec-bench evaluate`")
        samples = read_samples(path.parent / SAMPLES)
        if not samples:
            raise UserError(
                f"{path.parent / SAMPLES}: missing or empty; compare needs the "
                "per-sample log next to results.json"
            )
        runs.append((path, results, {s["user_id"]: s for s in samples}))
    (path_a, res_a, by_user_a), (path_b, res_b, by_user_b) = runs
    if res_a["dataset"]["fingerprint"] != res_b["dataset"]["fingerprint"]:
        raise UserError(
            f"compare: {path_a} and {path_b} are on different datasets (fingerprints differ)"
        )
    if res_a["split"] != res_b["split"]:
        raise UserError(
            f"compare: {path_a} is on split {res_a['split']}, {path_b} on {res_b['split']}"
        )
    if by_user_a.keys() != by_user_b.keys():
        only_a = len(by_user_a.keys() - by_user_b.keys())
        only_b = len(by_user_b.keys() - by_user_a.keys())
        raise UserError(
            f"compare: the runs evaluated different users ({only_a} only in "
            f"{path_a}, {only_b} only in {path_b}); compare runs on the same "
            "users"
        )
    users = sorted(by_user_a)
    values = []
    for by_user in (by_user_a, by_user_b):
        ranks = np.array([by_user[u]["target_rank"] for u in users])
        valid = np.array([by_user[u]["valid"] for u in users], dtype=bool)
        values.append(per_user_metrics(ranks, valid))
    rows = {}
    for name in chosen:
        paired = paired_compare(values[0][name], values[1][name], seed)
        rows[name] = {
            "a": float(values[0][name].mean()),
            "b": float(values[1][name].mean()),
            **paired,
        }
    return {
        "a": {"path": str(path_a), "model": res_a["backend"]["spec"]},
        "b": {"path": str(path_b), "model": res_b["backend"]["spec"]},
        "dataset": res_a["dataset"],
        "split": res_a["split"],
        "n_users": len(users),
        "seed": seed,
        "test": "difference a - b; percentile paired bootstrap interval (95%); two-sided "
        "paired sign-flip permutation test p-value",
        "metrics": rows,
    }
