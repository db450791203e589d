"""Declarative builders: one TOML file per published corpus (``builders/*.toml``).

A builder names its source (reader, fetch name, license, citation), the protocol parameters
and the prompt's domain words; ``build`` runs sources → protocol → render into a directory
laid out like a Hub dataset repository, atomically.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from r2rec_bench.errors import UserError
from r2rec_bench.protocol import ProtocolParams
from r2rec_bench.render.prompts import PromptStyle
from r2rec_bench.resources import resource_dir


@dataclass(frozen=True)
class SourceSpec:
    reader: str
    name: str
    homepage: str
    license: str
    license_note: str
    citation: str
    fetch: str | None = None
    license_name: str | None = None
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BuilderSpec:
    name: str
    version: str
    pretty_name: str
    summary: str
    source: SourceSpec
    protocol: ProtocolParams
    prompt: PromptStyle
    hub_repo: str | None = None
    tags: tuple[str, ...] = ()
    path: Path | None = None


def available_builders() -> dict[str, Path]:
    return {path.stem: path for path in sorted(resource_dir("builders").glob("*.toml"))}


def _make(cls, table: dict, where: str):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise UserError(
            f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    try:
        return cls(**table)
    except TypeError as exc:
        raise UserError(f"{where}: {exc}") from None


def load_builder(name_or_path: str) -> BuilderSpec:
    """A builder by name (``ml-100k-iot``) or by path to a TOML file."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" and path.is_file()):
        builders = available_builders()
        if name_or_path not in builders:
            raise UserError(
                f"unknown dataset builder {name_or_path!r}; choose one of: "
                f"{', '.join(builders)} (or pass the path of a builder .toml file)"
            )
        path = builders[name_or_path]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc}); fix the builder file") from None
    try:
        source = _make(SourceSpec, data.pop("source"), f"{path} [source]")
        protocol = _make(ProtocolParams, data.pop("protocol", {}), f"{path} [protocol]")
        prompt = _make(PromptStyle, data.pop("prompt", {}), f"{path} [prompt]")
    except KeyError:
        raise UserError(
            f"{path}: missing the [source] table; see builders/ml-100k-iot.toml"
        ) from None
    data["tags"] = tuple(data.get("tags", ()))
    return _make(
        BuilderSpec,
        {**data, "source": source, "protocol": protocol, "prompt": prompt, "path": path},
        str(path),
    )
