"""``r2rec-bench build``: raw files → protocol → a Hub-layout dataset directory."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from r2rec_bench.atomic import atomic_directory, refuse_foreign
from r2rec_bench.builders import BuilderSpec, load_builder
from r2rec_bench.chains.sampler import sample_chains
from r2rec_bench.errors import UserError
from r2rec_bench.graph import TrainGraph
from r2rec_bench.protocol import EvalSplit, ProtocolOutput, run_protocol, training_targets
from r2rec_bench.render.dataset import ExtraConfig, write_dataset
from r2rec_bench.render.traces import assistant_text, rl_table, sft_table
from r2rec_bench.shards import read_shards, shard_dir, shard_path, write_shard
from r2rec_bench.sources import read_source
from r2rec_bench.sources.fetch import FETCHABLE, IndexWheel, default_raw_dir, fetch
from r2rec_bench.task.dataset import MANIFEST
from r2rec_bench.task.prompt import user_prompt
from r2rec_bench.teacher import build_traces, make_teacher
from r2rec_bench.teacher.types import Trace

BUILD_STEPS = 7  # read, protocol, four config files, card + manifest
IOT_STEPS = 6  # graph + examples, chains, traces, and the sft/train, sft/validation, rl/train files
QUALITY_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def resolve_raw_dir(spec: BuilderSpec, raw_dir: Path | None, quiet: bool) -> Path:
    """The folder to read: the one given, else the cache, fetching an offline default."""
    if raw_dir is not None:
        return Path(raw_dir)
    if spec.source.fetch is None:
        raise UserError(f"builder {spec.name} names no fetchable source; pass --raw-dir")
    cached = default_raw_dir(spec.source.fetch, spec.source.options.get("category"))
    if cached.is_dir():
        return cached
    default_source = next(iter(FETCHABLE[spec.source.fetch].values()))
    if isinstance(default_source, IndexWheel):  # from the package index: fetch it now
        return fetch(spec.source.fetch, quiet=quiet)
    raise UserError(
        f"{cached}: no raw data for {spec.source.name} yet; run `r2rec-bench data fetch "
        f"{spec.source.fetch}` (downloads from the official site) or pass --raw-dir"
    )


def _validation_users(user_ids: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A seeded share of users whose examples form `sft/validation` (never also in train)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4]))
    return rng.random(len(user_ids)) < share


@dataclass(frozen=True)
class IoTInputs:
    """What every trace of a build is made from: the training examples and the graph."""

    examples: EvalSplit
    graph: TrainGraph


def iot_inputs(spec: BuilderSpec, output: ProtocolOutput) -> IoTInputs:
    examples = training_targets(output, spec.iot.targets_per_user)
    limit = spec.iot.max_examples
    if limit is not None and limit < len(examples):
        # A seeded sample, kept in (user, time) order: the same examples for every teacher.
        rng = np.random.default_rng(np.random.SeedSequence([spec.protocol.seed, 5]))
        examples = examples.take(np.sort(rng.choice(len(examples), limit, replace=False)))
    return IoTInputs(
        examples=examples,
        graph=TrainGraph.from_train(output.train, len(output.user_id), len(output.catalog)),
    )


def make_traces(
    spec: BuilderSpec,
    output: ProtocolOutput,
    inputs: IoTInputs,
    rows: np.ndarray,
    *,
    teacher: str,
    base_url: str | None,
    concurrency: int,
    quiet: bool,
    bar,
    teacher_args: dict | None = None,
) -> tuple[list[Trace], list[Trace] | None, float]:
    """Chains in the training graph, then teacher traces, for the example ``rows``: (traces,
    the template teacher's traces on the same chains when the teacher is another one, for the
    card's comparison, and the teacher's wall seconds)."""

    iot = spec.iot
    examples = inputs.examples.take(rows)
    bar.set_postfix_str(f"chains for {len(examples):,} examples")
    chains = sample_chains(
        inputs.graph, examples, kinds=iot.chain_kinds, per_example=iot.chains_per_example,
        weighting=iot.weighting, seed=spec.protocol.seed, held_out=output.seen_keys,
        loop_share=iot.loop_share, progress=not quiet,
    )  # fmt: skip
    bar.update(1)
    bar.set_postfix_str(f"traces by {teacher}")
    began = time.perf_counter()
    llm = make_teacher(teacher, base_url=base_url, concurrency=concurrency, **(teacher_args or {}))
    try:
        traces = build_traces(
            llm, output, inputs.graph, examples, chains, spec.prompt, progress=not quiet
        )
    finally:
        llm.close()
    seconds = time.perf_counter() - began
    template = None
    if teacher != "template":
        template = build_traces(
            make_teacher("template"), output, inputs.graph, examples, chains, spec.prompt
        )
    bar.update(1)

    def renumber(found: list[Trace]) -> list[Trace]:
        return [replace(trace, example=int(rows[trace.example])) for trace in found]

    return renumber(traces), renumber(template) if template else None, seconds


def iot_configs(
    spec: BuilderSpec,
    output: ProtocolOutput,
    inputs: IoTInputs,
    traces: list[Trace],
    teacher: str,
    template: list[Trace] | None = None,
    seconds: float | None = None,
) -> tuple[list[ExtraConfig], dict]:
    """The `sft` and `rl` configs and their card statistics, from every example's trace;
    ``template`` (the template teacher's traces on the same examples) and ``seconds`` (the
    teacher's wall time) are reported for a language-model teacher."""
    from collections import Counter

    iot, examples = spec.iot, inputs.examples
    # Attribute-only traces (no chain exists) stay whatever their quality: dropping them would
    # silently remove the users the graph cannot explain. They are marked and counted.
    kept = [t for t in traces if t.attribute_only or t.quality >= iot.min_quality]
    in_validation = _validation_users(output.user_id, iot.sft_validation_share, spec.protocol.seed)
    sft_validation = [t for t in kept if in_validation[examples.user[t.example]]]
    sft_train = [t for t in kept if not in_validation[examples.user[t.example]]]
    extra = [
        ExtraConfig("sft", "train", sft_table(output, examples, sft_train, spec.prompt)),
        ExtraConfig("sft", "validation", sft_table(output, examples, sft_validation, spec.prompt)),
        ExtraConfig("rl", "train", rl_table(output, examples, spec.prompt)),
    ]
    all_chains = [chain for trace in traces for chain in trace.chains]
    qualities = np.array([trace.quality for trace in traces])
    histogram = np.histogram(qualities, bins=QUALITY_BINS)[0]
    example_trace = next((t for t in sft_train if not t.attribute_only), None) or (
        sft_train[0] if sft_train else None
    )
    summary = {
        "examples": len(examples),
        "targets_per_user": iot.targets_per_user,
        "teacher": teacher,
        "weighting": iot.weighting,
        "loop_share": iot.loop_share,
        "chain_kinds": dict(sorted(Counter(chain.kind for chain in all_chains).items())),
        "chain_steps": {str(k): v for k, v in sorted(Counter(c.steps for c in all_chains).items())},
        "examples_without_chain": int(sum(1 for t in traces if not t.chains)),
        "attribute_only_traces": int(sum(t.attribute_only for t in traces)),
        "min_quality": iot.min_quality,
        "mean_quality": float(qualities.mean()) if len(qualities) else 0.0,
        "quality_histogram": [
            {"from": lo, "to": hi, "traces": int(n)}
            for lo, hi, n in zip(QUALITY_BINS[:-1], QUALITY_BINS[1:], histogram, strict=True)
        ],
        "kept_traces": len(kept),
        "filtered_traces": len(traces) - len(kept),
        "sft_rows": {"train": len(sft_train), "validation": len(sft_validation)},
        "rl_rows": len(examples),
        "prompt_tokens": int(sum(t.prompt_tokens for t in traces)),
        "completion_tokens": int(sum(t.completion_tokens for t in traces)),
        "max_examples": iot.max_examples,
        "verified_steps": _verified_steps(traces),
        "steps_by_kind": _steps_by_kind(traces),
        "kept_with_loop": int(sum(any(c.kind == "loop" for c in t.chains) for t in kept)),
        "target_popularity": _target_popularity(output, examples, traces, kept),
        **({"teacher_seconds": round(seconds, 1)} if teacher != "template" and seconds else {}),
        **({"template_comparison": _verified_steps(template)} if template else {}),
        "graph": inputs.graph.statistics(),
    }
    if example_trace is not None:
        row, titles = example_trace.example, output.catalog.title
        summary["example"] = {
            "user_id": str(output.user_id[examples.user[row]]),
            "quality": example_trace.quality,
            "chains": [chain.kind for chain in example_trace.chains],
            "prompt": user_prompt(
                spec.prompt,
                [titles[i] for i in examples.history(row)],
                [titles[i] for i in examples.candidates[row]],
            ),
            "assistant": assistant_text(example_trace, titles[examples.target[row]]),
        }
    return extra, summary


def _check_output(out: Path, source_dir: Path) -> None:
    """Refuse, before any work, an output folder that would destroy input or a user's files."""
    out_path, source = out.resolve(), Path(source_dir).resolve()
    if source == out_path or source.is_relative_to(out_path):
        raise UserError(
            f"--out {out}: holds the raw files ({source_dir}), which the build would replace; "
            "choose another output folder"
        )
    refuse_foreign(out, lambda folder: (folder / MANIFEST).is_file(), "a dataset")
    _check_writable(out)


def _check_writable(out: Path) -> None:
    """Fail before the work, not after it, when ``out`` cannot be written."""
    existing = Path(out).absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(
            f"--out {out}: {existing} is not a folder this process can write to; choose "
            "another output folder"
        )


def _verified_steps(traces: list[Trace]) -> dict:
    """How many masked steps the teacher predicted right, and the traces' mean quality."""
    steps = [thought for trace in traces for thought in trace.thoughts]
    verified = sum(thought.verified for thought in steps)
    return {
        "verified": verified,
        "steps": len(steps),
        "share": verified / len(steps) if steps else 0.0,
        "mean_quality": float(np.mean([t.quality for t in traces])) if traces else 0.0,
    }


def _steps_by_kind(traces: list[Trace]) -> list[dict]:
    """Per kind of masked step: how often the teacher was right, against chance (1/options),
    and how many wrong steps were kept as corrections."""
    found: dict[str, list[int | float]] = {}
    for thought in (t for trace in traces for t in trace.thoughts):
        counts = found.setdefault(thought.step, [0, 0, 0.0])
        counts[0] += 1
        counts[1] += thought.verified
        counts[2] += 1 / thought.options if thought.options else 0.0
    return [
        {"step": kind, "steps": n, "verified": v / n, "chance": chance / n, "corrections": n - v}
        for kind, (n, v, chance) in found.items()
    ]


def _target_popularity(output, examples, traces: list[Trace], kept: list[Trace]) -> dict:
    """Median training interactions of the targets, before and after the quality filter, and
    of the test targets: whether the filter keeps the easy (popular) examples."""
    popularity = output.catalog.train_popularity

    def median(codes) -> float:
        return (
            float(np.median(popularity[np.asarray(codes, dtype=np.int64)])) if len(codes) else 0.0
        )

    return {
        "all_examples": median(examples.target[[t.example for t in traces]]),
        "kept": median(examples.target[[t.example for t in kept]]),
        "test": median(output.test.target),
    }


def _shard_header(spec: BuilderSpec, inputs: IoTInputs, teacher: str) -> dict:
    """What shards must share to be merged: builder, protocol, teacher and examples."""
    digest = hashlib.sha256()
    for array in (inputs.examples.user, inputs.examples.target, inputs.examples.candidates):
        digest.update(np.ascontiguousarray(array).tobytes())
    return {
        "builder": spec.name,
        "builder_version": spec.version,
        "protocol": spec.protocol.to_dict(),
        "iot": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(spec.iot).items()},
        "teacher": teacher,
        "examples_sha256": digest.hexdigest(),
    }


