"""Whether a chain obeys the rules of its example (``sampler``'s module docstring): what the
tests and anyone reading a published corpus check a chain against."""

from __future__ import annotations

import numpy as np

from r2rec_bench.chains.sampler import _SHAPES
from r2rec_bench.chains.types import Chain, ChainNode
from r2rec_bench.graph import TrainGraph


def validate_chain(
    graph: TrainGraph,
    chain: Chain,
    user: int,
    target: int,
    target_time: int,
    shown: np.ndarray | None = None,
) -> list[str]:
    """Every way ``chain`` breaks the rules for the example (user, target at target_time);
    with ``shown`` (the example's history items, ``examples.history(row)``) also where the
    chain walks from the user to an item that the prompt does not show."""
    shape = _SHAPES.get(chain.kind)
    if shape is None:
        return [f"unknown chain kind {chain.kind!r}"]
    nodes, problems = chain.nodes, []
    if tuple(node.kind for node in nodes) != shape:
        problems.append(f"{chain.kind} nodes must be {'-'.join(shape)}")
    if nodes[0] != ChainNode("user", user):
        problems.append(f"the chain starts at {nodes[0]}, not at the example's user {user}")
    for position, edge in enumerate(chain.edges):
        ends = {(node.kind, node.code) for node in nodes[position : position + 2]}
        if ends != {("user", edge.user), ("item", edge.item)}:
            problems.append(f"edge {position} does not join nodes {position} and {position + 1}")
        found = graph.edge(edge.user, edge.item)
        if found is None:
            problems.append(f"edge {position} ({edge.user}, {edge.item}) is not a training edge")
        elif found != (edge.timestamp, edge.rating):
            problems.append(f"edge {position} carries {edge.timestamp, edge.rating}, not {found}")
        if edge.user == user and edge.timestamp >= target_time:
            problems.append(f"edge {position} is the user's own edge at or after the target time")
    if problems:
        return problems
    codes = [node.code for node in nodes]
    if chain.kind == "loop":
        if codes[4] != user:
            problems.append("a loop must end at the example's user")
        if codes[2] == user or codes[1] == codes[3]:
            problems.append("a loop needs another user and two distinct items")
    else:
        if codes[-1] != target:
            problems.append("a bridge must end at the example's target")
        if len(set(codes[0::2])) != len(codes[0::2]):
            problems.append("the users of a bridge must be distinct")
    if chain.kind == "bridge3" and (codes[3] == target or codes[3] in graph.items_of(user)):
        problems.append("the middle item of a 3-hop bridge must not be one of the user's items")
    if shown is not None:
        walked = [codes[1], codes[3]] if chain.kind == "loop" else [codes[1]]
        if not np.isin(walked, np.asarray(shown)).all():
            problems.append("u0 walks to an item the prompt does not show")
    return problems
