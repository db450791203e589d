"""What the protocol stage hands on: integer-coded splits, histories and fixed candidates."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from r2rec_bench.errors import UserError
from r2rec_bench.sources.types import AttributeSpec

NEGATIVE_STRATEGIES = ("uniform", "popular")
DUPLICATE_TITLE_POLICIES = ("merge", "disambiguate")


@dataclass(frozen=True)
class ProtocolParams:
    """Every knob of DESIGN.md §4. Changing any of them changes the dataset version."""

    user_core: int = 5
    item_core: int = 5
    min_rating: float | None = None
    history_length: int = 10
    num_candidates: int = 20
    negatives: str = "uniform"
    duplicate_titles: str = "merge"
    seed: int = 0
    # Keys the hash that orders same-second interactions (r2rec_bench.task.order); the
    # candidate seed above never changes the split.
    tie_seed: int = 0

    def __post_init__(self) -> None:

        if self.negatives not in NEGATIVE_STRATEGIES:
            raise UserError(
                f"protocol field 'negatives' is {self.negatives!r}; use one of "
                f"{', '.join(NEGATIVE_STRATEGIES)}"
            )
        if self.duplicate_titles not in DUPLICATE_TITLE_POLICIES:
            raise UserError(
                f"protocol field 'duplicate_titles' is {self.duplicate_titles!r}; use one of "
                f"{', '.join(DUPLICATE_TITLE_POLICIES)}"
            )
        for name in ("user_core", "item_core"):
            if getattr(self, name) < 0:
                raise UserError(f"protocol field {name!r} must be 0 or more")
        if self.history_length < 1:
            raise UserError("protocol field 'history_length' must be at least 1")
        if self.num_candidates < 2:
            raise UserError("protocol field 'num_candidates' must be at least 2")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class StepCount:
    """Size of the log after one protocol step (reported in the card)."""

    step: str
    interactions: int
    users: int
    items: int


@dataclass(frozen=True)
class TitleChange:
    """A title collision and how it was resolved: merged ids, or disambiguated titles."""

    title: str
    kept_id: str | None  # the id the others were merged into (merge policy)
    item_ids: tuple[str, ...]  # every id that carried the title
    new_titles: tuple[str, ...] = ()  # disambiguate policy: the title each id now has


@dataclass(frozen=True)
class ProtocolCatalog:
    """Items that survived filtering, coded 0..n-1 in item-id order, with unique titles."""

    item_id: np.ndarray  # str, by code
    title: list[str]
    attributes: dict[str, list]
    attribute_specs: tuple[AttributeSpec, ...]
    merged_ids: list[list[str]]  # other source ids folded into each item
    train_popularity: np.ndarray  # int64: training interactions per item

    def __len__(self) -> int:
        return len(self.item_id)


@dataclass(frozen=True)
class TrainLog:
    """Training interactions in the protocol's order: by user, then timestamp, then the tie
    key of same-second interactions (r2rec_bench.task.order)."""

    user: np.ndarray  # int32 user codes
    item: np.ndarray  # int32 item codes
    timestamp: np.ndarray  # int64
    rating: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.user)


@dataclass(frozen=True)
class EvalSplit:
    """One row per example: the target, the history before it and the fixed candidate list.

    The validation and test splits have one row per user; training targets (for the `sft` and
    `rl` configs) may have several rows per user, in (user, time) order.
    """

    name: str
    user: np.ndarray  # int32 user codes, ascending
    target: np.ndarray  # int32 item code
    target_timestamp: np.ndarray  # int64
    history_offsets: np.ndarray  # int64, len = users + 1
    history_items: np.ndarray  # int32, oldest first within a user
    history_timestamps: np.ndarray  # int64
    candidates: np.ndarray  # int32 (users, num_candidates), shuffled
    target_index: np.ndarray  # int32 slot of the target in candidates

    def __len__(self) -> int:
        return len(self.user)

    def history(self, row: int) -> np.ndarray:
        return self.history_items[self.history_offsets[row] : self.history_offsets[row + 1]]

    def take(self, rows: np.ndarray) -> EvalSplit:
        """The same split restricted to ``rows`` (in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        sizes = np.diff(self.history_offsets)[rows]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        starts = np.repeat(self.history_offsets[rows], sizes)
        positions = starts + np.arange(offsets[-1]) - np.repeat(offsets[:-1], sizes)
        return EvalSplit(
            name=self.name,
            user=self.user[rows],
            target=self.target[rows],
            target_timestamp=self.target_timestamp[rows],
            history_offsets=offsets,
            history_items=self.history_items[positions],
            history_timestamps=self.history_timestamps[positions],
            candidates=self.candidates[rows],
            target_index=self.target_index[rows],
        )


@dataclass(frozen=True)
class ProtocolOutput:
    """Everything the later stages read: the catalog, the training log, the eval splits."""

    params: ProtocolParams
    user_id: np.ndarray  # str, by user code
    catalog: ProtocolCatalog
    train: TrainLog
    validation: EvalSplit
    test: EvalSplit
    steps: list[StepCount]
    title_changes: list[TitleChange] = field(default_factory=list)
    seen_keys: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    """Sorted ``user * n_items + item`` of every pair the user ever touched in the raw log
    (any split, any rating): these items are never a negative for that user."""
    tied_targets: dict[str, int] = field(default_factory=dict)
    """Users whose validation / test target shares its second with another of their
    interactions (for the test target: with the validation target): where only the tie
    rule decides what is held out."""
