"""The training rows of a recipe: a config split of a built dataset, local or on the Hub,
read through the benchmark's one dataset reader (task.dataset: files from MANIFEST.json,
sha256-checked) and held in memory as a ``datasets.Dataset``. Going through ``load_dataset``
on a local directory would risk its cache serving an earlier build of the same name (README).

A recipe may train on a subset: the first rows (``dataset.limit``) or a seeded random sample
(``dataset.sample``, ``dataset.seed``), which keeps the users of every id range; and on
answer-only SFT rows (``dataset.reasoning: false``), the ablation of the reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass

from r2rec_bench.errors import UserError
from r2rec_bench.task.dataset import REBUILD, Dataset, open_dataset
from r2rec_bench.task.parser import parse_answer
from r2rec_bench.task.prompt import format_response
from r2rec_bench.trainer.recipe import DatasetSpec


@dataclass(frozen=True)
class TrainingData:
    rows: object  # datasets.Dataset
    dataset: Dataset

    def describe(self, spec: DatasetSpec) -> dict:
        return {
            "id": self.dataset.id,
            "name": self.dataset.name,
            "fingerprint": self.dataset.fingerprint,
            "revision": self.dataset.revision,
            "hub_repo": self.dataset.manifest.get("hub_repo"),
            "config": spec.config,
            "split": spec.split,
            "rows": len(self.rows),
            "limit": spec.limit,
            "sample": spec.sample,
            "sample_seed": spec.seed if spec.sample is not None else None,
            "reasoning": spec.reasoning,
        }


def sampled_rows(num_rows: int, sample: int, seed: int) -> list[int]:
    """``sample`` row indices drawn without replacement (all of them when there are fewer),
    in dataset order: the same for every recipe with the same sample, seed and data."""
    import numpy as np

    drawn = np.random.default_rng(seed).permutation(num_rows)[:sample]
    return sorted(drawn.tolist())


def answer_only(table, root):
    """The `sft` rows with each assistant turn cut down to its answer, no reasoning:
    ``<think>\\n</think>\\n<answer>TITLE</answer>``, what the harness's rank mode scores.

    The answer is read back by the benchmark's parser and rewritten by its one writer, so a
    ranked answer stays ranked and every title is the candidate's exact title.
    """
    import pyarrow as pa

    for column in ("messages", "candidate_titles"):
        if column not in table.column_names:
            raise UserError(f"{root}: the `sft` rows have no `{column}` column; {REBUILD}")
    conversations = table.column("messages").to_pylist()
    candidates = table.column("candidate_titles").to_pylist()
    rewritten = []
    for number, (messages, titles) in enumerate(zip(conversations, candidates, strict=True)):
        *context, last = messages
        parsed = parse_answer(last["content"], titles) if last["role"] == "assistant" else None
        if parsed is None or not parsed.valid:
            raise UserError(
                f"{root}: `sft` row {number} does not end in an assistant answer that names "
                f"candidates, so it has no answer-only form; {REBUILD}"
            )
        answer = format_response((), [titles[i] for i in parsed.ranking])
        rewritten.append([*context, {**last, "content": answer}])
    field = table.schema.field("messages")
    return table.set_column(
        table.schema.get_field_index("messages"), field, pa.array(rewritten, type=field.type)
    )


def load_training_data(spec: DatasetSpec, where: str) -> TrainingData:
    from datasets import Dataset as HFDataset
    from datasets.table import InMemoryTable

    try:
        dataset = open_dataset(spec.path, configs=(spec.config, "items"))
        table = dataset.table(spec.config, spec.split)
    except UserError as exc:
        raise UserError(f"{where}: field `dataset.path` {spec.path!r}: {exc}") from None
    if spec.limit is not None:
        table = table.slice(0, spec.limit)
    if spec.sample is not None:
        table = table.take(sampled_rows(table.num_rows, spec.sample, spec.seed))
    if table.num_rows == 0:
        raise UserError(
            f"{dataset.root}: the `{spec.config}` split `{spec.split}` has no rows; {REBUILD}"
        )
    if not spec.reasoning:
        table = answer_only(table, dataset.root)
    return TrainingData(rows=HFDataset(InMemoryTable(table)), dataset=dataset)


def catalog_titles(dataset: Dataset) -> list[str]:
    """Every item title of the dataset's catalog ([] when the build has none)."""
    return dataset.catalog()[1] if dataset.has("items", "catalog") else []
