"""Sources: parse a published raw log, exactly in its upstream format, into a RawLog.

Each source is a function ``read(raw_dir: Path, **options) -> RawLog``. They are looked up
by name and imported only when used, so that listing them costs nothing.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from r2rec_bench.errors import UserError
from r2rec_bench.sources.types import AttributeSpec, Catalog, Interactions, RawLog

# name -> "module:function"
SOURCES: dict[str, str] = {
    "movielens-100k": "r2rec_bench.sources.movielens:read_ml100k",
    "recbole-atomic": "r2rec_bench.sources.movielens:read_recbole_atomic",
    "movielens-1m": "r2rec_bench.sources.movielens:read_ml1m",
    "movielens-csv": "r2rec_bench.sources.movielens:read_movielens_csv",
    "amazon-2023": "r2rec_bench.sources.amazon:read_amazon_2023",
    "steam": "r2rec_bench.sources.steam:read_steam",
    "lastfm-hetrec": "r2rec_bench.sources.lastfm:read_lastfm_hetrec",
    "tabular": "r2rec_bench.sources.tabular:read_tabular",
}


def read_source(name: str, raw_dir: Path, **options) -> RawLog:
    """Parse ``raw_dir`` with the source called ``name``."""
    if name not in SOURCES:
        raise UserError(f"unknown source {name!r}; choose one of: {', '.join(sorted(SOURCES))}")
    if not raw_dir.is_dir():
        raise UserError(f"{raw_dir}: no such folder; pass --raw-dir to the folder of raw files")
    module_name, function_name = SOURCES[name].split(":")
    reader = getattr(importlib.import_module(module_name), function_name)
    accepted = inspect.signature(reader).parameters
    unknown = [key for key in options if key not in accepted]
    if unknown:
        raise UserError(
            f"source {name!r} has no option {', '.join(map(repr, unknown))}; it takes: "
            f"{', '.join(p for p in accepted if p != 'raw_dir') or 'none'}"
        )
    return reader(raw_dir, **options)


__all__ = ["SOURCES", "AttributeSpec", "Catalog", "Interactions", "RawLog", "read_source"]
