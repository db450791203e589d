"""What the classical baselines may see: training interactions, and the validation split for
early stopping (DESIGN §4, §8).

:func:`load_training_data` opens ``MANIFEST.json``, ``interactions/train-*`` and
``eval/validation-*`` and nothing else, so no test target can reach a baseline's training.
:func:`load_eval_split` reads a split for scoring it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from r2rec_bench.errors import UserError
from r2rec_bench.protocol.ids import factorize_sorted
from r2rec_bench.task.order import protocol_tie_seed, tie_keys

_REBUILD = "rebuild it with `r2rec-bench build`"


@dataclass(frozen=True)
class EvalSplit:
    """One split's users, their histories and fixed candidates (ids as strings)."""

    name: str
    users: list[str]
    histories: list[list[str]]
    candidates: list[list[str]]
    candidate_titles: list[list[str]]
    target_index: np.ndarray  # int64, position of the target among each user's candidates

    def __len__(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class TrainingData:
    """Training interactions as integer codes, plus the validation split.

    ``user_ids[u]`` and ``item_ids[i]`` give the string id of code ``u`` or ``i``. Each
    user's training interactions are ordered as the protocol orders them: by timestamp, then
    by the protocol's tie key (r2rec_bench.task.order).
    """

    dataset: str
    fingerprint: str
    user_ids: np.ndarray
    item_ids: np.ndarray
    users: np.ndarray  # int64 user code per training interaction, grouped by user
    items: np.ndarray  # int64 item code per training interaction, in each user's order
    validation: EvalSplit

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    @property
    def user_index(self) -> dict[str, int]:
        return self._index("_user_index", self.user_ids)

    @property
    def item_index(self) -> dict[str, int]:
        return self._index("_item_index", self.item_ids)

    def _index(self, attribute: str, ids: np.ndarray) -> dict[str, int]:
        cached = self.__dict__.get(attribute)
        if cached is None:
            cached = {str(item): code for code, item in enumerate(ids)}
            object.__setattr__(self, attribute, cached)  # frozen: memoise without a setter
        return cached

    @property
    def user_offsets(self) -> np.ndarray:
        """``items[offsets[u]:offsets[u + 1]]`` is user ``u``'s training sequence."""
        return np.concatenate([[0], np.cumsum(np.bincount(self.users, minlength=self.num_users))])

    def item_codes(self, ids: list[str]) -> np.ndarray:
        """Codes of item ids; -1 for an item never seen in training."""
        index = self.item_index
        return np.array([index.get(str(item), -1) for item in ids], dtype=np.int64)

    def sequences(self, users: list[str], histories: list[list[str]]) -> list[np.ndarray]:
        """Each user's full known sequence of item codes, oldest first.

        An evaluated user's history is the tail of what they did before the target: for the
        validation split, the end of their training sequence; for the test split, that plus
        the validation target, which is input at test time, not training. The history is
        laid over the training sequence where they overlap, so that sequence models see up
        to their full context, not only the history's 10 items. A user unknown to training
        has only the history. Items unseen in training are dropped: no model knows them.
        """
        offsets = self.user_offsets
        index = self.user_index
        result = []
        for user, history in zip(users, histories, strict=True):
            codes = self.item_codes(list(history))
            code = index.get(str(user))
            if code is not None:
                train = self.items[offsets[code] : offsets[code + 1]]
                codes = np.concatenate([train, codes[_overlap(train, codes) :]])
            result.append(codes[codes >= 0])
        return result


def _overlap(train: np.ndarray, history: np.ndarray) -> int:
    """Length of the longest suffix of ``train`` that is a prefix of ``history``."""
    for length in range(min(len(train), len(history)), 0, -1):
        if np.array_equal(train[len(train) - length :], history[:length]):
            return length
    return 0


def _parquet_files(directory: Path, pattern: str) -> list[Path]:
    files = sorted(directory.glob(pattern))
    if not files:
        raise UserError(
            f"{directory / pattern}: no such file; the baselines need a built dataset "
            f"directory with interactions and eval; {_REBUILD}"
        )
    return files


def _read(files: list[Path], columns: list[str]):
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for path in files:
        try:
            tables.append(pq.read_table(path, columns=columns))
        except (pa.ArrowInvalid, KeyError, OSError) as exc:
            raise UserError(f"{path}: cannot read columns {columns}: {exc}; {_REBUILD}") from exc
    return pa.concat_tables(tables)


def read_manifest(dataset_dir: Path) -> dict:
    path = Path(dataset_dir) / "MANIFEST.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise UserError(f"{path}: no such file; not a built dataset directory; {_REBUILD}") from exc
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc}); {_REBUILD}") from exc
    if not isinstance(manifest, dict) or not manifest.get("fingerprint"):
        raise UserError(f"{path}: no dataset `fingerprint` in the manifest; {_REBUILD}")
    return manifest


def load_eval_split(dataset_dir: Path, split: str) -> EvalSplit:
    """The ``eval`` config's ``split`` (``validation`` or ``test``) of a built dataset."""
    directory = Path(dataset_dir)
    files = _parquet_files(directory, f"eval/{split}-*.parquet")
    columns = ["user_id", "history", "candidates", "candidate_titles", "target_index"]
    rows = _read(files, columns).to_pydict()
    target_index = np.asarray(rows["target_index"], dtype=np.int64)
    widths = {len(c) for c in rows["candidates"]}
    if len(widths) > 1 or ((target_index < 0) | (target_index >= max(widths, default=0))).any():
        raise UserError(f"{files[0]}: candidates and target_index disagree; {_REBUILD}")
    return EvalSplit(
        name=split,
        users=[str(u) for u in rows["user_id"]],
        histories=[[str(i) for i in h] for h in rows["history"]],
        candidates=[[str(i) for i in c] for c in rows["candidates"]],
        candidate_titles=[list(t) for t in rows["candidate_titles"]],
        target_index=target_index,
    )


def load_training_data(dataset_dir: Path) -> TrainingData:
    """Training interactions and the validation split of a built dataset directory."""
    import pandas as pd

    directory = Path(dataset_dir)
    manifest = read_manifest(directory)
    files = _parquet_files(directory, "interactions/train-*.parquet")
    frame = _read(files, ["user_id", "item_id", "timestamp"]).to_pandas()
    if frame.empty:
        raise UserError(f"{files[0]}: no training interactions; {_REBUILD}")
    user_codes, user_ids = factorize_sorted(frame["user_id"].to_numpy())
    item_codes, item_ids = factorize_sorted(frame["item_id"].to_numpy())
    timestamps = pd.to_numeric(frame["timestamp"]).to_numpy()
    ties = tie_keys(user_codes, item_codes, user_ids, item_ids, protocol_tie_seed(manifest))
    # Recomputed from the ids, so this is the protocol's order whatever the row order of the
    # file; item codes separate only equal tie keys, as in the protocol.
    order = np.lexsort((item_codes, ties, timestamps, user_codes))
    return TrainingData(
        dataset=str(manifest.get("dataset", directory.name)),
        fingerprint=str(manifest["fingerprint"]),
        user_ids=user_ids,
        item_ids=item_ids,
        users=user_codes[order],
        items=item_codes[order],
        validation=load_eval_split(directory, "validation"),
    )
