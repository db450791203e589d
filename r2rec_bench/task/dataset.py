"""The one reader of a built dataset (DESIGN §5), local directory or Hub repo.

Every stage that reads a build comes here: the harness (the ``eval`` splits), the baselines
(training interactions in the protocol's order, validation for early stopping), the trainer
(``sft`` / ``rl`` rows), faithfulness (catalog and training pairs) and the leaderboard (the
gold). Files are taken from MANIFEST.json, never globbed, and each is checked against its
recorded sha256 before it is read, so an edited or half-copied build is refused, not scored.

Backends receive :class:`~r2rec_bench.task.records.EvalRequest` objects only; the target
travels beside them in :class:`~r2rec_bench.task.records.Gold`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from r2rec_bench.errors import UserError, at, one_line
from r2rec_bench.hashing import dataset_fingerprint, sha256_file
from r2rec_bench.task.order import protocol_order
from r2rec_bench.task.records import EvalExample, EvalRequest, Gold

DATASET_SCHEMA_VERSION = 1
MANIFEST = "MANIFEST.json"
CARD = "README.md"
SPLITS = ("test", "validation")
REBUILD = "rebuild it with `r2rec-bench build`"
EVAL_COLUMNS = (
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
_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
REPO_ID = re.compile(f"{_REPO_PART}/{_REPO_PART}")


def check_repo_id(repo_id: str) -> None:
    """Raise ``UserError`` unless ``repo_id`` is a valid ``ORG/NAME`` Hub repo id."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    fix = "use ORG/NAME, e.g. r2rec/ml-100k-iot"
    if not REPO_ID.fullmatch(repo_id):
        raise UserError(f"{repo_id!r}: not a Hub repo id; {fix}")
    try:  # the Hub's own rules beyond the shape: length, "--", "..", ".git"
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise UserError(f"{repo_id!r}: not a valid Hub repo id ({exc}); {fix}") from None


def parse_manifest(text: str, where: str) -> dict:
    """A manifest's JSON, or ``UserError`` naming the line; newer schemas are refused."""
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{at(where, exc.lineno)}: not valid JSON ({exc.msg}); {REBUILD}") from None
    except RecursionError:
        raise UserError(f"{where}: JSON nested too deep to be a manifest; {REBUILD}") from None
    if not isinstance(manifest, dict):
        raise UserError(f"{where}: not a JSON object; {REBUILD}")
    version = manifest.get("schema_version")
    if isinstance(version, int) and version > DATASET_SCHEMA_VERSION:
        raise UserError(
            f"{where}: schema version {version} is newer than this r2rec-bench reads "
            f"({DATASET_SCHEMA_VERSION}); upgrade r2rec-bench"
        )
    return manifest


