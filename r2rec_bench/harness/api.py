"""The Python API: :func:`evaluate` does what ``r2rec-bench evaluate`` does and returns the
typed :class:`~r2rec_bench.task.records.Results` (the command parses its flags and calls it).

Like lm-evaluation-harness's ``simple_evaluate``, it takes the model spec and its options as
values (``model_args`` and ``gen_kwargs`` as dicts or as the command line's ``k=v,...``
strings) and writes the same output directory, so a run started from Python resumes from the
command line and the other way round. :func:`evaluate_repeats` runs ``n`` sampled repeats.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from r2rec_bench.atomic import write_text_atomic
from r2rec_bench.console import parse_key_values
from r2rec_bench.errors import UserError
from r2rec_bench.task.metrics import seed_spread
from r2rec_bench.task.records import Results

# --gen-kwargs keys: the sampling settings a backend applies, `max_new_tokens` (the same as
# the flag), and `n`, the number of sampled repeats (each a full run of its own).
SAMPLING_KEYS = ("temperature", "top_p", "top_k")
GEN_KWARGS = (*SAMPLING_KEYS, "max_new_tokens", "n")


def parse_limit(text: str | None) -> int | float | None:
    """``--limit`` as a number: whole numbers are users, the rest fractions (checked by
    :func:`resolve_limit`)."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"--limit {text}: not a number; {_LIMIT_RULE}") from None
    return int(value) if value.is_integer() else value


_LIMIT_RULE = "use a number of users (at least 1) or a fraction between 0 and 1"


