"""A run's results in the two forms the Hugging Face Hub reads off a model repository:

- ``model-index`` in the model card's metadata (huggingface_hub's ``EvalResult``), shown in
  the card's evaluation widget;
- ``.eval_results/<file>.yaml``, the Hub's newer per-benchmark format (a list of
  ``{dataset: {id, task_id, revision}, value, date, source, notes}``), which a benchmark
  dataset's page aggregates into a leaderboard once that dataset is registered as a Hub
  benchmark.

One entry per headline metric; the task id names split, mode and metric
(``test-generate-hr@1``), since a generate and a rank run of one model are different
results.
"""

from __future__ import annotations

from pathlib import Path

# The metrics worth a line on a model page: the ranking metrics and the share of answers
# the parser could read (the rest stay in results.json).
HEADLINE = ("hr@1", "hr@5", "ndcg@5", "ndcg@10", "mrr", "valid_ratio")


def _dataset_id(results: dict) -> str:
    dataset = results["dataset"]
    return dataset.get("hub_repo") or dataset["id"]


def task_id(results: dict, metric: str) -> str:
    return f"{results['split']}-{results['mode']}-{metric}"


def _headline(results: dict) -> list[tuple[str, float]]:
    metrics = results["metrics"]
    return [
        (name, metrics[name]["value"])
        for name in HEADLINE
        if name in metrics and metrics[name]["value"] is not None
    ]


def _notes(results: dict) -> str:
    return (
        f"r2rec-bench {results['harness']['version']}, {results['mode']} mode, "
        f"{results['n_users']:,} users, dataset fingerprint "
        f"{results['dataset']['fingerprint'][:12]}"
    )


def eval_results_entries(results: dict, *, source_url: str | None = None) -> list[dict]:
    """The ``.eval_results`` entries of a results.json (as a dict)."""
    revision = results["dataset"].get("revision")
    entries = []
    for name, value in _headline(results):
        dataset = {"id": _dataset_id(results), "task_id": task_id(results, name)}
        if revision:
            dataset["revision"] = revision
        entry = {
            "dataset": dataset,
            "value": round(float(value), 6),
            "date": results["created_at"][:10],
            "notes": _notes(results),
        }
        if source_url:
            entry["source"] = {"url": source_url, "name": "r2rec-bench results"}
        entries.append(entry)
    return entries


def eval_results_file_name(results: dict) -> str:
    """``r2rec-<dataset>-<split>-<mode>.yaml``: one file per benchmark result, as the Hub
    asks for variants of one benchmark."""
    name = _dataset_id(results).replace("/", "--")
    return f"r2rec-{name}-{results['split']}-{results['mode']}.yaml"


def write_eval_results(folder: Path, results: dict, *, source_url: str | None = None) -> Path:
    """Write ``<folder>/.eval_results/<file>.yaml`` for ``results``; returns its path."""
    import yaml

    target = Path(folder) / ".eval_results" / eval_results_file_name(results)
    target.parent.mkdir(parents=True, exist_ok=True)
    entries = eval_results_entries(results, source_url=source_url)
    target.write_text(yaml.safe_dump(entries, sort_keys=False, allow_unicode=True))
    return target


def model_index_results(results: dict) -> list:
    """``huggingface_hub.EvalResult`` objects for a model card's ``model-index``."""
    from huggingface_hub import EvalResult

    return [
        EvalResult(
            task_type="text-generation",
            task_name=f"next-item recommendation ({results['mode']})",
            dataset_type=_dataset_id(results),
            dataset_name=results["dataset"]["name"],
            dataset_config="eval",
            dataset_split=results["split"],
            dataset_revision=results["dataset"].get("revision"),
            metric_type=name,
            metric_name=f"{name.upper()} ({results['n_users']:,} users)",
            metric_value=round(float(value), 6),
        )
        for name, value in _headline(results)
    ]
