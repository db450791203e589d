"""Sharded trace building: ``build --shard i/n`` on several machines, then ``--merge-shards n``.

Teacher calls dominate a build with an LLM teacher. A shard builds the traces of the examples
whose user code is ``i`` modulo ``n`` and stores them (with their chains) in one gzip JSON
lines file; the merge step reads every shard, checks that they come from the same builder,
protocol, teacher and examples, and writes the dataset exactly as one process would have
(chains and teacher options are drawn per example, never per process).
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from r2rec_bench.chains.types import Chain, ChainEdge, ChainNode
from r2rec_bench.errors import UserError
from r2rec_bench.teacher.types import Thought, Trace


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` with 0 <= i < n."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UserError(f"--shard {text!r}: write it as i/n, e.g. 0/4") from None
    if not 0 <= index < count:
        raise UserError(f"--shard {text!r}: needs 0 <= i < n")
    return index, count


def shard_dir(out: Path) -> Path:
    return out.with_name(out.name + ".shards")


def shard_path(out: Path, index: int, count: int) -> Path:
    return shard_dir(out) / f"shard-{index:05d}-of-{count:05d}.jsonl.gz"


def _trace_from_dict(data: dict) -> Trace:
    def edge(value):
        return ChainEdge(**value) if value is not None else None

    return Trace(
        example=data["example"],
        chains=tuple(
            Chain(
                kind=c["kind"],
                nodes=tuple(ChainNode(**n) for n in c["nodes"]),
                edges=tuple(ChainEdge(**e) for e in c["edges"]),
            )
            for c in data["chains"]
        ),
        thoughts=tuple(
            Thought(
                text=t["text"],
                cited_items=tuple(t["cited_items"]),
                claimed_edge=edge(t["claimed_edge"]),
                verified=t["verified"],
                step=t.get("step", ""),
                options=t.get("options", 0),
            )
            for t in data["thoughts"]
        ),
        attribute_only=data["attribute_only"],
        teacher=data["teacher"],
        prompt_tokens=data["prompt_tokens"],
        completion_tokens=data["completion_tokens"],
    )


def write_shard(path: Path, header: dict, traces: list[Trace]) -> None:
    """The header line, then one trace per line; written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=".shard-", dir=path.parent)
    os.close(handle)
    try:
        with gzip.open(staging, "wt", encoding="utf-8") as out:
            out.write(json.dumps(header, sort_keys=True) + "\n")
            for trace in traces:
                out.write(json.dumps(asdict(trace), sort_keys=True) + "\n")
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def read_shards(out: Path, count: int, header: dict) -> list[Trace]:
    """Every shard's traces in example order; each shard must match ``header``."""
    traces: list[Trace] = []
    for index in range(count):
        path = shard_path(out, index, count)
        if not path.is_file():
            raise UserError(
                f"{path}: missing; run `r2rec-bench build ... --shard {index}/{count}` first"
            )
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            found = json.loads(handle.readline())
            expected = {**header, "shard": [index, count]}
            if found != expected:
                differing = sorted(k for k in expected if found.get(k) != expected[k])
                raise UserError(
                    f"{path}: built with another {', '.join(differing)}; rebuild this shard "
                    f"with the same builder, seed and teacher"
                )
            traces.extend(_trace_from_dict(json.loads(line)) for line in handle)
    traces.sort(key=lambda trace: trace.example)
    return traces
