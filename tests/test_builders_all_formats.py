"""Every published builder produces every config from real data in its source's format.

The real MovieLens-100K ratings are written out in each upstream format (tests/support/
formats.py); each builder then runs the whole pipeline on them.
"""

from __future__ import annotations

import json

import pytest

from r2rec_bench.build import build
from r2rec_bench.hashing import sha256_file
from tests.conftest import load_config
from tests.support import formats

EVERY_CONFIG = {
    "items": ["catalog"],
    "interactions": ["train"],
    "eval": ["validation", "test"],
    "sft": ["train", "validation"],
    "rl": ["train"],
}

TABULAR_BUILDER = """
name = "my-shop-iot"
version = "0.1.0"
pretty_name = "A shop's own log"
summary = "Built from a plain CSV export."

[source]
reader = "tabular"
name = "shop export"
homepage = "https://example.org/"
license = "other"
license_note = "Internal data."
citation = ""

[source.options]
interactions = "events.csv"
items = "products.csv"
columns = { user = "customer", item = "product", timestamp = "when", rating = "stars" }
item_columns = { item = "product", title = "name" }

[prompt]
item_noun = "product"
item_noun_plural = "products"
verb_past = "bought"
verb_base = "buy"
"""


WRITERS = {
    "ml-1m-iot": formats.write_ml1m,
    "amazon-all-beauty-iot": lambda raw, target: formats.write_amazon(raw, target, "All_Beauty"),
    "steam-iot": formats.write_steam,
    "lastfm-iot": formats.write_lastfm,
    "tabular": formats.write_tabular,
}


@pytest.mark.parametrize("builder", list(WRITERS))
def test_builder_produces_every_config(builder, ml100k_raw, tmp_path):
    raw = tmp_path / "raw"
    WRITERS[builder](ml100k_raw, raw)
    if builder == "tabular":
        builder = str(tmp_path / "my-shop-iot.toml")
        (tmp_path / "my-shop-iot.toml").write_text(TABULAR_BUILDER)
    out, manifest = build(builder, out=tmp_path / "ds", raw_dir=raw, quiet=True)
    card = (out / "README.md").read_text()
    written = {(c["config"], c["split"]): c["rows"] for c in manifest["configs"]}
    for config, splits in EVERY_CONFIG.items():
        assert f"config_name: {config}" in card
        for split in splits:
            rows = load_config(out, config, split)
            assert rows.num_rows == written[config, split] > 0, (config, split)
    test = load_config(out, "eval", "test")
    assert test.num_rows == manifest["statistics"]["users"] > 900
    assert manifest["statistics"]["iot"]["examples"] > 0
    listed = {c["path"] for c in manifest["configs"]}
    assert {p for p in manifest["files"] if p.endswith(".parquet")} == listed


def test_ml1m_format_gives_the_same_eval_as_ml100k(ml100k_raw, ml100k_build, tmp_path):
    raw = tmp_path / "raw"
    formats.write_ml1m(ml100k_raw, raw)
    out, _ = build("ml-1m-iot", out=tmp_path / "ds", raw_dir=raw, quiet=True)
    for split in ("validation", "test"):
        path = f"eval/{split}-00000-of-00001.parquet"
        assert sha256_file(out / path) == sha256_file(ml100k_build / path)
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert manifest["source"]["format"] == "movielens-1m/grouplens"
