"""``evaluate``, ``merge`` and ``compare``: the harness's subcommands.

Only argparse at import time: the CLI builds its parser for ``--help`` from here, so numpy,
pyarrow and every model stack are imported inside the handlers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from r2rec_bench.console import parse_key_values, print_json
from r2rec_bench.errors import UserError


def _interval(entry: dict) -> str:
    return f"{entry['value']:.4f}  [{entry['ci_low']:.4f}, {entry['ci_high']:.4f}]"


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` as (i, n), or ``UserError`` (the range is checked with the other arguments)."""
    if text is None:
        return None
    index, slash, count = text.partition("/")
    if not (slash and index.isdigit() and count.isdigit()):
        raise UserError(f"--shard {text}: use i/n, e.g. 0/4 for the first of four shards")
    return int(index), int(count)


def parse_batch_size(text: str | None) -> int | str | None:
    """A positive integer, ``auto``, or None (the backend's choice)."""
    if text is None or text == "auto":
        return text
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"--batch-size {text}: use a positive integer or `auto`")
    return int(text)


def _summary(results: dict, out: Path) -> str:
    lines = [
        f"{results['backend']['spec']} on {results['dataset']['id']} {results['split']} "
        f"({results['mode']}, {results['n_users']:,} users)",
    ]
    confidence = round(results["interval"]["confidence"] * 100)
    lines.append(f"{'metric':<12}  value   [{confidence}% interval]")
    lines += [f"{name:<12}  {_interval(entry)}" for name, entry in results["metrics"].items()]
    faithfulness = results.get("faithfulness")
    if faithfulness:
        lines.append(f"faithfulness ({faithfulness['mode']}; {faithfulness['definitions']})")
        for name, entry in faithfulness["metrics"].items():
            if entry["value"] is not None:
                lines.append(f"{name:<26}  {_interval(entry)}  n={entry['n']:,}")
    cost = results["cost"]
    rate = cost["users_per_second"]
    lines.append(
        f"{cost['total_tokens']:,} tokens, {cost['wall_seconds']:.1f} s"
        + (f", {rate:.2f} users/s" if rate else "")
    )
    lines.append(f"results: {out / 'results.json'}")
    return "\n".join(lines)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from r2rec_bench.harness.api import evaluate, evaluate_repeats, parse_limit

    gen_kwargs = parse_key_values(args.gen_kwargs, "--gen-kwargs")
    options = dict(
        split=args.split, mode=args.mode, limit=parse_limit(args.limit),
        model_args=args.model_args, revision=args.revision,
        dataset_revision=args.dataset_revision, chat_template=args.chat_template,
        adapter=args.adapter, base_url=args.base_url, rank_score=args.rank_score,
        max_new_tokens=args.max_new_tokens, batch_size=parse_batch_size(args.batch_size),
        seed=args.seed, output_dir=args.output_dir, shard=parse_shard(args.shard),
        fuzzy=args.fuzzy, faithfulness=args.faithfulness, quiet=args.quiet or args.json,
    )  # fmt: skip
    repeats = gen_kwargs.pop("n", 1)
    if args.seeds is not None:
        if repeats not in (1, args.seeds):
            raise UserError(f"--seeds {args.seeds} and --gen-kwargs n={repeats}: give one")
        repeats = args.seeds
    if repeats != 1:
        run = evaluate_repeats(args.model, args.dataset, n=repeats, gen_kwargs=gen_kwargs,
                               **options)  # fmt: skip
        if args.json:
            print_json(run.summary)
        elif not args.quiet:
            print(_repeats_summary(run.summary))
        return 0
    results = evaluate(args.model, args.dataset, gen_kwargs=gen_kwargs, **options)
    out = Path(results_dir(results, args))
    payload = results.model_dump(mode="json")
    if args.json:
        print_json({"path": str(out), **payload})
    elif not args.quiet:
        print(_summary(payload, out))
    return 0


