"""GGUF → an ordinary transformers checkpoint (safetensors, fp32) with its tokenizer.

transformers reads a GGUF file and dequantises every tensor to fp32, but flags the model as
quantised and refuses ``save_pretrained``. The weights are therefore copied into a fresh model
of the same class, built from the GGUF's config without its ``quantization_config``, which
saves as a plain checkpoint. Tied input/output embeddings (``tie_word_embeddings``) stay tied:
the checkpoint stores the matrix once and transformers ties it again on load.

torch, transformers and gguf are imported inside the functions: the CLI imports this package
for ``--help``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections import Counter
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

from r2rec_bench.errors import UserError

# What `tokenizer_config.json` names as the class: the fast tokenizer that every transformers
# release reads from tokenizer.json (transformers 5 writes its own `TokenizersBackend`).
TOKENIZER_CLASS = "PreTrainedTokenizerFast"
# Load-time flags that transformers 5 writes into tokenizer_config.json; not the tokenizer's.
_LOAD_FLAGS = ("is_local", "local_files_only")


@contextlib.contextmanager
def _silenced(quiet: bool) -> Iterator[None]:
    """When quiet, swallow transformers' own progress bars (written to sys.stderr by tqdm) and
    its warnings; errors still raise."""
    if not quiet:
        yield
        return
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        hf_logging.set_verbosity(level)


def tensor_types(gguf_path: Path) -> dict[str, int]:
    """How many tensors of each type (Q4_1, Q8_0, F32, ...) the GGUF file holds."""
    from gguf import GGUFReader

    counts = Counter(tensor.tensor_type.name for tensor in GGUFReader(str(gguf_path)).tensors)
    return dict(sorted(counts.items()))


def load_gguf(gguf_path: Path, *, quiet: bool = True):
    """(model, tokenizer) from a GGUF file, dequantised to fp32 by transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    folder, name = str(gguf_path.parent), gguf_path.name
    with _silenced(quiet):
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    return model.eval(), tokenizer


def _embeddings_tied(model) -> bool:
    output = model.get_output_embeddings()
    return output is not None and (
        output.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    )


def plain_copy(loaded):
    """A model of the same class as the GGUF-loaded ``loaded``, without the quantisation flag,
    holding the same (dequantised) weights."""
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = type(loaded)(config)
    plain.load_state_dict(loaded.state_dict(), strict=True)  # every key, or it raises
    plain.generation_config = loaded.generation_config
    if getattr(config, "tie_word_embeddings", False) and not _embeddings_tied(plain):
        raise RuntimeError("the converted model lost its tied input/output embeddings")
    return plain.eval()


def _fix_tokenizer_config(folder: Path) -> None:
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = TOKENIZER_CLASS
    for flag in _LOAD_FLAGS:
        config.pop(flag, None)
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def convert_gguf(gguf_path: Path, out_dir: Path, *, quiet: bool = False) -> dict:
    """Write the GGUF's model as an fp32 safetensors checkpoint plus its tokenizer (with the
    chat template) into ``out_dir``; return the facts for the model card."""
    from tqdm.auto import tqdm

    steps = ("read tensor types", "dequantise GGUF", "copy to plain model", "save safetensors")
    with tqdm(total=len(steps), desc="convert", unit="step", disable=quiet) as bar:
        bar.set_postfix_str(steps[0])
        types = tensor_types(gguf_path)
        bar.update()
        bar.set_postfix_str(steps[1])
        loaded, tokenizer = load_gguf(gguf_path, quiet=quiet)
        bar.update()
        bar.set_postfix_str(steps[2])
        tied_in_gguf = _embeddings_tied(loaded)
        model = plain_copy(loaded)
        del loaded
        bar.update()
        bar.set_postfix_str(steps[3])
        if not tokenizer.chat_template:
            raise UserError(f"{gguf_path.name}: the GGUF carries no chat template")
        tokenizer.model_max_length = model.config.max_position_embeddings
        with _silenced(quiet):
            model.save_pretrained(out_dir, safe_serialization=True)
            tokenizer.save_pretrained(out_dir)
        _fix_tokenizer_config(Path(out_dir))
        bar.update()
    return {
        "architecture": type(model).__name__,
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "dtype": "float32",
        "tie_word_embeddings": bool(getattr(model.config, "tie_word_embeddings", False)),
        "tied_in_gguf": tied_in_gguf,
        "gguf_tensor_types": types,
        "context_length": model.config.max_position_embeddings,
        "vocab_size": model.config.vocab_size,
        "tokenizer": {
            "bos": tokenizer.bos_token,
            "eos": tokenizer.eos_token,
            "pad": tokenizer.pad_token,
            "chat_format": "ChatML" if "<|im_start|>" in tokenizer.chat_template else "other",
        },
        "tools": {package: version(package) for package in ("transformers", "gguf", "torch")},
    }
