"""``submit``, ``leaderboard verify`` and ``leaderboard build``: the leaderboard's subcommands.

Only argparse at import time: the CLI builds its ``--help`` from here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from r2rec_bench.console import print_json
from r2rec_bench.errors import UserError

SUBMISSIONS = Path("leaderboard/submissions")
SITE = Path("leaderboard/site")
PINS = Path("leaderboard/datasets.json")
JOBS_HELP = "processes verifying submissions at once (default: one per available CPU)"
PINS_HELP = (
    f"the leaderboard's pinned datasets: name -> hub_repo, revision, fingerprint (default: {PINS})"
)


def cmd_submit(args: argparse.Namespace) -> int:
    from r2rec_bench.leaderboard.submit import submit

    plan = submit(
        args.results_dir,
        to=args.to,
        hub=args.hub,
        name=args.name,
        datasets=args.dataset,
        pins=args.pins,
        dry_run=args.dry_run,
    )
    if args.json:
        print_json(vars(plan))
    else:
        print(plan.describe())
    return 0


def _verdicts(path: Path, datasets: list[str] | None, pins: Path, jobs: int | None = None):
    from r2rec_bench.leaderboard.finder import DatasetFinder
    from r2rec_bench.leaderboard.submission import RESULTS
    from r2rec_bench.leaderboard.verify import verify_folder, verify_tree

    if jobs is not None and jobs < 1:
        raise UserError(f"--jobs {jobs}: must be at least 1")
    finder = DatasetFinder(datasets, pins)
    if (path / RESULTS).is_file():  # one submission (or an evaluate output directory)
        return finder, [verify_folder(path, finder)]
    return finder, verify_tree(path, finder, jobs)


def cmd_verify(args: argparse.Namespace) -> int:
    _, verdicts = _verdicts(args.path, args.dataset, args.pins, args.jobs)
    rejected = [v for v in verdicts if not v.accepted]
    if args.json:
        print_json(
            {"accepted": len(verdicts) - len(rejected), "verdicts": [v.to_dict() for v in verdicts]}
        )
    else:
        for verdict in verdicts:
            if verdict.accepted:
                metrics = verdict.submission.results["metrics"]
                print(
                    f"accepted {verdict.dataset}/{verdict.name}: "
                    f"{verdict.submission.results['n_users']:,} users, "
                    f"HR@1 {metrics['hr@1']['value']:.4f}"
                )
            else:
                print(f"rejected {verdict.dataset}/{verdict.name}: {verdict.reason}")
    if rejected:
        print(
            f"r2rec-bench: error: {len(rejected)} of {len(verdicts)} submissions rejected",
            file=sys.stderr,
        )
        return 2
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from r2rec_bench.leaderboard.finder import DatasetFinder
    from r2rec_bench.leaderboard.reproduce import reproduce
    from r2rec_bench.leaderboard.submission import Rejected

    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit {args.limit}: must be at least 1")
    finder = DatasetFinder(args.dataset, args.pins)
    try:
        outcome = reproduce(
            args.path, finder, limit=args.limit, base_url=args.base_url, quiet=args.quiet
        )
    except Rejected as exc:
        raise UserError(f"rejected: {exc}") from None
    if args.json:
        print_json({**vars(outcome), "reproduced": outcome.reproduced})
    else:
        print(outcome.describe(str(args.path)))
    return 0 if outcome.reproduced else 1


def cmd_build(args: argparse.Namespace) -> int:
    from r2rec_bench.atomic import atomic_directory, refuse_foreign
    from r2rec_bench.leaderboard.site import collect, render_site

    refuse_foreign(
        args.out,
        lambda folder: (
            (folder / "leaderboard.json").is_file() and (folder / "index.html").is_file()
        ),
        "a leaderboard site",
    )
    if not args.submissions.is_dir():
        raise UserError(f"{args.submissions}: no such folder; pass --submissions DIR")
    finder, verdicts = _verdicts(args.submissions, args.dataset, args.pins, args.jobs)
    rejected = [v for v in verdicts if not v.accepted]
    if rejected:
        raise UserError(
            f"{len(rejected)} of {len(verdicts)} submissions rejected, first "
            f"{rejected[0].dataset}/{rejected[0].name}: {rejected[0].reason}; run "
            "`r2rec-bench leaderboard verify` for every reason"
        )
    boards = collect([v.submission for v in verdicts], finder)
    with atomic_directory(args.out) as staging:
        render_site(boards, staging)
    index = (args.out / "index.html").resolve()
    entries = sum(len(board.entries) for board in boards)
    if args.json:
        print_json({"out": str(args.out), "index": str(index), "entries": entries})
    elif not args.quiet:
        print(
            f"leaderboard: {entries} entries on {len(boards)} dataset split(s) in {args.out}; "
            f"open {index.as_uri()}"
        )
    return 0


def register(subcommands) -> None:
    submit = subcommands.add_parser(
        "submit",
        help="verify an evaluate run and file it as a leaderboard submission",
        description="Recompute every figure of an evaluate output directory (results.json "
        "+ samples.jsonl) against the dataset's gold targets, then copy it to "
        "<--to>/<dataset>/<name>/ or open a pull request on a Hub results dataset. The "
        "folder of `evaluate --seeds N` files its first run, with every other seed's "
        "rankings and metrics, verified too, in seeds.json.",
    )
    submit.add_argument("results_dir", type=Path, metavar="RESULTS_DIR")
    where = submit.add_mutually_exclusive_group()
    where.add_argument(
        "--to", type=Path, metavar="DIR", help=f"submissions folder (default: {SUBMISSIONS})"
    )
    where.add_argument("--hub", metavar="ORG/RESULTS_REPO", help="open a PR on this Hub dataset")
    submit.add_argument("--name", help="submission name (default: the model's slug)")
    submit.add_argument(
        "--dataset",
        action="append",
        metavar="DIR_OR_HUB_ID",
        help="where the dataset is (default: out/<name>, then its pinned Hub repo)",
    )
    submit.add_argument("--pins", type=Path, default=PINS, metavar="FILE", help=PINS_HELP)
    submit.add_argument("--dry-run", action="store_true", help="verify and plan, write nothing")
    submit.add_argument("--json", action="store_true", help="machine-readable output")
    submit.set_defaults(handler=cmd_submit)

    leaderboard = subcommands.add_parser("leaderboard", help="verify submissions, build the site")
    actions = leaderboard.add_subparsers(
        dest="leaderboard_command", metavar="ACTION", required=True
    )
    dataset_help = (
        "a dataset directory or Hub id (repeatable; default: out/<name>, then its pinned Hub repo)"
    )

    verify = actions.add_parser(
        "verify",
        help="recompute every submission's figures from its samples",
        description="Check every submission (or one submission folder) against the gold "
        "targets of its dataset: fingerprint, users, each sample's ranking, every metric "
        "and interval. Prints a verdict per submission; exit code 2 if any is rejected.",
    )
    verify.add_argument("path", nargs="?", type=Path, default=SUBMISSIONS, metavar="PATH")
    verify.add_argument("--dataset", action="append", metavar="DIR_OR_HUB_ID", help=dataset_help)
    verify.add_argument("--pins", type=Path, default=PINS, metavar="FILE", help=PINS_HELP)
    verify.add_argument("--jobs", type=int, metavar="N", help=JOBS_HELP)
    verify.add_argument("--json", action="store_true", help="machine-readable output")
    verify.set_defaults(handler=cmd_verify)

    again = actions.add_parser(
        "reproduce",
        help="run a submission's model again and compare its answers",
        description="Verify one submission, run its model again with the recorded backend "
        "options, split, mode, seed and parser settings on its first --limit users (all by "
        "default), and compare user by user: the same outputs (by hash) and the same target "
        "ranks. Exit code 0 when every target rank is the same, 1 when not.",
    )
    again.add_argument("path", type=Path, metavar="SUBMISSION")
    again.add_argument("--limit", type=int, metavar="N", help="only the first N users")
    again.add_argument("--base-url", metavar="URL", help="where the served model is now")
    again.add_argument("--dataset", action="append", metavar="DIR_OR_HUB_ID", help=dataset_help)
    again.add_argument("--pins", type=Path, default=PINS, metavar="FILE", help=PINS_HELP)
    again.add_argument("--quiet", action="store_true", help="no progress bars")
    again.add_argument("--json", action="store_true", help="machine-readable output")
    again.set_defaults(handler=cmd_reproduce)

    build = actions.add_parser(
        "build",
        help="render the verified submissions into a static site",
        description="Verify every submission, then write a self-contained static site "
        "(index.html, a page per entry), leaderboard.json, LEADERBOARD.md and the results "
        "repo's card (README.md).",
    )
    build.add_argument("--submissions", type=Path, default=SUBMISSIONS, metavar="DIR")
    build.add_argument("--out", type=Path, default=SITE, metavar="DIR")
    build.add_argument("--dataset", action="append", metavar="DIR_OR_HUB_ID", help=dataset_help)
    build.add_argument("--pins", type=Path, default=PINS, metavar="FILE", help=PINS_HELP)
    build.add_argument("--jobs", type=int, metavar="N", help=JOBS_HELP)
    build.add_argument("--quiet", action="store_true", help="no summary")
    build.add_argument("--json", action="store_true", help="machine-readable output")
    build.set_defaults(handler=cmd_build)
