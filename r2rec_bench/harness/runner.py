"""The evaluation loop (DESIGN §7): users in batches through a backend, each output scored by
the benchmark's one scoring path (task.scoring) and appended to the output directory's record
(harness.record); results.json at the end (harness.results).

A resume is the same command again: users already in ``samples.jsonl`` are skipped, and since
every metric depends only on the multiset of per-user outcomes, the results equal those of an
uninterrupted run.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from r2rec_bench.errors import UserError
from r2rec_bench.faithfulness import sample_input, static_scorer
from r2rec_bench.faithfulness.counterfactual import run_counterfactual
from r2rec_bench.harness.record import (
    SAMPLES,
    append_samples,
    check_config,
    locked,
    read_samples,
    start_record,
)
from r2rec_bench.harness.results import finalize
from r2rec_bench.hashing import canonical_json, sha256_text
from r2rec_bench.llm.openai_client import redact_url
from r2rec_bench.task.dataset import SPLITS, Dataset, open_dataset
from r2rec_bench.task.records import (
    MODES,
    RESULTS_SCHEMA_VERSION,
    Backend,
    EvalExample,
    Sample,
)
from r2rec_bench.task.scoring import score_scores, score_text

FAITHFULNESS = ("static", "full")
DEFAULT_BATCH_SIZE = 32
# Options that change how fast or where a model runs, not what it answers: a resume may
# change them (a smaller batch after running out of memory, a restarted server's new port,
# a longer timeout or more retries for a busy server).
_FREE_OPTIONS = frozenset({"batch_size", "base_url", "timeout", "max_retries"})


def model_slug(spec: str, adapter: str | None = None) -> str:
    """A folder name for a model: a local path's last component, else the spec made safe."""
    path = Path(spec).expanduser()
    slug = path.resolve().name if path.exists() else spec
    if adapter:
        slug += "+" + Path(adapter).expanduser().resolve().name
    return re.sub(r"[^A-Za-z0-9._+-]+", "--", slug).strip("-.") or "model"


def default_output_dir(
    dataset_name: str,
    spec: str,
    adapter: str | None = None,
    *,
    split: str = "test",
    mode: str = "generate",
    limit: int | None = None,
) -> Path:
    """``results/<dataset>/<model>/<split>-<mode>[-limit<N>]``: a smoke test with ``--limit``,
    the full run, and the other mode each get their own folder."""
    run = f"{split}-{mode}" + (f"-limit{limit}" if limit else "")
    return Path("results") / dataset_name / model_slug(spec, adapter) / run


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


def run_config(
    *, spec, revision, dataset: Dataset, split, mode, seed, limit, shard, fuzzy, options
) -> dict:
    """What a resume must match. ``revision`` is None before the model is loaded: the early
    check (:func:`check_output_dir`) then compares everything else."""
    config = {
        "model": spec,
        "dataset_fingerprint": dataset.fingerprint,
        "split": split,
        "mode": mode,
        "seed": seed,
        "limit": limit,
        "shard": list(shard) if shard else None,
        "fuzzy": fuzzy,
        "options": {k: v for k, v in options.items() if k not in _FREE_OPTIONS and v is not None},
    }
    if revision is not None:
        config["model_revision"] = revision
    return config


def check_output_dir(out: Path, config: dict) -> None:
    """Refuse, before a model is loaded, an output directory that holds a different run."""
    check_config(Path(out), {"config": config})


def _batch_size(batch_size, backend: Backend) -> int:
    if isinstance(batch_size, int) and not isinstance(batch_size, bool):
        if batch_size < 1:
            raise UserError(f"--batch-size {batch_size}: must be at least 1")
        return batch_size
    # "auto" or unset: the backend may know its best batch (hf measures it); else a default.
    preferred = getattr(backend, "batch_size", None)
    return preferred if isinstance(preferred, int) and preferred > 0 else DEFAULT_BATCH_SIZE


