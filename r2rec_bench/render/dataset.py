"""Write a Hub-layout dataset directory: Parquet configs, a card and a manifest (DESIGN.md §5)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from r2rec_bench import __version__
from r2rec_bench.hashing import dataset_fingerprint, sha256_file
from r2rec_bench.protocol import ProtocolOutput
from r2rec_bench.render.parquet import write_table
from r2rec_bench.render.tables import eval_table, interactions_table, items_table
from r2rec_bench.resources import resource_dir
from r2rec_bench.task.dataset import CARD, MANIFEST
from r2rec_bench.task.dataset import DATASET_SCHEMA_VERSION as SCHEMA_VERSION
from r2rec_bench.task.order import PROTOCOL_VERSION, TIE_RULE, TIE_RULE_TEXT


@dataclass(frozen=True)
class ConfigFile:
    config: str
    split: str
    path: str  # relative to the dataset root
    rows: int
    description: str


_DESCRIPTIONS = {
    ("items", "catalog"): "an item: id, unique display title, attributes, merged ids",
    ("interactions", "train"): "a training interaction: user, item, timestamp, rating",
    ("eval", "validation"): "a user: history, 20 candidates, target (2nd-to-last), prompt",
    ("eval", "test"): "a user: history, 20 candidates, target (last), prompt",
    ("sft", "train"): "a training example: chat messages with the reasoning trace, chains, "
    "thoughts, quality",
    ("sft", "validation"): "the same, for held-out users (monitoring SFT)",
    ("rl", "train"): "a training example: prompt, candidates and gold target for GRPO",
}


@dataclass(frozen=True)
class ExtraConfig:
    """A config made by a later stage (the `sft` and `rl` traces), written like the others."""

    config: str
    split: str
    table: pa.Table


def _type_name(arrow_type: pa.DataType) -> str:
    if pa.types.is_list(arrow_type):
        return f"list of {_type_name(arrow_type.value_type)}"
    if pa.types.is_struct(arrow_type):
        return "{" + ", ".join(f"{f.name}: {_type_name(f.type)}" for f in arrow_type) + "}"
    return str(arrow_type)


def _card_data(spec, configs: list[ConfigFile], n_rows: int):
    from huggingface_hub import DatasetCardData

    by_config: dict[str, list[dict]] = {}
    for item in configs:
        pattern = item.path.rsplit("-", 3)[0] + "-*.parquet"
        by_config.setdefault(item.config, []).append({"split": item.split, "path": pattern})
    size = next(
        label
        for limit, label in (
            (1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
            (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (float("inf"), "10M<n<100M"),
        )
        if n_rows < limit
    )  # fmt: skip
    extra = {
        key: value
        for key, value in (
            ("license_name", spec.source.license_name),
            ("license_link", spec.source.license_link),
        )
        if value
    }
    return DatasetCardData(
        pretty_name=spec.pretty_name,
        license=spec.source.license,
        language="en",
        task_categories=["text-generation"],
        tags=list(spec.tags),
        size_categories=size,
        # `eval` is the default: load_dataset(repo) with no config name gives the benchmark.
        configs=[
            {
                "config_name": name,
                "data_files": files,
                **({"default": True} if name == "eval" else {}),
            }
            for name, files in by_config.items()
        ],
        **extra,
    )


def render_card(
    root: Path,
    spec,
    output: ProtocolOutput,
    log_meta: dict,
    configs: list[ConfigFile],
    fingerprint: str,
    example_prompt: str,
    iot: dict | None,
) -> None:
    from huggingface_hub import DatasetCard

    schemas = {}
    for item in configs:
        schema = pq.read_schema(root / item.path)
        schemas.setdefault(item.config, [(f.name, _type_name(f.type)) for f in schema])
    card = DatasetCard.from_template(
        _card_data(spec, configs, sum(c.rows for c in configs if c.config == "interactions")),
        template_path=str(resource_dir("hub_cards") / "dataset_card.md"),
        spec=spec,
        repo_id=spec.hub_repo or f"<org>/{spec.name}",
        harness_version=__version__,
        schema_version=SCHEMA_VERSION,
        source_format=log_meta["format"],
        source_files=log_meta["files"],
        notes=log_meta["notes"],
        fingerprint=fingerprint,
        protocol=output.params.to_dict(),
        protocol_version=PROTOCOL_VERSION,
        tie_rule=TIE_RULE_TEXT,
        tied_targets=output.tied_targets,
        n_users=len(output.user_id),
        steps=output.steps,
        title_changes=output.title_changes,
        config_rows=configs,
        schemas=schemas,
        example_prompt=example_prompt,
        iot=iot,
    )
    (root / CARD).write_text(str(card) + "\n", encoding="utf-8")


def write_dataset(
    root: Path,
    spec,
    output: ProtocolOutput,
    log_meta: dict,
    progress,
    extra: list[ExtraConfig] = (),
    iot: dict | None = None,
) -> dict:
    """Write every config, the card and the manifest into ``root``; returns the manifest.

    ``extra`` holds the configs of later stages; ``iot`` their statistics for the card.
    """
    plan = [
        ("items", "catalog", lambda: items_table(output)),
        ("interactions", "train", lambda: interactions_table(output)),
        ("eval", "validation", lambda: eval_table(output, output.validation, spec.prompt)),
        ("eval", "test", lambda: eval_table(output, output.test, spec.prompt)),
        *((e.config, e.split, lambda e=e: e.table) for e in extra),
    ]
    configs = []
    for config, split, make in plan:
        progress.set_postfix_str(f"{config}/{split}")
        table = make()
        if (config, split) == ("eval", "test"):
            example_prompt = table.column("prompt")[0].as_py()[-1]["content"]
        path = write_table(table, root, config, split)
        configs.append(
            ConfigFile(config, split, str(path.relative_to(root)), table.num_rows,
                       _DESCRIPTIONS[(config, split)])
        )  # fmt: skip
        progress.update(1)
    data_hashes = {c.path: sha256_file(root / c.path) for c in configs}
    fingerprint = dataset_fingerprint(data_hashes)
    render_card(root, spec, output, log_meta, configs, fingerprint, example_prompt, iot)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "dataset": spec.name,
        "builder_version": spec.version,
        "r2rec_bench_version": __version__,
        "hub_repo": spec.hub_repo,
        "fingerprint": fingerprint,
        "protocol": {
            "version": PROTOCOL_VERSION,
            "tie_rule": TIE_RULE,
            **output.params.to_dict(),
        },
        "prompt_style": asdict(spec.prompt),
        "source": {
            "name": spec.source.name,
            "reader": spec.source.reader,
            "redistribution": spec.source.redistribution,
            "format": log_meta["format"],
            "files": log_meta["files"],
            "notes": list(log_meta["notes"]),
        },
        "statistics": {
            "users": len(output.user_id),
            "items": len(output.catalog),
            "train_interactions": len(output.train),
            "steps": [asdict(step) for step in output.steps],
            "title_changes": len(output.title_changes),
            "tied_targets": output.tied_targets,
            **({"iot": {k: v for k, v in iot.items() if k != "example"}} if iot else {}),
        },
        "configs": [asdict(c) for c in configs],
        "files": {
            path: {"sha256": sha256_file(root / path), "bytes": (root / path).stat().st_size}
            for path in [*sorted(data_hashes), CARD]
        },
        "libraries": {"pyarrow": pa.__version__},
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    progress.update(1)
    return manifest
