"""Load a dataset's `eval` split for the harness: requests for backends, gold kept apart.

A dataset is a local build directory or a Hub dataset repo id (downloaded once into the Hub
cache; only the configs the harness and the baselines read). Backends receive
:class:`EvalRequest` objects only; the target travels beside them in :class:`Gold`, which
only the runner sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from r2rec_bench.errors import UserError
from r2rec_bench.harness.types import EvalRequest

SPLITS = ("test", "validation")
HUB_PATTERNS = ["eval/*", "MANIFEST.json", "README.md", "items/*", "interactions/*"]
_COLUMNS = (
    "user_id",
    "prompt",
    "history",
    "history_titles",
    "candidates",
    "candidate_titles",
    "target",
    "target_title",
    "target_index",
)
_REBUILD = "rebuild it with `r2rec-bench build`"


@dataclass(frozen=True)
class Gold:
    """What the model should have answered: never handed to a backend."""

    target: str
    target_index: int
    target_title: str


@dataclass(frozen=True)
class EvalExample:
    index: int  # row of the split, which fixes the order of samples and of shards
    request: EvalRequest
    gold: Gold


class EvalSplit:
    """One split of the `eval` config, held as an Arrow table and turned into examples on
    demand, so that a large split costs its columnar size, not a Python object per user."""

    def __init__(self, table, name: str, where: str) -> None:
        self.name = name
        self._table = table
        self._where = where
        self.user_ids: list[str] = table.column("user_id").to_pylist()
        if len(set(self.user_ids)) != len(self.user_ids):
            raise UserError(f"{where}: a user_id appears twice; {_REBUILD}")

    def __len__(self) -> int:
        return len(self.user_ids)

    def examples(self, indices: Sequence[int]) -> list[EvalExample]:
        import pyarrow as pa

        rows = self._table.take(pa.array(indices, pa.int64())).to_pylist()
        examples = []
        for index, row in zip(indices, rows, strict=True):
            candidates, titles = row["candidates"], row["candidate_titles"]
            target_index = row["target_index"]
            if (
                len(candidates) != len(titles)
                or not 0 <= target_index < len(candidates)
                or candidates[target_index] != row["target"]
            ):
                raise UserError(
                    f"{self._where}: row {index} (user {row['user_id']}): candidates, their "
                    f"titles and target_index disagree; {_REBUILD}"
                )
            request = EvalRequest(
                user_id=row["user_id"],
                prompt=row["prompt"],
                history=row["history"],
                history_titles=row["history_titles"],
                candidates=candidates,
                candidate_titles=titles,
            )
            examples.append(
                EvalExample(index, request, Gold(row["target"], target_index, row["target_title"]))
            )
        return examples


@dataclass(frozen=True)
class EvalDataset:
    """A dataset located and identified: where its files are and which build it is."""

    root: Path  # local directory (for a Hub repo: the downloaded snapshot)
    id: str  # the Hub repo id, or the dataset's name for a local directory
    name: str
    source: str  # "local" or "hub"
    revision: str | None  # the Hub commit; None for a local directory
    fingerprint: str
    builder_version: str
    manifest: dict = field(repr=False)
    # Splits already read: checking a split early and evaluating it later reads it once.
    _splits: dict = field(default_factory=dict, repr=False, compare=False)

    def describe(self) -> dict:
        """The dataset block of results.json."""
        return {
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "revision": self.revision,
            "fingerprint": self.fingerprint,
            "builder_version": self.builder_version,
            "hub_repo": self.manifest.get("hub_repo"),
        }

    def split(self, name: str) -> EvalSplit:
        if name not in self._splits:
            self._splits[name] = self._read_split(name)
        return self._splits[name]

    def _read_split(self, name: str) -> EvalSplit:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from r2rec_bench.hub.info import verified_files

        entries = [c for c in self.manifest.get("configs", []) if c.get("config") == "eval"]
        if not entries:
            raise UserError(f"{self.root} has no `eval` config; build it with `r2rec-bench build`")
        paths = verified_files(self.root, self.manifest, "eval", name)
        if not paths:
            have = ", ".join(sorted({c.get("split", "?") for c in entries}))
            raise UserError(f"{self.root} has no eval split `{name}` (it has: {have})")
        tables = []
        for path in paths:
            table = pq.read_table(path)
            missing = [column for column in _COLUMNS if column not in table.column_names]
            if missing:
                raise UserError(f"{path}: no column(s) {', '.join(missing)}; {_REBUILD}")
            tables.append(table.select(list(_COLUMNS)))
        table = pa.concat_tables(tables)
        if table.num_rows == 0:
            raise UserError(f"{self.root}: eval split `{name}` has no rows; {_REBUILD}")
        return EvalSplit(table, name, str(paths[0]))


def _from_directory(root: Path, *, source: str, id_: str | None, revision: str | None):
    from r2rec_bench.hub.info import read_manifest

    manifest = read_manifest(root)
    for key in ("dataset", "fingerprint", "builder_version"):
        if not isinstance(manifest.get(key), str):
            raise UserError(f"{root / 'MANIFEST.json'}: no field `{key}`; {_REBUILD}")
    return EvalDataset(
        root=root,
        id=id_ or manifest["dataset"],
        name=manifest["dataset"],
        source=source,
        revision=revision,
        fingerprint=manifest["fingerprint"],
        builder_version=manifest["builder_version"],
        manifest=manifest,
    )


def _download(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HTTPError, RepositoryNotFoundError

    from r2rec_bench.hub.info import first_line

    try:
        return Path(snapshot_download(repo_id, repo_type="dataset", allow_patterns=HUB_PATTERNS))
    except RepositoryNotFoundError:
        raise UserError(
            f"{repo_id}: no such local directory, and no dataset repo of that name on the Hub "
            "(or it is private: log in with `hf auth login` or set HF_TOKEN)"
        ) from None
    except (OSError, HTTPError) as exc:  # offline mode, connection and other HTTP failures
        raise UserError(f"{repo_id}: cannot download from the Hub ({first_line(exc)})") from None


def open_dataset(target: str | Path | EvalDataset) -> EvalDataset:
    """A local build directory, or else a Hub dataset repo id (a local path wins)."""
    if isinstance(target, EvalDataset):
        return target
    path = Path(target).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError(f"{path}: not a directory; pass a dataset directory or a Hub repo id")
        return _from_directory(path, source="local", id_=None, revision=None)
    from r2rec_bench.hub.info import check_repo_id

    try:
        check_repo_id(str(target))
    except UserError:
        raise UserError(f"{target}: no such directory, and not a Hub repo id (ORG/NAME)") from None
    root = _download(str(target))
    # The Hub cache names each snapshot folder after its commit: that is the revision.
    return _from_directory(root, source="hub", id_=str(target), revision=root.name)
