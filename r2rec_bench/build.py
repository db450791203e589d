"""``r2rec-bench build``: raw files → protocol → a Hub-layout dataset directory."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from r2rec_bench.atomic import atomic_directory
from r2rec_bench.builders import BuilderSpec, load_builder
from r2rec_bench.errors import UserError
from r2rec_bench.protocol import run_protocol
from r2rec_bench.render.dataset import write_dataset
from r2rec_bench.sources import read_source
from r2rec_bench.sources.fetch import FETCHABLE, IndexWheel, default_raw_dir, fetch

BUILD_STEPS = 7  # read, protocol, four config files, card + manifest


def resolve_raw_dir(spec: BuilderSpec, raw_dir: Path | None, quiet: bool) -> Path:
    """The folder to read: the one given, else the cache, fetching an offline default."""
    if raw_dir is not None:
        return Path(raw_dir)
    if spec.source.fetch is None:
        raise UserError(f"builder {spec.name} names no fetchable source; pass --raw-dir")
    cached = default_raw_dir(spec.source.fetch, spec.source.options.get("category"))
    if cached.is_dir():
        return cached
    default_source = next(iter(FETCHABLE[spec.source.fetch].values()))
    if isinstance(default_source, IndexWheel):  # from the package index: fetch it now
        return fetch(spec.source.fetch, quiet=quiet)
    raise UserError(
        f"{cached}: no raw data for {spec.source.name} yet; run `r2rec-bench data fetch "
        f"{spec.source.fetch}` (downloads from the official site) or pass --raw-dir"
    )


def build(
    builder: str,
    *,
    out: Path | None = None,
    raw_dir: Path | None = None,
    seed: int | None = None,
    quiet: bool = False,
) -> tuple[Path, dict]:
    """Build ``builder`` into ``out`` (default ``out/<name>``); returns (path, manifest)."""
    from tqdm.auto import tqdm

    spec = load_builder(builder)
    if seed is not None:
        spec = replace(spec, protocol=replace(spec.protocol, seed=seed))
    out = Path(out) if out else Path("out") / spec.name
    source_dir = resolve_raw_dir(spec, raw_dir, quiet)
    bar = tqdm(total=BUILD_STEPS, desc=f"build {spec.name}", unit="step", disable=quiet)
    try:
        bar.set_postfix_str("reading raw files")
        log = read_source(spec.source.reader, source_dir, **spec.source.options)
        bar.update(1)
        bar.set_postfix_str("protocol")
        output = run_protocol(log, spec.protocol)
        bar.update(1)
        meta = {"format": log.source, "files": log.files, "notes": log.notes}
        with atomic_directory(out) as staging:
            manifest = write_dataset(staging, spec, output, meta, bar)
    except BaseException:
        bar.leave = False  # the one-line error, not a half-drawn bar, is what the user reads
        raise
    finally:
        bar.close()
    return out, manifest
