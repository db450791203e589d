"""Chat prompts as model input: a model's own chat template, or plain text without one."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from r2rec_bench.errors import UserError

CHAT_TEMPLATE_CHOICES = ("auto", "plain")


def plain_chat_text(messages: Sequence[dict], *, add_generation_prompt: bool = True) -> str:
    """Chat messages as plain text, for models without a chat template and for text-only
    endpoints: ``System: ...`` / ``User: ...`` blocks, then ``Assistant:`` to answer."""
    parts = [f"{str(m['role']).capitalize()}: {m['content']}" for m in messages]
    if add_generation_prompt:
        parts.append("Assistant:\n")
    return "\n\n".join(parts)


def render_chat(tokenizer, messages: Sequence[dict]) -> str:
    """The text a chat model reads before answering: its own chat template with the
    generation prompt, or :func:`plain_chat_text` when the tokenizer has no template. A
    template that refuses a system turn (some do) gets it folded into the first user turn."""
    if not getattr(tokenizer, "chat_template", None):
        return plain_chat_text(messages)
    from jinja2.exceptions import TemplateError

    try:
        return tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, tokenize=False
        )
    except TemplateError:
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        rest = [dict(m) for m in messages if m["role"] != "system"]
        if not system or not rest:
            raise
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
        return tokenizer.apply_chat_template(rest, add_generation_prompt=True, tokenize=False)


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of ``text`` with no special tokens added: a chat template already writes the
    ones the model expects (a second BOS would change every score)."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def choose_chat_template(tokenizer, choice: str | None) -> dict:
    """Set the template a tokenizer renders prompts with and describe it for results.json.

    ``auto`` (or None): the tokenizer's own, plain text when it has none; ``plain``: plain
    text even when it has one; anything else: a Jinja chat-template file, for a tokenizer
    without a template or to override it. The record names where the template came from
    and its sha256 (None for plain text), so two runs can tell whether they read the same
    prompts."""
    choice = choice or "auto"
    if choice == "plain":
        tokenizer.chat_template = None
        source = "plain"
    elif choice == "auto":
        source = "model" if getattr(tokenizer, "chat_template", None) else "plain"
    else:
        path = Path(choice).expanduser()
        if not path.is_file():
            raise UserError(
                f"--chat-template {choice}: no such file; use auto, plain or a Jinja template file"
            )
        try:
            tokenizer.chat_template = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"--chat-template {choice}: not a UTF-8 text file") from None
        source = f"file:{path.name}"
    template = tokenizer.chat_template if source != "plain" else None
    return {
        "source": source,
        "sha256": hashlib.sha256(template.encode()).hexdigest() if template else None,
    }
