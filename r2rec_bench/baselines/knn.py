"""ItemKNN: item-item cosine similarity on the training matrix (Sarwar et al. 2001).

Written here on scipy rather than taken from ``implicit``: implicit's ``CosineRecommender``
has no shrinkage term and normalises differently from the reference (RecBole's ``ItemKNN``:
cosine with shrinkage, the top-k neighbours kept per item), and the whole model is one sparse
matrix product.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from r2rec_bench.baselines.base import Baseline, FitReport, validation_hr1
from r2rec_bench.baselines.data import TrainingData


class ItemKNNBaseline(Baseline):
    """Item-item cosine similarity on the binary training matrix, with shrinkage and the
    ``neighbours`` most similar items kept per item; a candidate scores the sum of its
    similarities to the items of the user's sequence (as RecBole's ItemKNN)."""

    name = "itemknn"
    SEEDED = False  # a similarity computed in closed form
    DEFAULTS: ClassVar[dict] = {"neighbours": 100, "shrink": 0.0}
    BLOCK = 1024  # items per block of the similarity computation: bounds memory at scale

    def _fit(self, data: TrainingData, seed: int, report: FitReport) -> None:
        matrix = sp.csr_matrix(
            (np.ones(len(data.items), np.float32), (data.users, data.items)),
            shape=(data.num_users, data.num_items),
        )
        matrix.data[:] = 1.0  # repeated pairs count once
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
        gram = (matrix.T @ matrix).tocsc()
        k = min(int(self.hyperparameters["neighbours"]), data.num_items)
        rows, cols, values = [], [], []
        for start in range(0, data.num_items, self.BLOCK):
            stop = min(start + self.BLOCK, data.num_items)
            block = gram[:, start:stop].toarray()
            block /= norms[:, None] * norms[None, start:stop] + self.hyperparameters["shrink"]
            block[np.arange(start, stop), np.arange(stop - start)] = 0.0  # not its own neighbour
            top = np.argpartition(-block, k - 1, axis=0)[:k]
            kept = np.take_along_axis(block, top, axis=0)
            rows.append(top.ravel())
            cols.append(np.broadcast_to(np.arange(start, stop), top.shape).ravel())
            values.append(kept.ravel())
        similarity = sp.csr_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
            shape=(data.num_items, data.num_items),
        )
        similarity.eliminate_zeros()
        self.similarity = similarity
        report.best_validation_hr1 = validation_hr1(self.score, data.validation)

    def _score(self, users, histories, codes):
        assert self.data is not None
        sequences = self.user_sequences(users, histories)
        indptr = np.concatenate([[0], np.cumsum([len(s) for s in sequences])])
        indices = np.concatenate(sequences) if sequences else np.empty(0, np.int64)
        history = sp.csr_matrix(
            (np.ones(len(indices), np.float32), indices, indptr),
            shape=(len(sequences), self.data.num_items),
        )
        history.sum_duplicates()
        history.data[:] = 1.0  # an item seen twice is one piece of evidence
        scores = (history @ self.similarity).tocsr()
        rows = np.repeat(np.arange(len(codes)), codes.shape[1])
        return np.asarray(scores[rows, np.maximum(codes, 0).ravel()]).reshape(codes.shape)

    def state(self):
        return {
            "data": self.similarity.data,
            "indices": self.similarity.indices,
            "indptr": self.similarity.indptr,
        }

    def _load_state(self, state):
        assert self.data is not None
        self.similarity = sp.csr_matrix(
            (state["data"], state["indices"], state["indptr"]),
            shape=(self.data.num_items, self.data.num_items),
        )
