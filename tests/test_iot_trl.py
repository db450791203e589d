"""The `sft` and `rl` configs are accepted by TRL's trainers as they are (issue 3).

A tiny Llama and a tokenizer trained on the corpus in-process run two SFTTrainer steps on
`sft` (loss on the assistant turn only) and two GRPOTrainer steps on `rl`.
"""

from __future__ import annotations

import pytest

from r2rec_bench.task.parser import parse_answer
from tests.conftest import load_config
from tests.support.tiny_lm import SPECIAL_TOKENS, make_llama, train_tokenizer

# ChatML with TRL's generation markers, so that SFT can mask everything but the assistant.
TRAINING_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}<|im_start|>assistant\n"
    "{% generation %}{{ message['content'] }}<|im_end|>{% endgeneration %}\n"
    "{% else %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def corpus(ml100k_build):
    sft = load_config(ml100k_build, "sft", "train").select(range(8))
    rl = load_config(ml100k_build, "rl", "train").select(range(4))
    texts = [m["content"] for row in sft for m in row["messages"]]
    tokenizer = train_tokenizer(texts, vocab_size=800)
    tokenizer.chat_template = TRAINING_TEMPLATE
    tokenizer.pad_token = "<|endoftext|>"
    assert all(token in tokenizer.get_vocab() for token in SPECIAL_TOKENS)
    return sft, rl, tokenizer


def _model(tokenizer):
    return make_llama(len(tokenizer), eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"))


def test_sft_trainer_accepts_the_sft_config(corpus, tmp_path):
    from trl import SFTConfig, SFTTrainer

    sft, _, tokenizer = corpus
    args = SFTConfig(
        output_dir=str(tmp_path / "sft"), max_steps=2, per_device_train_batch_size=2,
        assistant_only_loss=True, max_length=2048, logging_steps=1, report_to=[],
        save_strategy="no", use_cpu=True, learning_rate=1e-3,
    )  # fmt: skip
    trainer = SFTTrainer(
        model=_model(tokenizer), args=args, train_dataset=sft, processing_class=tokenizer
    )
    batch = trainer.data_collator([trainer.train_dataset[0]])
    labelled = batch["labels"][0] != -100
    # Only the assistant turn is learned: the labelled tokens decode to the answer format.
    text = tokenizer.decode(batch["input_ids"][0][labelled])
    assert text.startswith("<think>") and "</answer>" in text
    assert 0 < labelled.sum() < len(labelled)
    result = trainer.train()
    assert result.global_step == 2


def test_grpo_trainer_accepts_the_rl_config(corpus, tmp_path):
    from trl import GRPOConfig, GRPOTrainer

    _, rl, tokenizer = corpus
    seen = []

    def answer_hit(completions, candidate_titles, target_index, **_):
        """1 when the parsed answer is the target, through the harness's own parser."""
        rewards = []
        for completion, titles, target in zip(
            completions, candidate_titles, target_index, strict=True
        ):
            text = completion[-1]["content"] if isinstance(completion, list) else completion
            parsed = parse_answer(text, titles)
            rewards.append(float(parsed.valid and parsed.ranking[0] == target))
        seen.extend(rewards)
        return rewards

    args = GRPOConfig(
        output_dir=str(tmp_path / "grpo"), max_steps=2, per_device_train_batch_size=2,
        num_generations=2, max_completion_length=8, logging_steps=1, report_to=[],
        save_strategy="no", use_cpu=True, learning_rate=1e-4,
    )  # fmt: skip
    trainer = GRPOTrainer(
        model=_model(tokenizer), reward_funcs=[answer_hit], args=args, train_dataset=rl,
        processing_class=tokenizer,
    )  # fmt: skip
    result = trainer.train()
    assert result.global_step == 2
    assert seen and all(r in (0.0, 1.0) for r in seen)
