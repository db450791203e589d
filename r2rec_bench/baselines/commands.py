"""``r2rec-bench baselines train``: fit (or load from the cache) the classical baselines on a
built dataset and print their validation and test metrics with 95% intervals."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from r2rec_bench.baselines.registry import BASELINES, PROFILES
from r2rec_bench.console import print_json

COLUMNS = ("hr@1", "hr@10", "ndcg@10")
FULL_COLUMNS = ("hr@10", "ndcg@10")


def register(subcommands) -> None:
    baselines = subcommands.add_parser("baselines", help="train and evaluate classical baselines")
    actions = baselines.add_subparsers(dest="baselines_command", metavar="ACTION", required=True)
    train = actions.add_parser(
        "train",
        help="fit the baselines (or load them from the cache) and print their metrics",
        description="Fit each baseline on the dataset's training interactions, early-stopped "
        "on validation HR@1, or load it from the cache ($R2REC_BENCH_CACHE/baselines); print "
        "validation and test HR@1, HR@10 and NDCG@10 with 95% bootstrap intervals, and test "
        "HR@10 and NDCG@10 over the whole catalog (the user's own items left out).",
    )
    train.add_argument(
        "--dataset",
        required=True,
        metavar="DIR_OR_HUB_ID",
        help="a built dataset directory or Hub id",
    )
    names = ", ".join(BASELINES)
    train.add_argument("--only", nargs="+", metavar="NAME", help=f"these only (of {names})")
    train.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    train.add_argument(
        "--profile",
        choices=PROFILES,
        default="full",
        help="what each model sees of a user when scoring: full (all training interactions, "
        "then the validation target at test time; the default) or shown (only the history "
        "the LLM prompt shows). Fitting always uses full, so one cached fit serves both",
    )
    train.add_argument("--refit", action="store_true", help="fit again even if cached")
    train.add_argument("--quiet", action="store_true", help="no progress lines or table")
    train.add_argument("--json", action="store_true", help="machine-readable output")
    train.set_defaults(handler=cmd_baselines_train)

    tune = actions.add_parser(
        "tune",
        help="search each baseline's grid on validation HR@1, then score the choice on test",
        description="Fit (or load from the cache) every configuration of each tunable "
        "baseline's documented grid, the same number for every model (r2rec_bench/baselines/"
        "tuning.py), choose the best by validation HR@1 (a tie: the first in grid order) and "
        "evaluate only the chosen configuration on the test split.",
    )
    tune.add_argument("--dataset", required=True, metavar="DIR_OR_HUB_ID")
    tune.add_argument("--only", nargs="+", metavar="NAME", help="these only (default: all)")
    tune.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    tune.add_argument(
        "--set",
        metavar="K=V,...",
        help="settings fixed for every trial, outside the grid (e.g. max_epochs=20 for a "
        "smaller budget); recorded with the choice",
    )
    tune.add_argument("--out", type=Path, metavar="FILE", help="also write the JSON here")
    tune.add_argument("--quiet", action="store_true", help="no progress lines or table")
    tune.add_argument("--json", action="store_true", help="machine-readable output")
    tune.set_defaults(handler=cmd_baselines_tune)


def cmd_baselines_train(args: argparse.Namespace) -> int:
    from r2rec_bench.baselines.cache import fit_or_load
    from r2rec_bench.baselines.data import load_training_data
    from r2rec_bench.baselines.evaluation import evaluate, evaluate_full_ranking, seen_items
    from r2rec_bench.baselines.registry import baseline_class
    from r2rec_bench.task.dataset import open_dataset

    classes = [baseline_class(name) for name in (args.only or BASELINES)]  # names checked first
    for cls in classes:
        cls.check_profile(args.profile)  # a model that cannot take the profile fails first
    dataset = open_dataset(args.dataset)
    data = load_training_data(dataset)
    test = dataset.split("test")
    rows = []
    for cls in classes:
        if not args.quiet:
            print(f"{cls.name}: fitting or loading...", file=sys.stderr, flush=True)
        baseline = cls()
        baseline.use_profile(args.profile)  # fitting itself uses the full profile
        report = fit_or_load(
            baseline, data, args.seed, refit=args.refit, quiet=args.quiet or args.json
        )
        rows.append(
            {
                "name": cls.name,
                "profile": baseline.profile,
                "fit": report.to_dict(),
                "validation": evaluate(baseline, data.validation, seed=args.seed),
                "test": evaluate(baseline, test, seed=args.seed),
                # The whole catalog but the user's training items and validation target.
                "test_full_ranking": evaluate_full_ranking(
                    baseline, test, seen_items(baseline, data.validation), seed=args.seed
                ),
            }
        )
    if args.json:
        print_json({"dataset": data.dataset, "fingerprint": data.fingerprint, "baselines": rows})
    elif not args.quiet:
        print(format_table(rows))
    return 0


def cmd_baselines_tune(args: argparse.Namespace) -> int:
    from r2rec_bench.atomic import write_text_atomic
    from r2rec_bench.baselines.data import load_training_data
    from r2rec_bench.baselines.evaluation import evaluate
    from r2rec_bench.baselines.tuning import BUDGET, GRIDS, configurations, tune
    from r2rec_bench.console import parse_key_values
    from r2rec_bench.task.dataset import open_dataset

    names = [name.lower() for name in args.only or GRIDS]
    for name in names:
        configurations(name)  # an unknown or untunable name fails before any fit
    fixed = parse_key_values(args.set, "--set")
    dataset = open_dataset(args.dataset)
    data = load_training_data(dataset)
    test = dataset.split("test")
    searches = []
    for name in names:
        if not args.quiet:
            print(f"{name}: {BUDGET} configurations...", file=sys.stderr)
        search, chosen = tune(
            name, data, seed=args.seed, fixed=fixed, quiet=args.quiet or args.json
        )
        search["test"] = evaluate(chosen, test, seed=args.seed)  # the one look at test
        searches.append(search)
    payload = {"dataset": data.dataset, "fingerprint": data.fingerprint, "searches": searches}
    if args.out:
        write_text_atomic(args.out, json.dumps(payload, indent=2) + "\n")
    if args.json:
        print_json(payload)
    elif not args.quiet:
        print("\n\n".join(format_search(search) for search in searches))
    return 0


def format_search(search: dict) -> str:
    """One model's trials as a Markdown table, the chosen one marked, and its test HR@1."""
    keys = list(search["grid"])
    lines = [
        f"{search['name']} (seed {search['seed']}"
        + "".join(f", {k}={v}" for k, v in search["fixed"].items())
        + ")",
        "| " + " | ".join(keys) + " | val HR@1 | epochs (best) | train s | |",
        "|" + "---|" * (len(keys) + 4),
    ]
    for k, trial in enumerate(search["trials"]):
        cells = [str(trial["hyperparameters"][key]) for key in keys] + [
            f"{trial['validation_hr1']:.4f}",
            f"{trial['epochs']} ({trial['best_epoch']})" if trial["epochs"] else "–",
            f"{trial['train_seconds']:.1f}",
            "chosen" if k == search["chosen_trial"] else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"test HR@1 of the chosen: {_interval(search['test']['metrics']['hr@1'])}")
    return "\n".join(lines)


def format_table(rows: list[dict]) -> str:
    """A Markdown table: validation and test metrics (test with intervals; full-ranking
    ones over the whole catalog), fit facts."""
    header = (
        "| baseline | val HR@1 | test HR@1 | test HR@10 | test NDCG@10 "
        "| full HR@10 | full NDCG@10 | epochs | train s | cached |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for row in rows:
        test = row["test"]["metrics"]
        cells = [
            row["name"],
            f"{row['validation']['metrics']['hr@1']['value']:.4f}",
            *(_interval(test[name]) for name in COLUMNS),
            *(_interval(row["test_full_ranking"]["metrics"][name]) for name in FULL_COLUMNS),
            str(row["fit"]["epochs"]),
            f"{row['fit']['train_seconds']:.1f}",
            "yes" if row["fit"]["from_cache"] else "no",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _interval(metric: dict) -> str:
    return f"{metric['value']:.4f} [{metric['ci_low']:.4f}, {metric['ci_high']:.4f}]"
