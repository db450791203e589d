"""Stage 1: supervised fine-tuning on the `sft` config (TRL ``SFTTrainer``).

Each `sft` row's ``messages`` (system, user prompt, assistant reasoning and answer) is one
example; the loss covers the assistant turn only (``assistant_only_loss``: TRL masks every
token outside the template's ``{% generation %}`` block, and swaps in a training template for
the chat templates it knows, Qwen2.5's among them; SmolLM2's gets ours, below). With a
``lora:`` block only a LoRA adapter is trained (PEFT); it is merged into the weights when the
stage ends.
"""

from __future__ import annotations

from r2rec_bench.errors import UserError, one_line
from r2rec_bench.trainer.data import catalog_titles, load_training_data
from r2rec_bench.trainer.recipe import Recipe
from r2rec_bench.trainer.scratch import build_scratch_model, corpus, describe_scratch
from r2rec_bench.trainer.stage import BuiltStage, load_model, lora_config, trainer_config

BASE_DIR = "base"  # under the output directory: a scratch model's tokenizer and initial weights

# SmolLM2-Instruct's ChatML template (a default system turn when the chat has none), which TRL
# has no training version of, and that version: the same text, with the assistant's content
# and end-of-turn token inside {% generation %} so the model learns to answer and to stop.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SMOLLM2_TRAINING_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{{ '\n' }}{% else %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TRAINING_CHAT_TEMPLATES = {SMOLLM2_CHAT_TEMPLATE: SMOLLM2_TRAINING_CHAT_TEMPLATE}


def _starting_model(recipe: Recipe, data, quiet: bool):
    """(model, tokenizer, description): the recipe's base, or a model built from scratch."""

    spec = recipe.model.scratch
    if spec is None:
        model, tokenizer, revision = load_model(recipe.model.base, recipe)
        return model, tokenizer, {"kind": "pretrained", "id": recipe.model.base,
                                  "revision": revision}  # fmt: skip
    base = recipe.output_dir / BASE_DIR
    # Built once: a resumed run must find the very tokenizer its checkpoints were trained with.
    if not (base / "config.json").is_file():
        if not quiet:
            print(f"training a {spec.vocab_size:,}-token BPE tokenizer and building the model")
        rows = data.rows if spec.tokenizer_rows is None else data.rows.select(
            range(min(spec.tokenizer_rows, len(data.rows)))
        )  # fmt: skip
        build_scratch_model(spec, corpus(rows, catalog_titles(data.dataset)), base)
    model, tokenizer, _ = load_model(str(base), recipe)
    parameters = sum(p.numel() for p in model.parameters())
    return model, tokenizer, describe_scratch(spec, len(tokenizer), parameters)


def build(recipe: Recipe, quiet: bool) -> BuiltStage:
    from trl import SFTConfig, SFTTrainer

    config = trainer_config(SFTConfig, recipe, quiet=quiet, forced={"assistant_only_loss": True})
    data = load_training_data(recipe.dataset, str(recipe.path))
    if "messages" not in data.rows.column_names:
        raise UserError(
            f"{data.dataset.root}: the `sft` rows have no `messages` column; rebuild it"
        )
    model, tokenizer, started_from = _starting_model(recipe, data, quiet)
    own_template = tokenizer.chat_template
    # TRL renders and masks the rows while it is built; the model is saved with its own
    # template, so its evaluations name the same template as the base model's.
    tokenizer.chat_template = TRAINING_CHAT_TEMPLATES.get(own_template, own_template)
    try:
        trainer = SFTTrainer(
            model=model,
            args=config,
            train_dataset=data.rows.select_columns(["messages"]),
            processing_class=tokenizer,
            peft_config=lora_config(recipe),
        )
    except ValueError as exc:  # e.g. a chat template TRL cannot mask, no assistant tokens left
        raise UserError(f"{recipe.path}: SFT cannot start: {one_line(exc)}") from None
    finally:
        tokenizer.chat_template = own_template
    return BuiltStage(trainer, started_from, data.describe(recipe.dataset))
