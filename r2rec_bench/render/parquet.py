"""Deterministic Parquet files in the Hub's ``<config>/<split>-NNNNN-of-NNNNN.parquet`` layout."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_SIZE = 100_000
MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)


def shard_name(split: str, index: int = 0, count: int = 1) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def write_table(table: pa.Table, root: Path, config: str, split: str) -> Path:
    """Write ``table`` as one shard; byte-identical for identical tables and library versions
    (no timestamps, no pandas metadata, fixed row groups and compression)."""
    path = root / config / shard_name(split)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table.replace_schema_metadata(None),
        path,
        compression="zstd",
        row_group_size=ROW_GROUP_SIZE,
        write_statistics=True,
        store_schema=True,
    )
    return path
