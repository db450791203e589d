"""A model's other seeds beside its submitted run (seeds.json), written by ``submit`` from an
``evaluate --seeds N`` folder and checked by ``verify``.

One seed's result says little about a trained model: a classical baseline's HR@1 moves by
about as much between seeds as between neighbouring rows. The submission keeps the first
seed's run as its samples.jsonl, which is verified as every run is; each other seed adds
what it answered (every user's ranking and validity) and the metric values those give, so
verification recomputes every seed's figures and the spread from the gold targets. Outputs
and timings of the other seeds stay out: a classical baseline's samples are about 1.5 MB a
seed, its rankings 50 KB.
"""

from __future__ import annotations

from r2rec_bench.leaderboard.submission import SEEDS, Rejected, Submission
from r2rec_bench.task.metrics import point_metrics, ranks_from_rankings, seed_spread
from r2rec_bench.task.records import SEEDS_SCHEMA_VERSION

# What may differ between the seeds of one model: the seed itself and what depends on it (a
# baseline's fit and the cache key that is its revision; a sampling LLM's generation seed).
_PER_SEED = ("seed", "revision", "fit")
_RESUBMIT = "submit the folder `r2rec-bench evaluate --seeds N` wrote, unedited"


def same_model(results: dict) -> dict:
    """What must be equal across a model's seeds: its model block without the per-seed
    fields, the backend, the dataset build, split and mode."""
    model = {k: v for k, v in results["model"].items() if k not in _PER_SEED}
    if isinstance(model.get("generation"), dict):
        model["generation"] = {k: v for k, v in model["generation"].items() if k != "seed"}
    return {
        "model": model,
        "backend": results["backend"]["spec"],
        "dataset": results["dataset"]["fingerprint"],
        "split": results["split"],
        "mode": results["mode"],
    }


def seed_runs(first: Submission, others: list[Submission]) -> dict:
    """seeds.json for the run ``first`` and the verified runs ``others`` of the same model
    under other seeds; :class:`Rejected` when they are not one model's seeds."""
    order = [s["user_id"] for s in first.samples]
    targets = [s["target_index"] for s in first.samples]
    seeds = [first.results["seed"]]
    runs = []
    for other in others:
        where = other.path / "results.json"
        if same_model(other.results) != same_model(first.results):
            raise Rejected(f"{where}: not the same model, data and mode as {first.path}")
        if other.results["seed"] in seeds:
            raise Rejected(f"{where}: seed {other.results['seed']} appears twice")
        by_user = {s["user_id"]: s for s in other.samples}
        if by_user.keys() != set(order):
            raise Rejected(f"{where}: not the users of {first.path}")
        samples = [by_user[user] for user in order]
        runs.append(
            _run(
                other.results["seed"],
                other.results["model"],
                [s["ranking"] for s in samples],
                [s["valid"] for s in samples],
                targets,
            )
        )
        seeds.append(other.results["seed"])
    return _document(first.results, seeds, runs)


def _run(seed: int, model: dict, rankings: list, valid: list, targets: list[int]) -> dict:
    """One seed's entry: its answers and the metric values they give against ``targets``
    (each user's gold target position)."""
    ranks = ranks_from_rankings(rankings, targets)
    return {
        "seed": seed,
        "model": model,
        "rankings": rankings,
        "valid": valid,
        "metrics": point_metrics(ranks, valid),
    }


def _document(results: dict, seeds: list[int], runs: list[dict]) -> dict:
    """seeds.json: the seeds, their runs and each metric across every seed, the submitted
    run's value first."""
    spread = {
        name: seed_spread([results["metrics"][name]["value"], *(r["metrics"][name] for r in runs)])
        for name in runs[0]["metrics"]
    }
    return {"schema_version": SEEDS_SCHEMA_VERSION, "seeds": seeds, "runs": runs, "spread": spread}


def recomputed_seeds(submission: Submission) -> dict:
    """seeds.json as the submission's verified samples and its other seeds' rankings give
    it; :class:`Rejected` naming the first thing that cannot be right. The caller compares
    it with the file field by field."""
    stated = submission.seeds
    assert stated is not None
    where = submission.path / SEEDS
    results = submission.results
    seeds = stated["seeds"]
    if seeds[:1] != [results["seed"]] or len(set(seeds)) != len(seeds):
        raise Rejected(
            f"{where}: `seeds` must start with results.json's seed {results['seed']} and "
            f"name each seed once; {_RESUBMIT}"
        )
    if [run["seed"] for run in stated["runs"]] != seeds[1:]:
        raise Rejected(f"{where}: `runs` must be the runs of seeds {seeds[1:]}; {_RESUBMIT}")
    if not stated["runs"]:
        raise Rejected(f"{where}: no other seed; submit without seeds.json; {_RESUBMIT}")
    samples = submission.samples
    # The gold target positions: the submitted samples were checked to hold them.
    targets = [s["target_index"] for s in samples]
    runs = []
    for run in stated["runs"]:
        here = f"{where}: seed {run['seed']}"
        own = {**results, "model": run["model"]}
        if (
            same_model(own) != same_model(results)
            or run["model"].get("seed", run["seed"]) != run["seed"]
        ):
            raise Rejected(f"{here}: `model` is not the submitted model at this seed; {_RESUBMIT}")
        if len(run["rankings"]) != len(samples) or len(run["valid"]) != len(samples):
            raise Rejected(
                f"{here}: {len(run['rankings']):,} rankings and {len(run['valid']):,} validity "
                f"flags for {len(samples):,} samples; {_RESUBMIT}"
            )
        for ranking, sample in zip(run["rankings"], samples, strict=True):
            if len(set(ranking)) != len(ranking) or any(
                j >= len(sample["candidates"]) for j in ranking
            ):
                raise Rejected(
                    f"{here}: user {sample['user_id']}: a ranking names a candidate twice or "
                    f"one the user does not have; {_RESUBMIT}"
                )
        runs.append(_run(run["seed"], run["model"], run["rankings"], run["valid"], targets))
    return _document(results, seeds, runs)
