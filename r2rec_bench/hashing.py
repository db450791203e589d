"""Content hashes shared by sources (raw files), datasets (manifest) and results."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_json(value) -> str:
    """The JSON text that hashes name (sorted keys, no spaces); ``default=str`` because a
    backend's description may hold non-JSON values (a dtype, a path)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dataset_fingerprint(file_hashes: dict[str, str]) -> str:
    """One hash naming a dataset's content: the sha256 of its data files' (path, sha256)."""
    data = {path: digest for path, digest in file_hashes.items() if path.endswith(".parquet")}
    return sha256_text(json.dumps(data, sort_keys=True))
