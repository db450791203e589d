"""Declarative builders: one TOML file per published corpus (``builders/*.toml``).

A builder names its source (reader, fetch name, license, citation), the protocol parameters
and the prompt's domain words; ``build`` runs sources → protocol → render into a directory
laid out like a Hub dataset repository, atomically.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from r2rec_bench.errors import UserError
from r2rec_bench.protocol import ProtocolParams
from r2rec_bench.resources import resource_dir
from r2rec_bench.sources.fetch import AMAZON_2023_CATEGORIES
from r2rec_bench.task.prompt import PromptStyle

REDISTRIBUTION = ("open", "restricted")


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
    license_link: str | None = None  # where the terms are; the Hub asks for it with "other"
    # "restricted": the terms forbid redistribution without permission, so `publish` uploads
    # only gated (users accept the terms first) or private.
    redistribution: str = "open"
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class IoTSpec:
    """How the interaction-of-thought configs (`sft`, `rl`) are made (DESIGN §6)."""

    targets_per_user: int = 3  # each user's last N training interactions become examples
    chains_per_example: int = 1
    chain_kinds: tuple[str, ...] = ("bridge", "bridge3", "loop")
    # Share of examples that also get a closed loop (a similar user) before their chains to
    # the target, as the paper's interaction loops beside the bridges.
    loop_share: float = 0.0
    weighting: str = "co_interaction"  # or uniform, recency
    teacher: str = "template"  # or hf:<model>, openai:<model> (with a base URL)
    min_quality: float = 0.5  # traces with a lower share of verified steps stay out of `sft`
    sft_validation_share: float = 0.05  # share of users whose examples form sft/validation
    # A seeded sample of at most this many examples gets traces (and forms `sft` and `rl`):
    # for a costly LLM teacher; None keeps every example.
    max_examples: int | None = None

    def __post_init__(self) -> None:
        if self.targets_per_user < 1 or self.chains_per_example < 1:
            raise UserError("[iot] targets_per_user and chains_per_example must be at least 1")
        if not 0.0 <= self.min_quality <= 1.0:
            raise UserError("[iot] min_quality must lie between 0 and 1")
        if not 0.0 <= self.sft_validation_share < 1.0:
            raise UserError("[iot] sft_validation_share must lie in [0, 1)")
        if not 0.0 <= self.loop_share <= 1.0 or (
            self.loop_share and "loop" not in self.chain_kinds
        ):
            raise UserError("[iot] loop_share lies between 0 and 1 and needs `loop` in chain_kinds")
        if self.max_examples is not None and self.max_examples < 1:
            raise UserError("[iot] max_examples must be at least 1 (leave it out for all)")


@dataclass(frozen=True)
class BuilderSpec:
    name: str
    version: str
    pretty_name: str
    summary: str
    source: SourceSpec
    protocol: ProtocolParams
    prompt: PromptStyle
    iot: IoTSpec = field(default_factory=IoTSpec)
    hub_repo: str | None = None
    tags: tuple[str, ...] = ()
    path: Path | None = None


# One builder file serves every Amazon Reviews 2023 category: amazon-<category>-iot.
AMAZON_FAMILY = re.compile(r"^amazon-([a-z0-9-]+)-iot$")
AMAZON_TEMPLATE = "amazon-category-iot"


def available_builders() -> dict[str, Path]:
    return {path.stem: path for path in sorted(resource_dir("builders").glob("*.toml"))}


def _amazon_builder_text(name: str, template: Path) -> str | None:
    """The family template filled in for ``amazon-<category>-iot``, or None for another name."""

    match = AMAZON_FAMILY.match(name)
    if not match:
        return None
    slugs = {c.lower().replace("_", "-"): c for c in AMAZON_2023_CATEGORIES}
    category = slugs.get(match.group(1))
    if category is None:
        raise UserError(
            f"unknown Amazon Reviews 2023 category in {name!r}; use amazon-<category>-iot with "
            f"one of: {', '.join(slugs)}"
        )
    return (
        template.read_text(encoding="utf-8")
        .replace("{category_slug}", match.group(1))
        .replace("{category_label}", category.replace("_", " "))
        .replace("{category}", category)
    )


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
    text = None
    if not (path.suffix == ".toml" and path.is_file()):
        builders = available_builders()
        template = builders.pop(AMAZON_TEMPLATE)
        if name_or_path in builders:
            path = builders[name_or_path]
        else:
            text = _amazon_builder_text(name_or_path, template)
            if text is None:
                raise UserError(
                    f"unknown dataset builder {name_or_path!r}; choose one of: "
                    f"{', '.join(builders)}, amazon-<category>-iot (or pass the path of a "
                    f"builder .toml file)"
                )
            path = template
    try:
        data = tomllib.loads(text if text is not None else path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc}); fix the builder file") from None
    try:
        source = _make(SourceSpec, data.pop("source"), f"{path} [source]")
        if source.redistribution not in REDISTRIBUTION:
            raise UserError(
                f"{path} [source] redistribution = {source.redistribution!r}: use one of "
                f"{', '.join(REDISTRIBUTION)}"
            )
        protocol = _make(ProtocolParams, data.pop("protocol", {}), f"{path} [protocol]")
        prompt = _make(PromptStyle, data.pop("prompt", {}), f"{path} [prompt]")
        iot_table = data.pop("iot", {})
        if "chain_kinds" in iot_table:
            iot_table["chain_kinds"] = tuple(iot_table["chain_kinds"])
        iot = _make(IoTSpec, iot_table, f"{path} [iot]")
    except KeyError:
        raise UserError(
            f"{path}: missing the [source] table; see builders/ml-100k-iot.toml"
        ) from None
    data["tags"] = tuple(data.get("tags", ()))
    return _make(
        BuilderSpec,
        {
            **data,
            "source": source,
            "protocol": protocol,
            "prompt": prompt,
            "iot": iot,
            "path": path,
        },
        str(path),
    )
