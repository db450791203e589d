"""Arrow tables for the `items`, `interactions` and `eval` configs (DESIGN.md §5)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from r2rec_bench.protocol import EvalSplit, ProtocolOutput
from r2rec_bench.render.parquet import MESSAGES
from r2rec_bench.task.prompt import PromptStyle, chat_prompt

_ATTRIBUTE_TYPES = {
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "list": pa.list_(pa.string()),
}


def items_table(output: ProtocolOutput) -> pa.Table:
    catalog = output.catalog
    columns = {
        "item_id": pa.array(catalog.item_id.tolist(), pa.string()),
        "title": pa.array(catalog.title, pa.string()),
    }
    for spec in catalog.attribute_specs:
        columns[spec.name] = pa.array(catalog.attributes[spec.name], _ATTRIBUTE_TYPES[spec.kind])
    columns["merged_ids"] = pa.array(catalog.merged_ids, pa.list_(pa.string()))
    columns["train_interactions"] = pa.array(catalog.train_popularity, pa.int64())
    return pa.table(columns)


def interactions_table(output: ProtocolOutput) -> pa.Table:
    train = output.train
    user_ids = pa.array(output.user_id.tolist(), pa.string())
    item_ids = pa.array(output.catalog.item_id.tolist(), pa.string())
    return pa.table(
        {
            "user_id": user_ids.take(pa.array(train.user)),
            "item_id": item_ids.take(pa.array(train.item)),
            "timestamp": pa.array(train.timestamp, pa.int64()),
            "rating": pa.array(train.rating, pa.float64(), from_pandas=True),
        }
    )


def _ragged(offsets: np.ndarray, values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def eval_table(output: ProtocolOutput, split: EvalSplit, style: PromptStyle) -> pa.Table:
    """One row per user: ids, the history and candidates (ids and titles), the target and its
    slot, and the chat prompt built from exactly those titles."""
    titles = output.catalog.title
    item_ids = pa.array(output.catalog.item_id.tolist(), pa.string())
    title_array = pa.array(titles, pa.string())
    width = split.candidates.shape[1]
    candidate_offsets = np.arange(len(split) + 1, dtype=np.int64) * width
    flat_candidates = pa.array(split.candidates.reshape(-1))
    history_items = pa.array(split.history_items)
    prompts = [
        chat_prompt(
            style,
            [titles[i] for i in split.history(row)],
            [titles[i] for i in split.candidates[row]],
        )
        for row in range(len(split))
    ]
    return pa.table(
        {
            "user_id": pa.array(output.user_id.tolist(), pa.string()).take(pa.array(split.user)),
            "history": _ragged(split.history_offsets, item_ids.take(history_items)),
            "history_titles": _ragged(split.history_offsets, title_array.take(history_items)),
            "history_timestamps": _ragged(
                split.history_offsets, pa.array(split.history_timestamps, pa.int64())
            ),
            "candidates": _ragged(candidate_offsets, item_ids.take(flat_candidates)),
            "candidate_titles": _ragged(candidate_offsets, title_array.take(flat_candidates)),
            "target": item_ids.take(pa.array(split.target)),
            "target_title": title_array.take(pa.array(split.target)),
            "target_index": pa.array(split.target_index, pa.int32()),
            "target_timestamp": pa.array(split.target_timestamp, pa.int64()),
            "prompt": pa.array(prompts, MESSAGES),
        }
    )