def build(
    builder: str,
    *,
    out: Path | None = None,
    raw_dir: Path | None = None,
    seed: int | None = None,
    teacher: str | None = None,
    base_url: str | None = None,
    concurrency: int = 8,
    shard: tuple[int, int] | None = None,
    merge_shards: int | None = None,
    quiet: bool = False,
    teacher_args: dict | None = None,
    max_examples: int | None = None,
) -> tuple[Path, dict]:
    """Build ``builder`` into ``out`` (default ``out/<name>``); returns (path, manifest).

    ``teacher`` overrides the builder's teacher (``template``, ``hf:<model>``,
    ``openai:<model>`` with ``base_url``; ``teacher_args`` such as ``max_tokens``,
    ``batch_size``, ``dtype`` go to the teacher). ``max_examples`` overrides the builder's
    seeded sample of examples that get traces. With ``shard=(i, n)`` only the traces of shard i
    are built and stored beside ``out`` (returns that file and its header); with
    ``merge_shards=n`` the n stored shards are merged into the dataset.
    """
    from tqdm.auto import tqdm

    spec = load_builder(builder)
    if seed is not None:
        spec = replace(spec, protocol=replace(spec.protocol, seed=seed))
    if max_examples is not None:
        spec = replace(spec, iot=replace(spec.iot, max_examples=max_examples))
    out = Path(out) if out else Path("out") / spec.name
    source_dir = resolve_raw_dir(spec, raw_dir, quiet)
    _check_output(out, source_dir)
    bar = tqdm(total=BUILD_STEPS + IOT_STEPS, desc=f"build {spec.name}", unit="step", disable=quiet)
    try:
        bar.set_postfix_str("reading raw files")
        log = read_source(spec.source.reader, source_dir, **spec.source.options)
        bar.update(1)
        bar.set_postfix_str("protocol")
        output = run_protocol(log, spec.protocol)
        bar.update(1)
        teacher = teacher or spec.iot.teacher
        bar.set_postfix_str("training graph")
        inputs = iot_inputs(spec, output)
        bar.update(1)
        header = _shard_header(spec, inputs, teacher)
        if merge_shards is not None:
            traces = read_shards(out, merge_shards, header)
            if [t.example for t in traces] != list(range(len(inputs.examples))):
                raise UserError(
                    f"{shard_dir(out)}: the shards do not cover every example exactly once; "
                    f"rebuild them with the same --shard count"
                )
            bar.update(2)
            template, seconds = None, None
        else:
            rows = np.arange(len(inputs.examples))
            if shard is not None:
                rows = rows[inputs.examples.user % shard[1] == shard[0]]
            traces, template, seconds = make_traces(
                spec, output, inputs, rows, teacher=teacher, base_url=base_url,
                concurrency=concurrency, quiet=quiet, bar=bar, teacher_args=teacher_args,
            )  # fmt: skip
            if shard is not None:
                path = shard_path(out, *shard)
                write_shard(path, {**header, "shard": list(shard)}, traces)
                return path, {**header, "shard": list(shard), "traces": len(traces)}
        extra, iot = iot_configs(spec, output, inputs, traces, teacher, template, seconds)
        meta = {"format": log.source, "files": log.files, "notes": log.notes}
        with atomic_directory(out) as staging:
            manifest = write_dataset(staging, spec, output, meta, bar, extra, iot)
    except BaseException:
        bar.leave = False  # the one-line error, not a half-drawn bar, is what the user reads
        raise
    finally:
        bar.close()
    return out, manifest
