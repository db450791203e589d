"""Arrow tables for the `sft` and `rl` configs (DESIGN §5–6, issue 3).

`sft` rows hold the chat `messages` (the same system and user prompt as `eval`, then the
assistant turn in the answer format), plus the structured chains, thoughts and quality, so
anyone can check a trace against the graph. `rl` rows hold a `prompt` ready for TRL's
GRPOTrainer with the gold `target` and the `candidates` that rewards need.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from r2rec_bench.chains.types import Chain, ChainEdge
from r2rec_bench.protocol import EvalSplit, ProtocolOutput
from r2rec_bench.render.parquet import MESSAGES
from r2rec_bench.task.prompt import PromptStyle, chat_prompt, format_response
from r2rec_bench.teacher.types import Trace

EDGE = pa.struct(
    [
        ("user_id", pa.string()),
        ("item_id", pa.string()),
        ("timestamp", pa.int64()),
        ("rating", pa.float64()),
    ]
)
NODE = pa.struct([("kind", pa.string()), ("id", pa.string()), ("title", pa.string())])
CHAIN = pa.struct([("kind", pa.string()), ("nodes", pa.list_(NODE)), ("edges", pa.list_(EDGE))])
THOUGHT = pa.struct(
    [
        ("text", pa.string()),
        ("cited_item_ids", pa.list_(pa.string())),
        ("claimed_edge", EDGE),
        ("verified", pa.bool_()),
        ("step", pa.string()),
        ("options", pa.int32()),
    ]
)


def assistant_text(trace: Trace, answer_title: str) -> str:
    """The assistant turn: numbered thoughts inside <think>, the target's title as answer."""
    return format_response([thought.text for thought in trace.thoughts], [answer_title])


class _Names:
    """Code → id/title lookups shared by every row."""

    def __init__(self, output: ProtocolOutput) -> None:
        self.users = output.user_id
        self.items = output.catalog.item_id
        self.titles = output.catalog.title

    def edge(self, edge: ChainEdge | None) -> dict | None:
        if edge is None:
            return None
        return {
            "user_id": str(self.users[edge.user]),
            "item_id": str(self.items[edge.item]),
            "timestamp": int(edge.timestamp),
            "rating": float(edge.rating),
        }

    def chain(self, chain: Chain) -> dict:
        nodes = [
            {
                "kind": node.kind,
                "id": str(self.users[node.code] if node.kind == "user" else self.items[node.code]),
                "title": self.titles[node.code] if node.kind == "item" else None,
            }
            for node in chain.nodes
        ]
        return {"kind": chain.kind, "nodes": nodes, "edges": [self.edge(e) for e in chain.edges]}


def _example_columns(output: ProtocolOutput, examples: EvalSplit, rows: np.ndarray) -> dict:
    """Columns every training row carries: who, what was shown, and the gold answer."""
    names = _Names(output)
    item_ids = [str(i) for i in names.items]
    return {
        "user_id": [str(names.users[examples.user[r]]) for r in rows],
        "history": [[item_ids[i] for i in examples.history(r)] for r in rows],
        "history_titles": [[names.titles[i] for i in examples.history(r)] for r in rows],
        "candidates": [[item_ids[i] for i in examples.candidates[r]] for r in rows],
        "candidate_titles": [[names.titles[i] for i in examples.candidates[r]] for r in rows],
        "target": [item_ids[examples.target[r]] for r in rows],
        "target_title": [names.titles[examples.target[r]] for r in rows],
        "target_index": [int(examples.target_index[r]) for r in rows],
        "target_timestamp": [int(examples.target_timestamp[r]) for r in rows],
    }


_EXAMPLE_TYPES = {
    "user_id": pa.string(),
    "history": pa.list_(pa.string()),
    "history_titles": pa.list_(pa.string()),
    "candidates": pa.list_(pa.string()),
    "candidate_titles": pa.list_(pa.string()),
    "target": pa.string(),
    "target_title": pa.string(),
    "target_index": pa.int32(),
    "target_timestamp": pa.int64(),
}


def _table(columns: dict, types: dict) -> pa.Table:
    return pa.table({name: pa.array(values, types[name]) for name, values in columns.items()})


def sft_table(
    output: ProtocolOutput,
    examples: EvalSplit,
    traces: list[Trace],
    style: PromptStyle,
) -> pa.Table:
    """One row per kept trace, in example order."""
    names = _Names(output)
    rows = np.array([trace.example for trace in traces], dtype=np.int64)
    columns = _example_columns(output, examples, rows)
    messages = []
    for trace, history, candidates, answer in zip(
        traces,
        columns["history_titles"],
        columns["candidate_titles"],
        columns["target_title"],
        strict=True,
    ):
        prompt = chat_prompt(style, history, candidates)
        messages.append([*prompt, {"role": "assistant", "content": assistant_text(trace, answer)}])
    columns = {"messages": messages, **columns}
    columns["chains"] = [[names.chain(c) for c in trace.chains] for trace in traces]
    columns["thoughts"] = [
        [
            {
                "text": t.text,
                "cited_item_ids": [str(names.items[i]) for i in t.cited_items],
                "claimed_edge": names.edge(t.claimed_edge),
                "verified": bool(t.verified),
                "step": t.step,
                "options": int(t.options),
            }
            for t in trace.thoughts
        ]
        for trace in traces
    ]
    columns["quality"] = [float(trace.quality) for trace in traces]
    columns["attribute_only"] = [bool(trace.attribute_only) for trace in traces]
    columns["teacher"] = [trace.teacher for trace in traces]
    types = {
        "messages": MESSAGES,
        **_EXAMPLE_TYPES,
        "chains": pa.list_(CHAIN),
        "thoughts": pa.list_(THOUGHT),
        "quality": pa.float64(),
        "attribute_only": pa.bool_(),
        "teacher": pa.string(),
    }
    return _table(columns, types)


def rl_table(output: ProtocolOutput, examples: EvalSplit, style: PromptStyle) -> pa.Table:
    """One row per training example: the prompt for GRPO and what rewards compare against."""
    rows = np.arange(len(examples))
    columns = _example_columns(output, examples, rows)
    prompts = [
        chat_prompt(style, history, candidates)
        for history, candidates in zip(
            columns["history_titles"], columns["candidate_titles"], strict=True
        )
    ]
    return _table({"prompt": prompts, **columns}, {"prompt": MESSAGES, **_EXAMPLE_TYPES})
