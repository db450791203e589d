"""Loading local or Hub causal LMs and PEFT adapters, safely (DESIGN §12).

Only safetensors weights are loaded (pickled ``.bin`` checkpoints can run arbitrary code when
unpickled), ``trust_remote_code`` is off unless asked for, and no token or secret is ever
printed. torch, transformers and peft are imported inside the functions that need them.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from r2rec_bench.errors import UserError, one_line
from r2rec_bench.models import MODELS, prepared_revision, resolve_model

if TYPE_CHECKING:
    import torch

_WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "*.jinja"]
# Any one of these lets AutoTokenizer load (fast, SentencePiece, or BPE vocabulary files).
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
_PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt", ".pkl"}
_DTYPES = {
    "float32": "float32", "fp32": "float32", "float": "float32",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
    "float16": "float16", "fp16": "float16", "half": "float16",
}  # fmt: skip


def hub_revision(path: Path) -> str | None:
    """The commit hash of a Hub cache snapshot directory (``.../snapshots/<sha>``), else None."""
    if path.parent.name == "snapshots" and re.fullmatch(r"[0-9a-f]{40}", path.name):
        return path.name
    return None


def _local_or_hub(spec: str, what: str, patterns: list[str], revision: str | None = None) -> Path:
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError(f"{spec}: {what} must be a directory, not a file")
        if revision is not None:
            raise UserError(
                f"--revision {revision}: {spec} is a local directory; a revision applies to "
                "a Hub id"
            )
        return path
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise UserError(f"{spec}: no such {what} directory")
    known = ", ".join(MODELS)
    if "/" not in spec and what == "model":
        # A bare name is neither a path here nor an ORG/NAME Hub id: most likely a short name
        # mistyped, so say which ones exist rather than ask the Hub.
        raise UserError(
            f"{spec}: unknown model; pass a local directory, a Hub id (ORG/NAME) or one of "
            f"the models `r2rec-bench models list` knows ({known})"
        )
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(spec, revision=revision, allow_patterns=patterns))
    except Exception as exc:  # the Hub client raises many types (offline, 404, gated, bad id)
        raise UserError(
            f"{spec}: not a local {what} directory and not fetchable from the Hub "
            f"({type(exc).__name__}: {one_line(exc)}); pass a directory or a valid Hub id"
        ) from None


def resolve_model_dir(
    spec: str, *, trust_remote_code: bool = False, revision: str | None = None
) -> tuple[Path, str | None]:
    """The local directory of a model given as a short name of ``r2rec-bench models list``
    (prepared in the cache on first use), a path or a Hub id (fetched into the Hub cache at
    ``revision``, default the latest, without any pickled weights), and its revision: the
    Hub commit, or for a prepared model the sha256 of the file it was converted from.

    Raises UserError for a missing model, a directory without ``config.json`` or tokenizer
    files, and a directory whose only weights are pickles.
    """
    patterns = [*_WEIGHT_PATTERNS, "*.py"] if trust_remote_code else _WEIGHT_PATTERNS
    path = _local_or_hub(resolve_model(spec), "model", patterns, revision)
    if not (path / "config.json").is_file():
        raise UserError(f"{path}: no config.json; a model directory is what save_pretrained writes")
    if not any(path.glob("*.safetensors")):
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in _PICKLE_SUFFIXES)
        if pickles:
            raise UserError(
                f"{path}: only pickled weights ({pickles[0]}); r2rec-bench loads safetensors "
                f"only, because unpickling can run arbitrary code: re-save the model with "
                f"save_pretrained() (recent transformers write model.safetensors)"
            )
        raise UserError(f"{path}: no *.safetensors weights (a Hub repo may hold only .bin ones)")
    if not any((path / name).is_file() for name in _TOKENIZER_FILES):
        raise UserError(
            f"{path}: no tokenizer files (none of {', '.join(_TOKENIZER_FILES)}); save the "
            "tokenizer beside the weights with tokenizer.save_pretrained(DIR)"
        )
    return path, hub_revision(path) or prepared_revision(path)


def resolve_adapter_dir(spec: str) -> tuple[Path, str | None]:
    """The local directory of a PEFT adapter given as a path or a Hub id, and its commit."""
    path = _local_or_hub(spec, "adapter", ["adapter_config.json", "adapter_model.safetensors"])
    if not (path / "adapter_config.json").is_file():
        raise UserError(f"{path}: not a PEFT adapter (no adapter_config.json)")
    if not (path / "adapter_model.safetensors").is_file():
        raise UserError(
            f"{path}: no adapter_model.safetensors; only safetensors adapters are loaded "
            f"(re-save it with PeftModel.save_pretrained())"
        )
    return path, hub_revision(path)


def adapter_base(path: Path) -> str | None:
    """The base model an adapter records it was trained from (``base_model_name_or_path``)."""
    import json

    return json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")


def resolve_device(device: str = "auto") -> torch.device:
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise UserError(
            f"--model-args device={device}: not a torch device (cpu, cuda, cuda:1, ...)"
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--model-args device={device}: CUDA is not available on this machine")
    return resolved


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto``: bfloat16 on a CUDA device that supports it, float16 on an older one, float32
    elsewhere (CPU half-precision kernels are slow and less accurate)."""
    import torch

    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if dtype not in _DTYPES:
        raise UserError(
            f"--model-args dtype={dtype}: unknown; use auto, float32, bfloat16 or float16"
        )
    return getattr(torch, _DTYPES[dtype])


