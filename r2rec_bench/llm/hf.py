"""Local transformers models: loading, batched chat generation and continuation scoring.

Shared by the harness's ``hf`` backend and the ``hf:<model>`` teacher, so nothing here knows
about datasets or metrics: chat messages and token ids in, texts and log-probabilities out.

Safety rules (DESIGN §12): only safetensors weights are loaded (pickled ``.bin`` checkpoints can
run arbitrary code when unpickled), ``trust_remote_code`` is off unless asked for, and no token
or secret is ever printed.

torch, transformers and peft are imported inside the functions that need them, so that
importing this module (for the prompt-rendering helpers, which the HTTP backend shares) costs
nothing.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from r2rec_bench.errors import UserError
from r2rec_bench.harness.types import Generation

if TYPE_CHECKING:
    import torch

T = TypeVar("T")
R = TypeVar("R")

# What the model "has already written" before a candidate title in rank mode: an empty
# reasoning block and an open answer tag (the response format of DESIGN §6), so that the
# title is scored where the model would write its answer.
ANSWER_PREFIX = "<think>\n</think>\n<answer>"
# Scored after every title: it makes a title's score the probability that the answer is
# exactly that title, not merely starts with it ("Alien" versus "Aliens").
ANSWER_SUFFIX = "</answer>"

CPU_BATCH_SIZE = 8  # `--batch-size auto` off CUDA: CPU memory errors cannot be caught
AUTO_BATCH_CAP = 256  # doubling stops here: larger batches gain no throughput in practice

_WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "*.jinja"]
_PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt", ".pkl"}
_DTYPES = {
    "float32": "float32", "fp32": "float32", "float": "float32",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
    "float16": "float16", "fp16": "float16", "half": "float16",
}  # fmt: skip


def one_line(exc: BaseException) -> str:
    """The most informative line of a library exception, for a one-line UserError."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    for line in lines:
        if "mismatch" in line:  # torch's load_state_dict puts the useful part on line 2+
            return line[:300].rstrip(".")
    return lines[0][:300].rstrip(".")


# -- prompts ----------------------------------------------------------------------------------


def plain_chat_text(messages: Sequence[dict], *, add_generation_prompt: bool = True) -> str:
    """Chat messages as plain text, for models without a chat template and for text-only
    endpoints: ``System: ...`` / ``User: ...`` blocks, then ``Assistant:`` to answer."""
    parts = [f"{str(m['role']).capitalize()}: {m['content']}" for m in messages]
    if add_generation_prompt:
        parts.append("Assistant:\n")
    return "\n\n".join(parts)


def render_chat(tokenizer, messages: Sequence[dict]) -> str:
    """The text a chat model reads before answering: its own chat template with the
    generation prompt, or :func:`plain_chat_text` when the tokenizer has no template."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, tokenize=False
        )
    return plain_chat_text(messages)


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of ``text`` with no special tokens added: a chat template already writes the
    ones the model expects (a second BOS would change every score)."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


# -- loading ----------------------------------------------------------------------------------


def hub_revision(path: Path) -> str | None:
    """The commit hash of a Hub cache snapshot directory (``.../snapshots/<sha>``), else None."""
    if path.parent.name == "snapshots" and re.fullmatch(r"[0-9a-f]{40}", path.name):
        return path.name
    return None


def _local_or_hub(spec: str, what: str, patterns: list[str]) -> Path:
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError(f"{spec}: {what} must be a directory, not a file")
        return path
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise UserError(f"{spec}: no such {what} directory")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(spec, allow_patterns=patterns))
    except Exception as exc:  # the Hub client raises many types (offline, 404, gated, bad id)
        raise UserError(
            f"{spec}: not a local {what} directory and not fetchable from the Hub "
            f"({type(exc).__name__}: {one_line(exc)}); pass a directory or a valid Hub id"
        ) from None


def resolve_model_dir(spec: str, *, trust_remote_code: bool = False) -> tuple[Path, str | None]:
    """The local directory of a model given as a path or a Hub id (fetched into the Hub cache
    without any pickled weights), and its Hub commit hash when it has one.

    Raises UserError for a missing model, a directory without ``config.json``, and a
    directory whose only weights are pickles.
    """
    patterns = [*_WEIGHT_PATTERNS, "*.py"] if trust_remote_code else _WEIGHT_PATTERNS
    path = _local_or_hub(spec, "model", patterns)
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
    return path, hub_revision(path)


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
        raise UserError(f"--device {device}: not a torch device (cpu, cuda, cuda:1, ...)") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device}: CUDA is not available on this machine")
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
        raise UserError(f"--dtype {dtype}: unknown; use auto, float32, bfloat16 or float16")
    return getattr(torch, _DTYPES[dtype])


def load_causal_lm(
    model: str,
    *,
    adapter: str | None = None,
    dtype: str = "auto",
    device: str = "auto",
    trust_remote_code: bool = False,
):
    """A causal LM and its tokenizer, in eval mode, ready for batched generation.

    ``model`` and ``adapter`` are local directories or Hub ids. A LoRA-style adapter is checked
    against the base (every saved weight must find its module with the same shape) and merged
    into the weights for speed. The tokenizer pads on the left (batched generation needs the
    prompts to end together) and falls back to the end-of-sequence token as its pad token.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir, _ = resolve_model_dir(model, trust_remote_code=trust_remote_code)
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
            device_map=str(torch_device),
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
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


