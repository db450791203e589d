"""The training rows of a recipe: a config split of a built dataset, local or on the Hub.

The Parquet files are read as listed in the dataset's MANIFEST.json (their sha256 checked) and
held in memory as a ``datasets.Dataset``. Going through ``load_dataset`` on a local directory
would risk its cache serving an earlier build of the same name (see README).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from r2rec_bench.errors import UserError
from r2rec_bench.trainer.recipe import DatasetSpec

_REBUILD = "rebuild it with `r2rec-bench build`"


@dataclass(frozen=True)
class TrainingData:
    rows: object  # datasets.Dataset
    root: Path  # the local directory (a Hub dataset's downloaded snapshot)
    id: str  # the Hub repo id, or the dataset's name for a local directory
    name: str
    fingerprint: str
    revision: str | None
    hub_repo: str | None  # where the dataset is published, if it says so

    def describe(self, spec: DatasetSpec) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "fingerprint": self.fingerprint,
            "revision": self.revision,
            "hub_repo": self.hub_repo,
            "config": spec.config,
            "split": spec.split,
            "rows": len(self.rows),
        }


def _locate(spec: DatasetSpec, where: str) -> tuple[Path, str | None, str | None]:
    """(local root, Hub id or None, Hub revision or None)."""
    path = Path(spec.path).expanduser()
    if path.is_dir():
        return path, None, None
    from r2rec_bench.hub.info import check_repo_id

    try:
        check_repo_id(spec.path)
    except UserError:
        raise UserError(
            f"{where}: field `dataset.path` is {spec.path!r}: no such directory and not a Hub "
            "dataset id (ORG/NAME); build one with `r2rec-bench build`"
        ) from None
    from huggingface_hub import snapshot_download

    try:
        root = Path(
            snapshot_download(
                spec.path,
                repo_type="dataset",
                allow_patterns=[f"{spec.config}/*", "items/*", "MANIFEST.json", "README.md"],
            )
        )
    except Exception as exc:  # offline, 404, gated, bad revision: the Hub client's many types
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(
            f"{where}: field `dataset.path` {spec.path!r}: cannot download it from the Hub "
            f"({first}); pass a local build directory or check the id"
        ) from None
    return root, spec.path, root.name


def parquet_files(root: Path, manifest: dict, config: str, split: str) -> list[Path]:
    """The files of one config split, verified against the manifest's sha256."""
    from r2rec_bench.hub.info import verified_files

    files = verified_files(root, manifest, config, split)
    if not files:
        have = sorted({f"{c.get('config')}/{c.get('split')}" for c in manifest.get("configs", [])})
        raise UserError(
            f"{root}: no `{config}` split `{split}` (it has {', '.join(have) or 'nothing'}); "
            f"{_REBUILD}"
        )
    return files


def load_training_data(spec: DatasetSpec, where: str) -> TrainingData:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Dataset
    from datasets.table import InMemoryTable

    from r2rec_bench.hub.info import read_manifest

    root, hub_id, revision = _locate(spec, where)
    manifest = read_manifest(root)
    files = parquet_files(root, manifest, spec.config, spec.split)
    table = pa.concat_tables([pq.read_table(path) for path in files])
    if spec.limit is not None:
        table = table.slice(0, spec.limit)
    if table.num_rows == 0:
        raise UserError(f"{root}: the `{spec.config}` split `{spec.split}` has no rows; {_REBUILD}")
    return TrainingData(
        rows=Dataset(InMemoryTable(table)),
        root=root,
        id=hub_id or str(manifest.get("dataset", root.name)),
        name=str(manifest.get("dataset", root.name)),
        fingerprint=str(manifest.get("fingerprint", "")),
        revision=revision,
        hub_repo=manifest.get("hub_repo"),
    )


def catalog_titles(root: Path) -> list[str]:
    """Every item title of the dataset's catalog ([] when the build has none)."""
    import pyarrow.parquet as pq

    from r2rec_bench.hub.info import read_manifest

    manifest = read_manifest(root)
    try:
        files = parquet_files(root, manifest, "items", "catalog")
    except UserError:
        return []
    titles = []
    for path in files:
        titles.extend(pq.read_table(path, columns=["title"]).column("title").to_pylist())
    return titles
