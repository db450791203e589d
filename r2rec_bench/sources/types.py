"""What every source hands to the protocol: a raw interaction log and an item catalog."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Interactions:
    """A raw implicit-feedback log, one row per event, in the order the file gave them.

    Ids keep the source's own spelling (strings or integers); ``timestamp`` is in whole
    seconds since the epoch; ``rating`` is NaN where the source has none.
    """

    user_id: np.ndarray
    item_id: np.ndarray
    timestamp: np.ndarray
    rating: np.ndarray

    def __post_init__(self) -> None:
        lengths = {len(self.user_id), len(self.item_id), len(self.timestamp), len(self.rating)}
        if len(lengths) != 1:
            raise ValueError(f"Interactions columns differ in length: {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.user_id)


@dataclass(frozen=True)
class AttributeSpec:
    """One item attribute column: its name and kind (``str``, ``int``, ``float`` or ``list``)."""

    name: str
    kind: str


@dataclass(frozen=True)
class Catalog:
    """Items known to the source: id, display title and attributes, aligned by position.

    ``attributes[name]`` holds one value per item (``None`` where missing). Titles are the
    source's own; the protocol makes them unique.
    """

    item_id: list[str]
    title: list[str]
    attributes: dict[str, list] = field(default_factory=dict)
    attribute_specs: tuple[AttributeSpec, ...] = ()

    def __post_init__(self) -> None:
        if len(self.item_id) != len(self.title):
            raise ValueError("Catalog item_id and title differ in length")
        for name, values in self.attributes.items():
            if len(values) != len(self.item_id):
                raise ValueError(f"Catalog attribute {name!r} has the wrong length")

    def __len__(self) -> int:
        return len(self.item_id)


@dataclass(frozen=True)
class RawLog:
    """A parsed source: its log, its catalog, and the checksums of the files read."""

    source: str
    interactions: Interactions
    catalog: Catalog
    files: dict[str, str]  # file name -> sha256 of its bytes
    notes: tuple[str, ...] = ()  # source-specific facts worth printing in the card