# -- batching ---------------------------------------------------------------------------------


class BatchSizer:
    """How many items go through the model at once; ``"auto"`` finds the largest that fits.

    A fixed size is used as given. ``auto`` on CUDA starts at 1 and doubles after every full
    batch that fits, up to ``cap``; on an out-of-memory error it frees the cache, halves, stops
    growing and retries the same items, so no work is lost. The size found is kept on the
    object and reused by later calls (a backend keeps one sizer per mode). Off CUDA, ``auto``
    is a fixed ``CPU_BATCH_SIZE``: running out of host memory kills the process instead of
    raising, so it cannot be probed.
    """

    def __init__(self, batch_size: int | str, device, *, cap: int = AUTO_BATCH_CAP) -> None:
        self.requested = batch_size
        self.cap = cap
        self.auto = batch_size == "auto"
        if self.auto:
            on_cuda = getattr(device, "type", str(device)) == "cuda"
            self.size = 1 if on_cuda else min(CPU_BATCH_SIZE, cap)
            self.growing = on_cuda
        else:
            try:
                self.size = int(batch_size)
            except (TypeError, ValueError):
                self.size = 0
            if self.size < 1:
                raise UserError(f"--batch-size {batch_size}: use a positive integer or auto")
            self.growing = False

    def run(self, items: Sequence[T], fn: Callable[[Sequence[T]], list[R]]) -> list[R]:
        """``fn`` over consecutive batches of ``items``; results concatenated in order."""
        import torch

        results: list[R] = []
        start = 0
        while start < len(items):
            batch = items[start : start + self.size]
            try:
                results.extend(fn(batch))
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                if not self.auto:
                    raise UserError(
                        f"out of GPU memory at --batch-size {self.size}; "
                        f"lower it or use --batch-size auto"
                    ) from None
                if len(batch) == 1:
                    raise UserError("out of GPU memory with a batch of one item") from None
                self.size = max(1, len(batch) // 2)
                self.growing = False
                continue
            start += len(batch)
            if self.growing and len(batch) == self.size:
                self.size = min(self.cap, self.size * 2)
                self.growing = self.size < self.cap
        return results


def as_sizer(batch_size: int | str | BatchSizer, device) -> BatchSizer:
    return batch_size if isinstance(batch_size, BatchSizer) else BatchSizer(batch_size, device)


# -- generation -------------------------------------------------------------------------------


def _eos_ids(model, tokenizer) -> set[int]:
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def generate_chat(
    model,
    tokenizer,
    messages_batch: Sequence[Sequence[dict]],
    *,
    max_new_tokens: int,
    batch_size: int | str | BatchSizer = "auto",
    prefixes: Sequence[str] | None = None,
) -> list[Generation]:
    """Greedy answers to chat prompts, with the prompt and completion token counts.

    ``prefixes`` (one per prompt, may be empty) begin the assistant's turn: the model
    continues them, and the answer is the continuation alone.

    Decoding is plain greedy search for every model: the sampling settings and penalties of
    a model's own ``generation_config`` are not applied, so that models are compared under
    the same decoding; only its end-of-sequence ids are kept.

    Prompts are rendered with :func:`render_chat` and run longest first (batches then hold
    prompts of similar length, so less padding; and an out-of-memory error shows up on the
    first batch); answers come back in input order. A completion's tokens run up to and
    including its first end-of-sequence token; its text excludes special tokens.
    """
    from transformers import GenerationConfig

    sizer = as_sizer(batch_size, model.device)
    prefixes = prefixes or [""] * len(messages_batch)
    prompts = [
        encode(tokenizer, render_chat(tokenizer, m) + prefix)
        for m, prefix in zip(messages_batch, prefixes, strict=True)
    ]
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    eos = _eos_ids(model, tokenizer)
    config = GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=sorted(eos) or None,
    )

    def run(indices: Sequence[int]) -> list[Generation]:
        import torch

        batch = tokenizer.pad(
            {"input_ids": [prompts[i] for i in indices]},
            padding=True,
            padding_side="left",
            return_tensors="pt",
        ).to(model.device)
        with torch.inference_mode():
            out = model.generate(**batch, generation_config=config)
        new = out[:, batch["input_ids"].shape[1] :].tolist()
        answers = []
        for i, tokens in zip(indices, new, strict=True):
            end = next((k + 1 for k, t in enumerate(tokens) if t in eos), len(tokens))
            text = tokenizer.decode(tokens[:end], skip_special_tokens=True)
            answers.append(Generation(text, len(prompts[i]), end))
        return answers

    by_input = dict(zip(order, sizer.run(order, run), strict=True))
    return [by_input[i] for i in range(len(prompts))]


