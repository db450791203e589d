"""What the classical baselines may see: training interactions, and the validation split for
early stopping (DESIGN §4, §8), through the benchmark's one dataset reader (task.dataset).

:func:`load_training_data` reads ``interactions/train`` and ``eval/validation`` and nothing
else, so no test target can reach a baseline's training. :func:`load_eval_split` reads a
split for scoring it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from r2rec_bench.task.dataset import Dataset, EvalSplit, open_dataset
from r2rec_bench.task.ids import factorize_sorted


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

    @property
    def pair_keys(self) -> np.ndarray:
        """Sorted distinct keys user * num_items + item of the training pairs (negatives are
        drawn outside them), computed once rather than every epoch."""
        cached = self.__dict__.get("_pair_keys")
        if cached is None:
            cached = np.unique(self.users * self.num_items + self.items)
            object.__setattr__(self, "_pair_keys", cached)  # frozen: memoise without a setter
        return cached

    def user_codes(self, ids: list[str]) -> np.ndarray:
        """Codes of user ids; -1 for a user unknown to training."""
        index = self.user_index
        return np.array([index.get(str(user), -1) for user in ids], dtype=np.int64)

    def item_codes(self, ids: list[str]) -> np.ndarray:
        """Codes of item ids; -1 for an item never seen in training."""
        index = self.item_index
        return np.array([index.get(str(item), -1) for item in ids], dtype=np.int64)

    def sequences(
        self, users: list[str], histories: list[list[str]], *, shown_only: bool = False
    ) -> list[np.ndarray]:
        """Each user's full known sequence of item codes, oldest first; with ``shown_only``,
        the history alone (the items an LLM's prompt shows), so that a model can be compared
        with an LLM that saw what it saw.

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
            code = None if shown_only else index.get(str(user))
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


def load_eval_split(dataset: Path | str | Dataset, split: str) -> EvalSplit:
    """The ``eval`` config's ``split`` (``validation`` or ``test``) of a built dataset."""
    return open_dataset(dataset).split(split)


def load_training_data(dataset: Path | str | Dataset) -> TrainingData:
    """Training interactions, in the protocol's order, and the validation split."""
    dataset = open_dataset(dataset)
    users, items, _ = dataset.training_interactions()
    user_codes, user_ids = factorize_sorted(users)
    item_codes, item_ids = factorize_sorted(items)
    # The reader's order groups users and keeps each user's protocol order; a stable sort by
    # user code (codes follow the sorted ids, as the reader's grouping does) changes nothing
    # but makes that grouping explicit.
    order = np.argsort(user_codes, kind="stable")
    return TrainingData(
        dataset=dataset.name,
        fingerprint=dataset.fingerprint,
        user_ids=user_ids,
        item_ids=item_ids,
        users=user_codes[order],
        items=item_codes[order],
        validation=dataset.split("validation"),
    )