def evaluate_batch(
    backend: Backend, examples: list[EvalExample], mode: str, fuzzy: bool, scorer=None
) -> list[Sample]:
    """Ask the backend about ``examples`` and score each answer against its gold."""
    requests = [example.request for example in examples]
    began = time.perf_counter()
    outputs = backend.generate(requests) if mode == "generate" else backend.rank(requests)
    seconds = (time.perf_counter() - began) / max(1, len(requests))
    if len(outputs) != len(requests):
        raise RuntimeError(
            f"backend {type(backend).__name__}.{mode} answered {len(outputs)} of "
            f"{len(requests)} requests"
        )
    scored, tokens = [], []
    for example, output in zip(examples, outputs, strict=True):
        request, gold = example.request, example.gold
        if mode == "generate":
            text = output.text if isinstance(output.text, str) else ""
            scored.append(
                score_text(text, request.candidate_titles, gold.target_index, fuzzy=fuzzy)
            )
            tokens.append((output.prompt_tokens, output.completion_tokens))
        else:
            if len(output) != len(request.candidates):
                raise RuntimeError(
                    f"backend {type(backend).__name__}.rank gave {len(output)} scores for "
                    f"{len(request.candidates)} candidates (user {request.user_id})"
                )
            scored.append(score_scores(output, request.user_id, request.candidates,
                                       gold.target_index))  # fmt: skip
            tokens.append((None, None))
    faithfulness = [None] * len(examples)
    readings = [(i, s) for i, s in enumerate(scored) if s.parsed is not None]
    if scorer is not None and readings:
        inputs = [sample_input(examples[i].request, s.parsed) for i, s in readings]
        for (i, _), values in zip(readings, scorer.score(inputs), strict=True):
            faithfulness[i] = {"static": values}
    return [
        Sample.model_validate(
            {
                "index": example.index,
                "user_id": example.request.user_id,
                "candidates": list(example.request.candidates),
                "target": example.gold.target,
                "target_index": example.gold.target_index,
                **result.fields(),
                "prompt_sha256": sha256_text(canonical_json(example.request.prompt)),
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "seconds": seconds,
                "faithfulness": values,
            }
        )
        for example, result, (prompt_tokens, completion_tokens), values in zip(
            examples, scored, tokens, faithfulness, strict=True
        )
    ]


def run_evaluation(
    backend: Backend,
    dataset: Dataset | str | Path,
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
    out = Path(output_dir) if output_dir else default_output_dir(
        dataset.name, spec, options.get("adapter"), split=split, mode=mode, limit=limit
    )  # fmt: skip
    if shard:
        out = out / f"shard-{shard[0]}-of-{shard[1]}"
    config = run_config(
        spec=spec, revision=description.get("revision"), dataset=dataset, split=split,
        mode=mode, seed=seed, limit=limit, shard=shard, fuzzy=fuzzy, options=options,
    )  # fmt: skip
    record = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "config": config,
        "dataset": dataset.describe(),
        "model": description,
        "backend": {
            "spec": spec,
            "options": {k: redact_url(v) if k == "base_url" else v for k, v in options.items()},
        },
        "users": len(indices),
        "users_before_sharding": len(selected),
    }
    fresh = not out.exists()
    check_config(out, record)  # before anything is written
    out.mkdir(parents=True, exist_ok=True)
    try:
        with locked(out):
            _evaluate_into(out, record, backend, dataset, eval_split, indices, mode=mode,
                           batch_size=batch_size, seed=seed, fuzzy=fuzzy, quiet=quiet,
                           faithfulness=faithfulness, split=split, tqdm=tqdm)  # fmt: skip
    except BaseException:
        # A run that evaluated nobody leaves nothing to resume: leave no directory behind.
        samples = out / SAMPLES
        if fresh and (not samples.exists() or samples.stat().st_size == 0):
            shutil.rmtree(out, ignore_errors=True)
        raise
    return finalize(out)


def _evaluate_into(out, record, backend, dataset, eval_split, indices, *, mode, batch_size,
                   seed, fuzzy, quiet, faithfulness, split, tqdm) -> None:  # fmt: skip
    start_record(out, record)
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
    scorer = static_scorer(dataset, seed) if mode == "generate" and todo else None
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
            append_samples(handle, evaluate_batch(backend, examples, mode, fuzzy, scorer))
            progress.update(len(examples))
    if faithfulness == "full":
        run_counterfactual(
            backend, dataset, split, read_samples(out / SAMPLES), out,
            seed=seed, batch_size=step, quiet=quiet,
        )  # fmt: skip