def read_manifest(directory: Path) -> dict:
    """The parsed MANIFEST.json of a local build directory, or ``UserError`` saying why not."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"{directory}: no such directory")
    path = directory / MANIFEST
    if not path.is_file():
        raise UserError(
            f"{directory}: not a dataset built by r2rec-bench (no {MANIFEST}); "
            "build it with `r2rec-bench build`"
        )
    return parse_manifest(path.read_text(encoding="utf-8"), str(path))


def verified_files(root: Path, manifest: dict, config: str, split: str) -> list[Path]:
    """The files of one config split as MANIFEST.json lists them, each checked to exist and
    to match its recorded sha256 ([] when the manifest lists none: the caller says why)."""

    entries = manifest.get("configs", [])
    relatives = sorted(
        c["path"] for c in entries if (c.get("config"), c.get("split")) == (config, split)
    )
    recorded = manifest.get("files", {})
    files = []
    for relative in relatives:
        path = Path(root) / relative
        if not path.is_file():
            raise UserError(f"{path}: listed in {MANIFEST} but missing; {REBUILD}")
        expected = recorded.get(relative, {}).get("sha256")
        if expected and sha256_file(path) != expected:
            raise UserError(
                f"{path}: content differs from its sha256 in {MANIFEST} (edited or "
                f"corrupt); {REBUILD}"
            )
        files.append(path)
    return files


class EvalSplit:
    """One split of the `eval` config, held as an Arrow table and turned into examples on
    demand, so that a large split costs its columnar size, not a Python object per user."""

    def __init__(self, table, name: str, where: str) -> None:
        self.name = name
        self.table = table
        self._where = where
        self.user_ids: list[str] = table.column("user_id").to_pylist()
        if len(set(self.user_ids)) != len(self.user_ids):
            raise UserError(f"{where}: a user_id appears twice; {REBUILD}")

    def __len__(self) -> int:
        return len(self.user_ids)

    # Whole columns, for scorers that take every user at once (the classical baselines).
    @property
    def users(self) -> list[str]:
        return self.user_ids

    @cached_property
    def histories(self) -> list[list[str]]:
        return self.table.column("history").to_pylist()

    @cached_property
    def candidates(self) -> list[list[str]]:
        return self.table.column("candidates").to_pylist()

    @cached_property
    def target_index(self):
        import numpy as np

        return np.asarray(self.table.column("target_index").to_numpy(), dtype=np.int64)

    def examples(self, indices: Sequence[int]) -> list[EvalExample]:
        import pyarrow as pa

        rows = self.table.take(pa.array(indices, pa.int64())).to_pylist()
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
                    f"titles and target_index disagree; {REBUILD}"
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
class Dataset:
    """A built dataset located and identified: where its files are and which build it is."""

    root: Path  # local directory (for a Hub repo: the downloaded snapshot)
    id: str  # the Hub repo id, or the dataset's name for a local directory
    name: str
    source: str  # "local" or "hub"
    revision: str | None  # the Hub commit; None for a local directory
    fingerprint: str
    builder_version: str
    manifest: dict = field(repr=False)
    # Tables already read: checking a split early and evaluating it later reads it once.
    _read: dict = field(default_factory=dict, repr=False, compare=False)

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

    def has(self, config: str, split: str) -> bool:
        return any(
            (c.get("config"), c.get("split")) == (config, split)
            for c in self.manifest.get("configs", [])
        )

    def table(self, config: str, split: str, columns: Sequence[str] | None = None):
        """One config split as an Arrow table, from its manifest-listed, sha256-checked files;
        ``UserError`` naming the missing split or column and the fix."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        key = (config, split, tuple(columns) if columns else None)
        if key in self._read:
            return self._read[key]
        paths = verified_files(self.root, self.manifest, config, split)
        if not paths:
            have = sorted(f"{c.get('config')}/{c.get('split')}" for c in self.manifest["configs"])
            raise UserError(
                f"{self.root}: no `{config}` split `{split}` (it has: "
                f"{', '.join(have) or 'nothing'}); {REBUILD}"
            )
        tables = []
        for path in paths:
            try:
                table = pq.read_table(path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise UserError(f"{path}: not a readable Parquet file ({exc}); {REBUILD}") from None
            missing = [name for name in columns or () if name not in table.column_names]
            if missing:
                raise UserError(f"{path}: no column(s) {', '.join(missing)}; {REBUILD}")
            tables.append(table.select(list(columns)) if columns else table)
        table = pa.concat_tables(tables)
        self._read[key] = table
        return table

    def split(self, name: str) -> EvalSplit:
        """An `eval` split (``test`` or ``validation``) for evaluation."""
        key = ("eval-split", name)
        if key not in self._read:
            if name not in SPLITS:
                raise UserError(f"split {name!r}: use one of {', '.join(SPLITS)}")
            if not self.has("eval", name):
                have = sorted({c.get("split") for c in self.manifest.get("configs", [])
                               if c.get("config") == "eval"})  # fmt: skip
                if not have:
                    raise UserError(
                        f"{self.root} has no `eval` config; build it with `r2rec-bench build`"
                    )
                raise UserError(
                    f"{self.root} has no eval split `{name}` (it has: {', '.join(have)})"
                )
            table = self.table("eval", name, EVAL_COLUMNS)
            if table.num_rows == 0:
                raise UserError(f"{self.root}: eval split `{name}` has no rows; {REBUILD}")
            self._read[key] = EvalSplit(table, name, str(self.root / "eval" / name))
        return self._read[key]

    def training_interactions(self):
        """``interactions/train`` as (user ids, item ids, timestamps), each user's rows in the
        protocol's order (timestamp, then the tie key; task.order), whatever the file's order."""
        import numpy as np

        table = self.table("interactions", "train", ("user_id", "item_id", "timestamp"))
        if table.num_rows == 0:
            raise UserError(f"{self.root}: `interactions/train` has no rows; {REBUILD}")
        users = np.asarray(table.column("user_id").to_pylist(), dtype=object)
        items = np.asarray(table.column("item_id").to_pylist(), dtype=object)
        times = np.asarray(table.column("timestamp").to_numpy(), dtype=np.int64)
        order = protocol_order(users, items, times, self.manifest)
        return users[order], items[order], times[order]

    def recomputed_file_hashes(self) -> dict[str, str]:
        """Path -> sha256 of each data file actually present (each one hashed now), not as
        MANIFEST.json states them: what a leaderboard compares with its pin."""
        hashes = {}
        for relative in self.manifest.get("files", {}):
            path = self.root / relative
            if relative.endswith(".parquet"):
                if not path.is_file():
                    raise UserError(f"{path}: listed in {MANIFEST} but missing; {REBUILD}")
                hashes[relative] = sha256_file(path)
        return hashes

    def recomputed_fingerprint(self) -> str:
        """The fingerprint of :meth:`recomputed_file_hashes`."""
        return dataset_fingerprint(self.recomputed_file_hashes())

    def catalog(self):
        """``items/catalog``: (item ids, titles) in catalog order."""
        table = self.table("items", "catalog", ("item_id", "title"))
        return table.column("item_id").to_pylist(), table.column("title").to_pylist()


def _from_directory(root: Path, *, source: str, id_: str | None, revision: str | None) -> Dataset:
    manifest = read_manifest(root)
    for key in ("dataset", "fingerprint", "builder_version"):
        if not isinstance(manifest.get(key), str):
            raise UserError(f"{root / MANIFEST}: no field `{key}`; {REBUILD}")
    if not isinstance(manifest.get("configs"), list):
        raise UserError(f"{root / MANIFEST}: no list `configs`; {REBUILD}")
    return Dataset(
        root=root,
        id=id_ or manifest["dataset"],
        name=manifest["dataset"],
        source=source,
        revision=revision,
        fingerprint=manifest["fingerprint"],
        builder_version=manifest["builder_version"],
        manifest=manifest,
    )


def _download(repo_id: str, configs: Sequence[str], revision: str | None = None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HTTPError, RepositoryNotFoundError

    patterns = [MANIFEST, CARD, *(f"{config}/*" for config in configs)]
    try:
        return Path(
            snapshot_download(
                repo_id, repo_type="dataset", revision=revision, allow_patterns=patterns
            )
        )
    except RepositoryNotFoundError:
        raise UserError(
            f"{repo_id}: no such local directory, and no dataset repo of that name on the Hub "
            "(or it is private: log in with `hf auth login` or set HF_TOKEN)"
        ) from None
    except (OSError, HTTPError) as exc:  # offline mode, connection and other HTTP failures
        raise UserError(
            f"{repo_id}: cannot download from the Hub ({one_line(exc, with_type=True)})"
        ) from None


DEFAULT_CONFIGS = ("eval", "items", "interactions")
ALL_CONFIGS = ("eval", "items", "interactions", "sft", "rl")


def _looks_local(path: Path) -> bool:
    """A missing path meant as a folder here rather than a Hub id: it starts like a path, or
    its parent folder exists (``out/ml-100k-io``, a typo of a build under ``out/``)."""
    text = str(path)
    if text.startswith((".", "/", "~")) or text.count("/") > 1:
        return True
    return "/" in text and path.parent.is_dir()


def _did_you_mean(path: Path) -> str:
    import difflib

    parent = path.parent if path.parent.is_dir() else None
    if parent is None:
        return ""
    siblings = [child.name for child in parent.iterdir() if (child / MANIFEST).is_file()]
    close = difflib.get_close_matches(path.name, siblings, n=1)
    return f"; did you mean {parent / close[0]}?" if close else ""


def open_dataset(
    target: str | Path | Dataset,
    configs: Sequence[str] = DEFAULT_CONFIGS,
    revision: str | None = None,
) -> Dataset:
    """A local build directory, or else a Hub dataset repo id (a local path wins) at
    ``revision`` (default: the latest); from the Hub only ``configs`` (and the manifest and
    card) are downloaded."""
    if isinstance(target, Dataset):
        return target
    path = Path(target).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError(f"{path}: not a directory; pass a dataset directory or a Hub repo id")
        return _from_directory(path, source="local", id_=None, revision=None)
    if _looks_local(path):
        raise UserError(f"{target}: no such directory{_did_you_mean(path)}")
    try:
        check_repo_id(str(target))
    except UserError:
        raise UserError(f"{target}: no such directory, and not a Hub repo id (ORG/NAME)") from None
    root = _download(str(target), configs, revision)
    # The Hub cache names each snapshot folder after its commit: that is the revision.
    return _from_directory(root, source="hub", id_=str(target), revision=root.name)