def results_dir(results, args: argparse.Namespace) -> Path:
    """Where ``evaluate`` wrote a run: ``--output-dir`` or the default, plus the shard."""
    from r2rec_bench.harness.runner import default_output_dir

    shard = results.shard
    base = args.output_dir or default_output_dir(
        results.dataset.name, args.model, args.adapter, split=results.split,
        mode=results.mode, limit=results.limit,
    )  # fmt: skip
    return Path(base) / (f"shard-{shard[0]}-of-{shard[1]}" if shard else "")


def _repeats_summary(summary: dict) -> str:
    lines = [f"{summary['n']} repeats, seeds {summary['seeds'][0]}..{summary['seeds'][-1]}"]
    lines.append(f"{'metric':<12}  mean    sd      [min, max]")
    for name, entry in summary["metrics"].items():
        if entry["mean"] is not None:
            lines.append(
                f"{name:<12}  {entry['mean']:.4f}  {entry['sd']:.4f}  "
                f"[{entry['min']:.4f}, {entry['max']:.4f}]"
            )
    return "\n".join(lines)


def cmd_merge(args: argparse.Namespace) -> int:
    from r2rec_bench.harness.merge import merge_shards

    results = merge_shards(args.shard_dirs, args.output_dir)
    if args.json:
        print_json({"path": str(args.output_dir), **results})
    elif not args.quiet:
        print(_summary(results, args.output_dir))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from r2rec_bench.harness.compare import compare_runs

    report = compare_runs(args.results_a, args.results_b, metrics=args.metric, seed=args.seed)
    if args.json:
        print_json(report)
        return 0
    print(f"a = {report['a']['model']} ({report['a']['path']})")
    print(f"b = {report['b']['model']} ({report['b']['path']})")
    print(f"{report['dataset']['id']} {report['split']}, {report['n_users']:,} users, paired")
    print(f"{'metric':<12} {'a':>8} {'b':>8} {'a - b':>8}  {'95% interval':<19} {'p':>7}")
    for name, row in report["metrics"].items():
        print(
            f"{name:<12} {row['a']:8.4f} {row['b']:8.4f} {row['diff']:+8.4f}  "
            f"[{row['ci_low']:+.4f}, {row['ci_high']:+.4f}] {row['p_value']:7.4f}"
        )
    return 0


