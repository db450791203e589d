"""Interaction chains: real paths in the training graph, kept as structured data (DESIGN §6).

A chain alternates users and items and starts at the example's user ``u0``. Its shapes:

- ``loop``:    u0 → i0 → u1 → i1 → u0, where u1 shares at least two items with u0;
- ``bridge``:  u0 → h → u1 → t, reaching the target t through a similar user u1;
- ``bridge3``: u0 → h → u1 → x → u2 → t.

Every hop is an edge of the training graph; ``edges[j]`` joins ``nodes[j]`` and ``nodes[j+1]``.
"""

from __future__ import annotations

from dataclasses import dataclass

CHAIN_KINDS = ("loop", "bridge", "bridge3")


@dataclass(frozen=True)
class ChainNode:
    kind: str  # "user" or "item"
    code: int  # user or item code of the protocol output


@dataclass(frozen=True)
class ChainEdge:
    user: int  # user code
    item: int  # item code
    timestamp: int
    rating: float


@dataclass(frozen=True)
class Chain:
    kind: str  # one of CHAIN_KINDS
    nodes: tuple[ChainNode, ...]
    edges: tuple[ChainEdge, ...]

    @property
    def steps(self) -> int:
        return len(self.edges)

    def __post_init__(self) -> None:
        if len(self.edges) != len(self.nodes) - 1:
            raise ValueError("a chain has one edge between each pair of consecutive nodes")