def resolve_limit(limit: int | float | None, users: int) -> int | None:
    """A limit as a number of users: a fraction of ``users`` is rounded up (as lm-eval
    does); ``UserError`` for anything else than a positive integer or a fraction in (0, 1)."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int | float):
        raise UserError(f"--limit {limit!r}: {_LIMIT_RULE}")
    if isinstance(limit, float) and 0 < limit < 1:
        return max(1, math.ceil(users * limit))
    if limit >= 1 and float(limit).is_integer():
        return int(limit)
    raise UserError(f"--limit {limit:g}: {_LIMIT_RULE} (leave it out for every user)")


def _as_dict(value: dict | str | None, flag: str) -> dict:
    if isinstance(value, dict):
        return dict(value)
    return parse_key_values(value, flag)


def generation_settings(gen_kwargs: dict, *, mode: str, max_new_tokens: int | None) -> dict:
    """The sampling settings handed to the backend, checked: ``{}`` means greedy decoding.

    ``temperature`` 0 is greedy (the default); ``top_p`` and ``top_k`` only shape sampling, so
    they need a temperature above 0 rather than being silently ignored."""
    unknown = sorted(set(gen_kwargs) - set(GEN_KWARGS))
    if unknown:
        raise UserError(f"--gen-kwargs {unknown[0]}: unknown; use {', '.join(GEN_KWARGS)}")
    if gen_kwargs and mode != "generate":
        raise UserError("--gen-kwargs: rank mode scores candidates and decodes nothing")
    settings = {key: gen_kwargs[key] for key in SAMPLING_KEYS if gen_kwargs.get(key) is not None}
    for key, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(f"--gen-kwargs {key}={value}: must be a number")
    temperature = float(settings.get("temperature", 0))
    if temperature < 0:
        raise UserError(f"--gen-kwargs temperature={temperature:g}: must be 0 (greedy) or more")
    if not 0 < float(settings.get("top_p", 1)) <= 1:
        raise UserError(f"--gen-kwargs top_p={settings['top_p']}: must be in (0, 1]")
    if "top_k" in settings and (not isinstance(settings["top_k"], int) or settings["top_k"] < 1):
        raise UserError(f"--gen-kwargs top_k={settings['top_k']}: must be an integer ≥ 1")
    if temperature == 0 and ({"top_p", "top_k"} & settings.keys()):
        raise UserError(
            "--gen-kwargs: top_p and top_k shape sampling; add temperature=<above 0> "
            "(temperature 0 is greedy decoding)"
        )
    if temperature == 0:
        settings.pop("temperature", None)  # greedy: the default, recorded by the backend
    else:
        settings["temperature"] = temperature
    tokens = gen_kwargs.get("max_new_tokens")
    if tokens is not None and max_new_tokens is not None and tokens != max_new_tokens:
        raise UserError(
            f"--gen-kwargs max_new_tokens={tokens} and --max-new-tokens {max_new_tokens} "
            "disagree; give one"
        )
    return settings


def evaluate(
    model: str,
    dataset: str | Path,
    *,
    split: str = "test",
    mode: str = "generate",
    limit: int | float | None = None,
    model_args: dict | str | None = None,
    gen_kwargs: dict | str | None = None,
    revision: str | None = None,
    dataset_revision: str | None = None,
    chat_template: str | None = None,
    adapter: str | None = None,
    base_url: str | None = None,
    rank_score: str | None = None,
    max_new_tokens: int | None = None,
    batch_size: int | str | None = None,
    seed: int = 0,
    output_dir: str | Path | None = None,
    shard: tuple[int, int] | None = None,
    fuzzy: bool = False,
    faithfulness: str = "static",
    quiet: bool = True,
) -> Results:
    """Evaluate ``model`` (a spec as on the command line: Hub id or path, ``openai:...``,
    ``baseline:...``, ``ref:...``) on a dataset's eval split and return its results.

    Writes ``samples.jsonl`` and ``results.json`` into ``output_dir`` (default
    ``results/<dataset>/<model>/<split>-<mode>[-limit<N>]``) and resumes a run found there.
    ``limit`` below 1 is a fraction of the users. ``gen_kwargs`` (temperature, top_p, top_k,
    max_new_tokens) switch generation from greedy to sampling, seeded by ``seed``; for
    ``n`` repeats use :func:`evaluate_repeats`."""
    from r2rec_bench.harness.backends import parse_model_spec, resolve_backend
    from r2rec_bench.harness.runner import (
        check_arguments,
        check_faithfulness,
        check_output_dir,
        default_output_dir,
        run_config,
        run_evaluation,
    )
    from r2rec_bench.task.dataset import open_dataset

    gen = _as_dict(gen_kwargs, "--gen-kwargs")
    if gen.get("n", 1) != 1:
        raise UserError("--gen-kwargs n: repeats are evaluate_repeats(..., n=N), one run each")
    resolve_limit(limit, 1)  # a bad limit fails before any data is read
    check_arguments(split=split, mode=mode, limit=None, shard=shard)
    check_faithfulness(faithfulness, mode)
    if max_new_tokens is not None and max_new_tokens < 1:
        raise UserError(f"--max-new-tokens {max_new_tokens}: must be at least 1")
    generation = generation_settings(gen, mode=mode, max_new_tokens=max_new_tokens)
    max_new_tokens = gen.get("max_new_tokens", max_new_tokens)
    parse_model_spec(model)  # a malformed spec fails before any data is read
    if dataset_revision is not None and Path(dataset).expanduser().exists():
        raise UserError(
            f"--dataset-revision {dataset_revision}: {dataset} is a local directory; a "
            "revision applies to a Hub dataset repo id"
        )
    data = open_dataset(dataset, revision=dataset_revision)
    limit = resolve_limit(limit, len(data.split(split)))  # the split exists before loading
    options = {
        **_as_dict(model_args, "--model-args"),
        "batch_size": batch_size,
        "max_new_tokens": max_new_tokens,
        "adapter": adapter,
        "base_url": base_url,
        "rank_score": rank_score,
        "revision": revision,
        "chat_template": chat_template,
        "generation": generation or None,
    }
    output_dir = Path(output_dir or default_output_dir(
        data.name, model, adapter, split=split, mode=mode, limit=limit
    ))  # fmt: skip
    early = run_config(
        spec=model, revision=None, dataset=data, split=split, mode=mode, seed=seed,
        limit=limit, shard=shard, fuzzy=fuzzy, options=options,
    )  # fmt: skip
    # A folder that holds another run is refused now, not after minutes of model loading.
    check_output_dir(output_dir / (f"shard-{shard[0]}-of-{shard[1]}" if shard else ""), early)
    backend = resolve_backend(model, **options, seed=seed, dataset=data.root, quiet=quiet)
    results = run_evaluation(
        backend, data, model_spec=model, options=options, split=split, mode=mode,
        limit=limit, batch_size=batch_size, seed=seed, output_dir=output_dir, shard=shard,
        quiet=quiet, fuzzy=fuzzy, faithfulness=faithfulness,
    )  # fmt: skip
    return Results.model_validate_json(json.dumps(results))


@dataclass(frozen=True)
class Repeats:
    """``n`` sampled runs of one model: each a complete, verifiable run (seed, seed + 1, ...)
    in ``<output_dir>/repeat-<r>``, and per metric the mean and spread across them."""

    runs: list[Results]
    summary: dict


def evaluate_repeats(model: str, dataset: str | Path, *, n: int, **options) -> Repeats:
    """Run :func:`evaluate` ``n`` times with seeds ``seed`` … ``seed + n - 1`` and write
    ``repeats.json`` beside the runs. A trainable ``baseline:NAME`` is fitted once per seed;
    an LLM needs sampling settings in ``gen_kwargs`` (greedy repeats would be identical)."""
    from r2rec_bench.harness.backends import check_seeds_differ
    from r2rec_bench.harness.runner import default_output_dir
    from r2rec_bench.task.dataset import open_dataset

    gen = _as_dict(options.pop("gen_kwargs", None), "--gen-kwargs")
    gen.pop("n", None)
    if not isinstance(n, int) or n < 2:
        raise UserError(f"--seeds {n}: repeats need at least 2 seeds (1 is a single run)")
    check_seeds_differ(model, gen, n)
    seed = options.pop("seed", 0)
    output_dir = options.pop("output_dir", None)
    if output_dir is None:
        data = open_dataset(dataset, revision=options.get("dataset_revision"))
        limit = resolve_limit(options.get("limit"), len(data.split(options.get("split", "test"))))
        output_dir = default_output_dir(
            data.name, model, options.get("adapter"), split=options.get("split", "test"),
            mode=options.get("mode", "generate"), limit=limit,
        )  # fmt: skip
    output_dir = Path(output_dir)
    runs = [
        evaluate(
            model,
            dataset,
            gen_kwargs=gen,
            seed=seed + r,
            output_dir=output_dir / f"repeat-{r}",
            **options,
        )
        for r in range(n)
    ]
    summary = {
        "n": n,
        "seeds": [seed + r for r in range(n)],
        "runs": [f"repeat-{r}" for r in range(n)],
        "metrics": {
            name: seed_spread([run.metrics[name].value for run in runs]) for name in runs[0].metrics
        },
    }
    write_text_atomic(output_dir / "repeats.json", json.dumps(summary, indent=2) + "\n")
    return Repeats(runs=runs, summary=summary)