def load_causal_lm(
    model: str,
    *,
    adapter: str | None = None,
    dtype: str = "auto",
    device: str = "auto",
    device_map: str | None = None,
    trust_remote_code: bool = False,
    revision: str | None = None,
):
    """A causal LM and its tokenizer, in eval mode, ready for batched generation.

    ``device_map`` (e.g. ``auto``) is handed to transformers to spread a model too large for
    one GPU over several (accelerate's big-model placement); without it the whole model goes
    to ``device``.

    ``model`` and ``adapter`` are local directories or Hub ids. A LoRA-style adapter is checked
    against the base (every saved weight must find its module with the same shape) and merged
    into the weights for speed. The tokenizer pads on the left (batched generation needs the
    prompts to end together) and falls back to the end-of-sequence token as its pad token.
    """
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir, _ = resolve_model_dir(model, trust_remote_code=trust_remote_code, revision=revision)
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{model}: cannot load its tokenizer ({one_line(exc)})") from None
    try:
        lm = AutoModelForCausalLM.from_pretrained(
            model_dir,
            dtype=torch_dtype,
            use_safetensors=True,
            trust_remote_code=trust_remote_code,
            device_map=device_map or str(torch_device),
        )
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
        hint = (
            "; it needs trust_remote_code (code from the model repo), off unless asked for"
            if "trust_remote_code" in str(exc)
            else ""
        )
        raise UserError(f"{model}: cannot load it as a causal LM ({one_line(exc)}){hint}") from None
    lm.eval()
    if adapter is not None:
        lm = _apply_adapter(lm, adapter, model)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise UserError(f"{model}: its tokenizer has neither a pad nor an end-of-text token")
        tokenizer.pad_token = tokenizer.eos_token
    return lm, tokenizer


def _apply_adapter(lm, adapter: str, model: str):
    from peft import PeftConfig, PeftModel
    from peft.utils import load_peft_weights, set_peft_model_state_dict

    adapter_dir, _ = resolve_adapter_dir(adapter)
    config = PeftConfig.from_pretrained(str(adapter_dir))
    if config.is_prompt_learning:
        raise UserError(
            f"{adapter}: a {config.peft_type} adapter adds virtual tokens, which the harness "
            f"does not support; use a weight adapter such as LoRA"
        )
    mismatch = (
        f"adapter {adapter} was made for base model {config.base_model_name_or_path!r} "
        f"and does not fit {model!r}"
    )
    fix = "pass the --model the adapter was trained from"
    # PEFT only warns about saved weights that find no module, and about injected modules
    # that find no weights (left as initialised); both are checked below and are errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            peft_model = PeftModel.from_pretrained(lm, str(adapter_dir), is_trainable=False)
            # Loading again through the same function returns what did not fit.
            loaded = set_peft_model_state_dict(
                peft_model, load_peft_weights(str(adapter_dir), device="cpu")
            )
        except (RuntimeError, ValueError, KeyError) as exc:
            raise UserError(f"{mismatch}: {one_line(exc)}; {fix}") from None
    if loaded.unexpected_keys:
        raise UserError(f"{mismatch}: weight {loaded.unexpected_keys[0]} has no module; {fix}")
    unfilled = [key for key in loaded.missing_keys if ".default." in key]  # adapter's own
    if unfilled:
        raise UserError(f"{mismatch}: module of {unfilled[0]} has no saved weight; {fix}")
    try:
        # Merging saves a matrix product per adapted layer on every forward pass.
        return peft_model.merge_and_unload().eval()
    except (AttributeError, NotImplementedError, ValueError):
        return peft_model.eval()  # a tuner that cannot merge still runs, a little slower
