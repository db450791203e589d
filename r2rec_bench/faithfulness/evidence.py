"""What the training data says about items: the catalog and item–item co-interactions.

Faithfulness is judged against the same training graph the dataset was built from
(``interactions/train``), never against held-out interactions: a claim "users who watched X
also watched Y" is true when enough *training* users interacted with both.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from r2rec_bench.errors import UserError
from r2rec_bench.task.dataset import REBUILD, Dataset, open_dataset


@dataclass(frozen=True)
class Evidence:
    """Catalog titles, item popularity and the item–item co-interaction counts.

    Item codes are positions in the catalog (``items/catalog``). ``co_counts(a, b)[k]`` is the
    number of training users who interacted with both ``a[k]`` and ``b[k]``; the diagonal is
    the item's number of training users.
    """

    item_ids: list[str]
    titles: list[str]
    popularity: np.ndarray  # int64: training users per item code
    cooccurrence: object = field(repr=False)  # scipy.sparse.csr_array, item × item
    index: dict[str, int] = field(repr=False)

    def __len__(self) -> int:
        return len(self.item_ids)

    def codes(self, ids) -> np.ndarray:
        """Item codes of ids; -1 for an id outside the catalog."""
        return np.fromiter((self.index.get(str(i), -1) for i in ids), np.int64)

    def co_counts(self, a, b) -> np.ndarray:
        """Training users who interacted with both items, pair by pair (0 for unknown codes)."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        known = (a >= 0) & (b >= 0)
        counts = np.zeros(len(a), dtype=np.int64)
        if known.any():
            counts[known] = np.asarray(self.cooccurrence[a[known], b[known]]).ravel()
        return counts

    @classmethod
    def from_tables(cls, catalog_ids, titles, train_users, train_items) -> Evidence:
        """From the catalog columns and the training (user, item) pairs, as strings."""
        import scipy.sparse as sp

        item_ids = [str(i) for i in catalog_ids]
        index = {item: code for code, item in enumerate(item_ids)}
        if len(index) != len(item_ids):
            raise UserError("items/catalog: an item_id appears twice; " + REBUILD)
        items = np.fromiter((index.get(str(i), -1) for i in train_items), np.int64)
        if (items < 0).any():
            raise UserError("interactions/train: an item is missing from items/catalog; " + REBUILD)
        _, users = np.unique(np.asarray(train_users, dtype=object).astype(str), return_inverse=True)
        # A user who interacted with an item twice counts once: the matrix is binary.
        incidence = sp.csr_array(
            (np.ones(len(items), dtype=np.int64), (users, items)),
            shape=(int(users.max(initial=-1)) + 1, len(item_ids)),
        )
        incidence.sum_duplicates()
        incidence.data[:] = 1
        cooccurrence = (incidence.T @ incidence).tocsr()
        popularity = np.asarray(incidence.sum(axis=0)).ravel().astype(np.int64)
        return cls(item_ids, [str(t) for t in titles], popularity, cooccurrence, index)


@functools.lru_cache(maxsize=4)
def _load(root: str, fingerprint: str) -> Evidence:
    del fingerprint  # part of the cache key only: a rebuilt directory is read again
    dataset = open_dataset(root)
    item_ids, titles = dataset.catalog()
    train = dataset.table("interactions", "train", ("user_id", "item_id"))
    return Evidence.from_tables(
        item_ids,
        titles,
        train.column("user_id").to_pylist(),
        train.column("item_id").to_pylist(),
    )


def load_evidence(dataset: Dataset) -> Evidence:
    """The evidence of a built dataset, read once per process and build."""
    return _load(str(Path(dataset.root).resolve()), dataset.fingerprint)