def register(subcommands) -> None:
    evaluate = subcommands.add_parser(
        "evaluate",
        help="score a model or baseline on a dataset's fixed candidates",
        description="Evaluate a model on the `eval` config of a dataset: HR@k, NDCG@k, MRR "
        "and ValidRatio with 95% bootstrap intervals, a per-user samples.jsonl and a "
        "results.json. Rerunning the same command resumes an interrupted run.",
    )
    evaluate.add_argument(
        "--model",
        required=True,
        metavar="SPEC",
        help="a Hugging Face causal LM (Hub id or local path, optionally hf:...), "
        "openai:<model> (with --base-url), baseline:<name> or ref:<name>",
    )
    evaluate.add_argument(
        "--dataset",
        required=True,
        metavar="DIR_OR_HUB_ID",
        help="a built dataset directory or a Hub dataset repo id",
    )
    evaluate.add_argument("--split", default="test", choices=["test", "validation"])
    evaluate.add_argument(
        "--mode",
        default="generate",
        choices=["generate", "rank"],
        help="generate: reasoning + answer, parsed; rank: score every candidate by "
        "log-likelihood (default: generate)",
    )
    evaluate.add_argument(
        "--limit",
        metavar="N",
        help="only the first N users; below 1, that fraction of them (e.g. 0.1), rounded up",
    )
    evaluate.add_argument(
        "--batch-size",
        metavar="N|auto",
        help="requests per backend call (default: the backend's choice)",
    )
    evaluate.add_argument("--max-new-tokens", type=int, metavar="N", help="generation length")
    evaluate.add_argument(
        "--seed", type=int, default=0, help="seed of the intervals and of any sampling"
    )
    evaluate.add_argument(
        "--output-dir",
        type=Path,
        help="default: results/<dataset>/<model-slug>/<split>-<mode>[-limit<N>]/",
    )
    evaluate.add_argument(
        "--shard",
        metavar="i/n",
        help="evaluate every n-th user from the i-th (0-based) "
        "into a shard-i-of-n subdirectory; join them with `merge`",
    )
    evaluate.add_argument(
        "--model-args",
        metavar="K=V,...",
        help="backend options (recorded in results.json; a resume must give the same). hf: "
        "dtype (auto, float32, bfloat16, float16), device (auto, cpu, cuda, cuda:1), "
        "device_map (e.g. auto, to spread a model over GPUs), trust_remote_code; openai: "
        "timeout, max_retries (requests in flight: --batch-size)",
    )
    evaluate.add_argument(
        "--gen-kwargs",
        metavar="K=V,...",
        help="sampling instead of greedy decoding: temperature, top_p, top_k, "
        "max_new_tokens; n=N is --seeds N. Greedy stays the default; both are recorded "
        "in results.json",
    )
    evaluate.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help="N runs, seeds SEED..SEED+N-1, into repeat-<r>/ with each metric's spread in "
        "repeats.json: a trainable baseline:NAME is fitted once per seed, an LLM must sample "
        "(--gen-kwargs temperature=...). `submit` files the first run with the others "
        "beside it (seeds.json)",
    )
    evaluate.add_argument(
        "--revision",
        metavar="REV",
        help="the model's Hub revision (branch, tag or commit) for a Hub id",
    )
    evaluate.add_argument(
        "--dataset-revision",
        metavar="REV",
        help="the dataset's Hub revision for a Hub dataset repo id",
    )
    evaluate.add_argument(
        "--chat-template",
        metavar="auto|plain|FILE",
        help="hf models: auto = the tokenizer's chat template, or plain System:/User: text "
        "when it has none (default); plain = always plain text; FILE = this Jinja chat "
        "template (for a tokenizer without one). Its sha256 is recorded in results.json",
    )
    evaluate.add_argument(
        "--rank-score",
        choices=["sum", "mean"],
        help="rank mode, hf models: a title's log-likelihood summed over its tokens (the "
        "probability of exactly that answer; default) or their mean (length-normalised)",
    )
    evaluate.add_argument("--adapter", metavar="PATH", help="a PEFT adapter for an hf model")
    evaluate.add_argument("--base-url", metavar="URL", help="OpenAI-compatible API root")
    evaluate.add_argument(
        "--fuzzy", action="store_true", help="also accept near-miss titles (difflib)"
    )
    evaluate.add_argument(
        "--faithfulness",
        default="static",
        choices=["static", "full"],
        help="static: grounding, edge validity, consistency (no extra calls; default); "
        "full: also early answering, comprehensiveness, sufficiency (extra model calls, "
        "their number printed first; generate mode)",
    )
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    evaluate.add_argument("--json", action="store_true", help="print results.json")
    evaluate.set_defaults(handler=cmd_evaluate)

    merge = subcommands.add_parser(
        "merge",
        help="join the outputs of `evaluate --shard i/n` into one run",
        description="Check that shard directories come from one evaluate command and cover "
        "every user exactly once, then write one samples.jsonl and results.json.",
    )
    merge.add_argument("shard_dirs", nargs="+", type=Path, metavar="SHARD_DIR")
    merge.add_argument("--output-dir", type=Path, required=True)
    merge.add_argument("--quiet", action="store_true", help="no summary")
    merge.add_argument("--json", action="store_true", help="print results.json")
    merge.set_defaults(handler=cmd_merge)

    compare = subcommands.add_parser(
        "compare",
        help="paired differences between two runs on the same users",
        description="Differences a - b per metric with a paired bootstrap interval and a "
        "paired sign-flip permutation p-value, from the samples.jsonl next to each "
        "results.json. Both runs must be on the same dataset, split and users.",
    )
    compare.add_argument("results_a", type=Path, metavar="RESULTS_A")
    compare.add_argument("results_b", type=Path, metavar="RESULTS_B")
    compare.add_argument("--metric", action="append", help="e.g. hr@1 (repeatable; default: all)")
    compare.add_argument("--seed", type=int, default=0, help="seed of the resampling")
    compare.add_argument("--json", action="store_true", help="machine-readable output")
    compare.set_defaults(handler=cmd_compare)