# -- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContinuationScore:
    """Log-likelihood of a continuation given its prompt: ``logprob`` is the sum over its
    ``tokens`` tokens; ``mean`` is the length-normalised (per-token) value."""

    logprob: float
    tokens: int

    @property
    def mean(self) -> float:
        return self.logprob / self.tokens if self.tokens else 0.0


def score_continuations(
    model,
    prompts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[Sequence[int]]],
    *,
    batch_size: int | str | BatchSizer = "auto",
) -> list[list[ContinuationScore]]:
    """Log-likelihood of every continuation after its prompt, reusing the prompt's KV cache.

    ``prompts[u]`` are token ids; ``continuations[u]`` the token ids of each continuation of
    prompt ``u`` (non-empty). Each prompt is run once with ``use_cache=True``; its key/value
    cache is then copied along the batch dimension, one copy per continuation, and all the
    continuations of the batch are scored in a single forward pass against it, right-padded,
    with an attention mask over cache and new tokens and explicit positions. The result equals
    running ``prompt + continuation`` through the model for each continuation (the naive way),
    at the cost of one prompt pass instead of one per continuation. ``batch_size`` counts
    prompts per pass (each brings all its continuations).

    Ids are taken as given: callers that tokenize prompt and continuation separately get the
    log-likelihood of exactly those ids, which may differ from tokenizing the joined text
    where a tokenizer would merge characters across the boundary.
    """
    if len(prompts) != len(continuations):
        raise ValueError("one list of continuations per prompt")
    for user, options in enumerate(continuations):
        if not prompts[user] or any(not ids for ids in options):
            raise ValueError(f"prompt {user}: empty prompt or continuation")
    sizer = as_sizer(batch_size, model.device)
    users = list(range(len(prompts)))
    return sizer.run(users, lambda batch: _score_batch(model, prompts, continuations, batch))


def _score_batch(
    model, prompts, continuations, users: Sequence[int]
) -> list[list[ContinuationScore]]:
    import torch

    device = model.device
    width = max(len(prompts[u]) for u in users)
    ids = torch.zeros(len(users), width, dtype=torch.long)
    mask = torch.zeros(len(users), width, dtype=torch.long)
    for row, u in enumerate(users):  # left padding: every prompt ends at the last column
        ids[row, width - len(prompts[u]) :] = torch.tensor(prompts[u])
        mask[row, width - len(prompts[u]) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # as if each prompt were alone, unpadded

    rows = [(row, ids_) for row, u in enumerate(users) for ids_ in continuations[u]]
    owner = torch.tensor([row for row, _ in rows], device=device)
    length = max(len(c) for _, c in rows)
    cont = torch.zeros(len(rows), length, dtype=torch.long)
    cont_mask = torch.zeros(len(rows), length, dtype=torch.long)
    for r, (_, c) in enumerate(rows):  # right padding: scores are read from the left
        cont[r, : len(c)] = torch.tensor(c)
        cont_mask[r, : len(c)] = 1
    cont, cont_mask = cont.to(device), cont_mask.to(device)

    with torch.inference_mode():
        out = model(
            input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
            logits_to_keep=1,  # only the last prompt position predicts a continuation token
        )  # fmt: skip
        cache = out.past_key_values
        if not hasattr(cache, "batch_select_indices"):
            raise UserError(
                f"{type(model).__name__}: its cache ({type(cache).__name__}) cannot be "
                f"shared between continuations; rank mode needs a transformers DynamicCache"
            )
        first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)[owner]
        cache.batch_select_indices(owner)  # copy each prompt's keys/values to its rows
        out = model(
            input_ids=cont,
            attention_mask=torch.cat([mask[owner], cont_mask], dim=1),
            position_ids=positions[owner, -1:] + 1 + torch.arange(length, device=device),
            past_key_values=cache,
            use_cache=True,
        )
        token_logprobs = torch.empty(cont.shape, dtype=torch.float32, device=device)
        token_logprobs[:, 0] = first.gather(1, cont[:, :1]).squeeze(1)
        token_logprobs[:, 1:] = _gather_logprobs(out.logits[:, :-1], cont[:, 1:])
        sums = (token_logprobs * cont_mask).sum(dim=1).tolist()
    counts = cont_mask.sum(dim=1).tolist()
    scores: list[list[ContinuationScore]] = [[] for _ in users]
    for (row, _), total, n in zip(rows, sums, counts, strict=True):
        scores[row].append(ContinuationScore(float(total), int(n)))
    return scores


def _gather_logprobs(logits, targets, rows_per_chunk: int = 16):
    """log softmax(logits)[target] per position, in float32, a few rows at a time: a full
    float32 copy of (rows x positions x vocabulary) logits can exceed the model's own size.
    (``log_softmax`` is one fused kernel; ``logsumexp`` takes several passes and is slower.)"""
    import torch

    out = torch.empty(targets.shape, dtype=torch.float32, device=logits.device)
    for start in range(0, logits.shape[0], rows_per_chunk):
        chunk = torch.log_softmax(logits[start : start + rows_per_chunk].float(), dim=-1)
        index = targets[start : start + rows_per_chunk, :, None]
        out[start : start + rows_per_chunk] = chunk.gather(-1, index).squeeze(-1)
    return out
