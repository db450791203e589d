"""Tiny language models built in-process for tests: nothing comes from a model hub.

A byte-level BPE tokenizer is trained on the fly on catalog-like text (the benchmark's own
system prompt plus synthetic movie titles) and given a ChatML chat template; a randomly
initialised Llama with that vocabulary is saved beside it as safetensors. LoRA adapters are
built for it, and for a different base (other vocabulary and hidden size), with PEFT.

The weights are initialised with a wide spread (``initializer_range``) so that the model's
next-token distributions are far from uniform and depend on the context: with the usual
0.02 every candidate would score about ``-n_tokens * log(vocab)`` and a scoring bug (wrong
positions, a leaking mask) would hide inside a 1e-4 tolerance.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from r2rec_bench.task.prompt import SYSTEM_PROMPT, PromptStyle, chat_prompt
from r2rec_bench.task.records import EvalRequest

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_WORD_TEXT = (
    "Star Toy Story Heat Fargo Alien Aliens Casino Babe Clueless Twister Contact Scream "
    "Titanic Braveheart Apollo Jumanji Sabrina Nixon Othello Persuasion Copycat Money Train "
    "Godfather Vertigo Psycho Rebecca Notorious Dead Man Walking Return Jedi Empire Strikes "
    "Back Wars Lost Ark Raiders Crow City Angels Night Day Last Summer Ghost Shadow Secret"
)


def catalog_titles(count: int, seed: int = 0) -> list[str]:
    """Deterministic movie-like titles ("Alien Heat (1987)"), unique, of varied lengths."""
    import random

    words = _WORD_TEXT.split()
    rng = random.Random(seed)
    titles: list[str] = []
    seen: set[str] = set()
    while len(titles) < count:
        name = " ".join(rng.choice(words) for _ in range(rng.randint(1, 5)))
        title = f"{name} ({rng.randint(1930, 1999)})"
        if title not in seen:
            seen.add(title)
            titles.append(title)
    return titles


def sample_prompts(count: int, *, history: int = 5, candidates: int = 20, seed: int = 0):
    """``count`` (chat prompt, history titles, candidate titles) triples as the dataset has."""
    import random

    rng = random.Random(seed)
    pool = catalog_titles(200, seed=seed)
    out = []
    for _ in range(count):
        picked = rng.sample(pool, history + candidates)
        hist, cands = picked[:history], picked[history:]
        out.append((chat_prompt(PromptStyle(), hist, cands), hist, cands))
    return out


def make_requests(count: int, *, seed: int = 0, candidates: int = 20) -> list[EvalRequest]:
    """Harness requests shaped like the dataset's: a chat prompt, history, candidates."""
    return [
        EvalRequest(
            user_id=f"u{n}",
            prompt=prompt,
            history=[f"h{k}" for k in range(len(history))],
            history_titles=history,
            candidates=[f"c{k}" for k in range(len(titles))],
            candidate_titles=titles,
        )
        for n, (prompt, history, titles) in enumerate(
            sample_prompts(count, seed=seed, candidates=candidates)
        )
    ]


def _corpus() -> list[str]:
    lines = [SYSTEM_PROMPT, "<think>\n</think>\n<answer>", "</answer>"]
    for messages, _, _ in sample_prompts(40, seed=1):
        lines.extend(m["content"] for m in messages)
    lines.extend(catalog_titles(300, seed=2))
    return lines


def train_tokenizer(corpus: list[str], *, vocab_size: int = 1000):
    """A byte-level BPE tokenizer trained on ``corpus``, as a transformers tokenizer.

    It has no pad token on purpose: loaders must fall back to the end-of-sequence token.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(corpus, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, eos_token="<|im_end|>", bos_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def make_llama(
    vocab_size: int,
    *,
    hidden: int = 48,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    seed: int = 0,
    init_range: float = 0.5,
    eos_token_id: int | None = None,
):
    """A randomly initialised Llama (seeded), in float32, in eval mode."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=4096,
        initializer_range=init_range,
        tie_word_embeddings=False,
        eos_token_id=eos_token_id,
        bos_token_id=None,
        pad_token_id=None,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval()


def save_tiny_lm(
    path: Path,
    *,
    hidden: int = 48,
    layers: int = 2,
    seed: int = 0,
    corpus: list[str] | None = None,
) -> Path:
    """A tokenizer (trained on ``corpus``, default catalog-like text) and a random tiny Llama
    saved to ``path`` (safetensors weights)."""
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(corpus if corpus is not None else _corpus())
    tokenizer.save_pretrained(path)
    model = make_llama(
        len(tokenizer), hidden=hidden, layers=layers, seed=seed,
        eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    model.save_pretrained(path)
    if not (path / "model.safetensors").is_file():
        raise RuntimeError(f"{path}: save_pretrained wrote no safetensors weights")
    return path


def save_bin_only_lm(path: Path, like: Path) -> Path:
    """A model directory with a pickled ``pytorch_model.bin`` and no safetensors weights."""
    import shutil

    import torch
    from safetensors.torch import load_file

    path.mkdir(parents=True, exist_ok=True)
    for name in like.iterdir():
        if name.suffix != ".safetensors":
            shutil.copy(name, path / name.name)
    torch.save(load_file(like / "model.safetensors"), path / "pytorch_model.bin")
    return path


def _save_peft(get_peft_model, model, config, path: Path) -> None:
    # PEFT calls a transformers method that transformers has deprecated; not ours to fix.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        get_peft_model(model, config).save_pretrained(path)


def save_lora(path: Path, base_dir: Path, *, seed: int = 1) -> Path:
    """A LoRA adapter for the model saved in ``base_dir``, with non-zero weights (PEFT's
    default initialisation makes a fresh LoRA a no-op, which could not show an effect)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir)
    torch.manual_seed(seed)
    config = LoraConfig(
        r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    _save_peft(get_peft_model, base, config, path)
    return path


def save_foreign_lora(
    path: Path, *, vocab_size: int = 300, hidden: int = 64, layers: int = 2
) -> Path:
    """A LoRA adapter made for another base model (by default, of another vocabulary and
    hidden size; with the tiny model's sizes and more layers, one whose every shape fits)."""
    from peft import LoraConfig, get_peft_model

    other = make_llama(vocab_size, hidden=hidden, layers=layers, seed=3)
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    _save_peft(get_peft_model, other, config, path)
    # A real adapter records the Hub id of its base; an in-memory base has none to record.
    config_file = path / "adapter_config.json"
    recorded = json.loads(config_file.read_text())
    recorded["base_model_name_or_path"] = "someone/other-base-model"
    config_file.write_text(json.dumps(recorded, indent=2))
    return path


def naive_logprob(model, prompt: list[int], continuation: list[int]) -> float:
    """Reference log-likelihood of ``continuation`` after ``prompt``: one full forward pass of
    the concatenated ids, no cache, no padding, no batching."""
    import torch

    ids = torch.tensor([prompt + continuation], device=model.device)
    with torch.inference_mode():
        logprobs = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
    positions = torch.arange(len(prompt) - 1, len(prompt) + len(continuation) - 1)
    return float(logprobs[positions, torch.tensor(continuation)].sum())
