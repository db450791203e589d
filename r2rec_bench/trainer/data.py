"""The training rows of a recipe: a config split of a built dataset, local or on the Hub,
read through the benchmark's one dataset reader (task.dataset: files from MANIFEST.json,
sha256-checked) and held in memory as a ``datasets.Dataset``. Going through ``load_dataset``
on a local directory would risk its cache serving an earlier build of the same name (README).
"""

from __future__ import annotations

from dataclasses import dataclass

from r2rec_bench.errors import UserError
from r2rec_bench.task.dataset import REBUILD, Dataset, open_dataset
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
        }


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
    if table.num_rows == 0:
        raise UserError(
            f"{dataset.root}: the `{spec.config}` split `{spec.split}` has no rows; {REBUILD}"
        )
    return TrainingData(rows=HFDataset(InMemoryTable(table)), dataset=dataset)


def catalog_titles(dataset: Dataset) -> list[str]:
    """Every item title of the dataset's catalog ([] when the build has none)."""
    return dataset.catalog()[1] if dataset.has("items", "catalog") else []
