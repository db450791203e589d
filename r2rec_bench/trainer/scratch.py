"""The offline path: a tokenizer and a small model trained from scratch on the corpus itself.

No pretrained weights need to be reachable (DESIGN §10): a byte-level BPE tokenizer is learned
with the ``tokenizers`` library on the dataset's `sft` conversations and its catalog titles,
and given a ChatML chat template; a Llama- or Qwen2-style decoder of the recipe's size is
initialised at random (seeded). Both are saved like any Hub model (safetensors weights,
``config.json``, tokenizer files), so ``AutoModelForCausalLM``, the harness's ``hf`` backend
and TRL load them unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from r2rec_bench.atomic import atomic_directory
from r2rec_bench.errors import UserError
from r2rec_bench.trainer.recipe import ScratchModel

PAD, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = [PAD, IM_START, IM_END]

# ChatML. The assistant turn, with its end-of-turn token, sits inside {% generation %}, which
# is how TRL's SFTTrainer finds the tokens to learn (assistant_only_loss): the model learns to
# answer and to stop, never to write the prompt.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}<|im_start|>assistant\n"
    "{% generation %}{{ message['content'] }}<|im_end|>{% endgeneration %}\n"
    "{% else %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE tokenizer (any text encodes, unseen titles included) with ChatML."""
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
    raw.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, eos_token=IM_END, pad_token=PAD, bos_token=None
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def model_config(spec: ScratchModel, tokenizer):
    """The transformers config of the recipe's architecture and size."""
    from transformers import LlamaConfig, Qwen2Config

    config_class = {"llama": LlamaConfig, "qwen2": Qwen2Config}[spec.architecture]
    return config_class(
        vocab_size=spec.model_vocab_size or len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_kv_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=spec.tie_word_embeddings,
        rope_theta=spec.rope_theta,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def corpus(sft_rows, titles: list[str]) -> Iterable[str]:
    """Every message of the `sft` rows, then the catalog titles (so that items the rows never
    mention still get merges)."""
    for row in sft_rows:
        for message in row["messages"]:
            yield message["content"]
    yield from titles


def build_scratch_model(spec: ScratchModel, texts: Iterable[str], target: Path) -> dict:
    """Train the tokenizer, initialise the model, save both into ``target`` (all or nothing).

    Returns a description for the model card: architecture, sizes, parameters.
    """
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    tokenizer = train_tokenizer(texts, spec.vocab_size)
    if spec.model_vocab_size is not None and spec.model_vocab_size < len(tokenizer):
        raise UserError(
            f"field `model.scratch.model_vocab_size` ({spec.model_vocab_size}) is smaller than "
            f"the trained tokenizer ({len(tokenizer)} tokens); raise it or leave it out"
        )
    config = model_config(spec, tokenizer)
    torch.manual_seed(spec.seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    # Generation stops at the end of the assistant turn; no sampling defaults ride along.
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    with atomic_directory(target) as staging:
        tokenizer.save_pretrained(staging)
        model.save_pretrained(staging)
    return describe_scratch(spec, len(tokenizer), sum(p.numel() for p in model.parameters()))


def describe_scratch(spec: ScratchModel, tokenizer_size: int, parameters: int) -> dict:
    return {
        "kind": "scratch",
        "architecture": spec.architecture,
        "tokenizer": f"byte-level BPE, {tokenizer_size:,} tokens, trained on the corpus",
        "hidden_size": spec.hidden_size,
        "num_layers": spec.num_layers,
        "num_heads": spec.num_heads,
        "num_kv_heads": spec.num_kv_heads,
        "intermediate_size": spec.intermediate_size,
        "vocab_size": spec.model_vocab_size or tokenizer_size,
        "parameters": parameters,
        "seed": spec.seed,
    }
