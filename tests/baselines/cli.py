"""``r2rec-bench baselines ...`` run in-process through the command's own parser."""

from __future__ import annotations

import argparse

from r2rec_bench.baselines.commands import register


def run_baselines_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="r2rec-bench")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)
