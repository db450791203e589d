"""Language-model teachers: one ``LLMTeacher`` with two transports, ``openai`` and ``hf``.

The teacher walks every example's steps in rounds: round j sends step j of every example that
has one (concurrently over examples), because prompt j contains the thoughts kept for steps
before it, so one example's steps are sequential. Each answer is looked up in, or written to,
the response cache (``cache.py``) the moment it arrives; a rerun after a crash or a kill only
asks what was never answered, and — answers and their recorded token counts being the same —
ends with the same traces and token totals as an uninterrupted build.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Protocol

from r2rec_bench.errors import UserError
from r2rec_bench.teacher.cache import Reply, ResponseCache
from r2rec_bench.teacher.plan import ExamplePlan, Planner
from r2rec_bench.teacher.prompting import judge, step_messages
from r2rec_bench.teacher.types import Thought, Trace

OnReply = Callable[[int, Reply], None]


class Transport(Protocol):
    kind: str  # "openai" or "hf": the first part of the cache key
    identity: dict  # what names the model in the cache key
    params: dict  # generation parameters, also in the key

    def generate(self, requests: list[list[dict]], on_reply: OnReply) -> None:
        """Answer every request, calling ``on_reply(index, reply)`` as each answer arrives."""

    def close(self) -> None: ...


class LLMTeacher:
    def __init__(self, name: str, transport: Transport, cache_dir: Path) -> None:
        self.name = name
        self.transport = transport
        self.cache = ResponseCache(cache_dir)

    def close(self) -> None:
        self.transport.close()

    def _request(self, messages: list[dict]) -> dict:
        return {
            "teacher": self.transport.kind,
            "identity": self.transport.identity,
            "messages": messages,
            "params": self.transport.params,
        }

    def _answer(self, batch: list[list[dict]], advance: Callable[[int], None]) -> list[Reply]:
        """Replies to ``batch``: from the cache, else asked once per distinct request."""
        requests = [self._request(messages) for messages in batch]
        keys = [self.cache.key(request) for request in requests]
        replies: dict[str, Reply] = {}
        missing: dict[str, dict] = {}
        for key, request in zip(keys, requests, strict=True):
            if key in replies or key in missing:
                continue
            cached = self.cache.get(key)
            if cached is None:
                missing[key] = request
            else:
                replies[key] = cached
        advance(len(keys) - len(missing))
        order = list(missing)
        lock = threading.Lock()

        def arrived(index: int, reply: Reply) -> None:
            key = order[index]
            self.cache.put(key, missing[key], reply)
            with lock:
                replies[key] = reply
                advance(1)

        self.transport.generate([missing[key]["messages"] for key in order], arrived)
        return [replies[key] for key in keys]

    def run(self, planner: Planner, plans: list[ExamplePlan], progress: bool) -> list[Trace]:
        from tqdm.auto import tqdm

        titles = {title: code for code, title in enumerate(planner.text.titles)}
        thoughts: list[list[Thought]] = [[] for _ in plans]
        tokens = [[0, 0] for _ in plans]
        total = sum(len(plan.steps) for plan in plans)
        with tqdm(
            total=total, desc=f"teacher {self.name}", unit="step", disable=not progress
        ) as bar:
            for j in range(max((len(plan.steps) for plan in plans), default=0)):
                active = [k for k, plan in enumerate(plans) if j < len(plan.steps)]
                batch = [
                    step_messages(planner, plans[k], j, [t.text for t in thoughts[k]])
                    for k in active
                ]
                for k, reply in zip(active, self._answer(batch, bar.update), strict=True):
                    thoughts[k].append(judge(reply.text, plans[k].steps[j], titles))
                    tokens[k][0] += reply.prompt_tokens
                    tokens[k][1] += reply.completion_tokens
        return [
            Trace(
                example=plan.row,
                chains=plan.chains,
                thoughts=tuple(kept),
                attribute_only=plan.attribute_only,
                teacher=self.name,
                prompt_tokens=prompt,
                completion_tokens=completion,
            )
            for plan, kept, (prompt, completion) in zip(plans, thoughts, tokens, strict=True)
        ]


class OpenAITransport:
    """Any OpenAI-compatible server; retries and backoff come from the client."""

    kind = "openai"

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        concurrency: int,
        max_tokens: int,
        client_options: dict[str, Any],
    ) -> None:
        from r2rec_bench.llm.openai_client import OpenAICompatibleClient

        self.client = OpenAICompatibleClient(
            base_url, model, concurrency=concurrency, **client_options
        )
        self.concurrency = max(1, concurrency)
        self.identity = {"model": model}
        self.params = {"temperature": 0.0, "max_tokens": max_tokens}

    def close(self) -> None:
        self.client.close()

    def generate(self, requests: list[list[dict]], on_reply: OnReply) -> None:
        failed = threading.Event()

        def ask(index: int) -> None:
            if failed.is_set():  # a request already failed for good: start no new one
                return
            try:
                result = self.client.chat(requests[index], **self.params)
            except BaseException:
                failed.set()
                raise
            on_reply(index, Reply(result.text, result.prompt_tokens, result.completion_tokens))

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = [pool.submit(ask, index) for index in range(len(requests))]
            try:
                for future in as_completed(futures):
                    future.result()
            except BaseException:
                # Stop asking: queued requests are dropped, those in flight finish (and are
                # cached), and the first error (an EndpointError, Ctrl-C) reaches the user.
                pool.shutdown(wait=True, cancel_futures=True)
                raise


# What loading a causal LM and its tokenizer needs from a Hub repo (no pickled weights).
_HUB_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]


def _weights_digest(folder: Path) -> str:
    """sha256 over the folder's safetensors files: a retrained checkpoint at the same path
    must not reuse the old one's cached answers."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise UserError(
            f"{folder}: no *.safetensors weights; only safetensors checkpoints are loaded "
            f"(convert it with save_pretrained(safe_serialization=True))"
        )
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


class HFTransport:
    """A local transformers causal LM: greedy, batched, on the GPU when there is one."""

    kind = "hf"

    def __init__(self, model: str, *, batch_size: int, max_new_tokens: int) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = Path(model)
        if not folder.is_dir():
            folder = self._download(model)
        digest = _weights_digest(folder)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        use_bf16 = self.device == "cuda" and torch.cuda.is_bf16_supported()
        dtype = torch.bfloat16 if use_bf16 else torch.float32
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
            self.model = AutoModelForCausalLM.from_pretrained(
                folder, use_safetensors=True, trust_remote_code=False, dtype=dtype
            )
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"{model}: cannot load it as a causal LM ({first})") from None
        self.model.to(self.device).eval()
        self.tokenizer.padding_side = "left"  # decoder-only: generated text follows the prompt
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # A chat template writes its own special tokens; plain text needs the tokenizer's.
        self.add_special_tokens = not self.tokenizer.chat_template
        self.batch_size = max(1, batch_size)
        self.identity = {"model": model, "weights": digest, "dtype": str(dtype)}
        self.params = {"max_new_tokens": max_new_tokens, "do_sample": False}

    @staticmethod
    def _download(model: str) -> Path:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

        try:
            return Path(snapshot_download(model, allow_patterns=_HUB_FILES))
        except (HfHubHTTPError, LocalEntryNotFoundError, ValueError) as exc:
            raise UserError(
                f"{model}: neither a local folder nor a model on the Hub that can be fetched "
                f"({type(exc).__name__}); pass hf:<folder> or hf:<owner/name>"
            ) from None

    def close(self) -> None:
        """Nothing to release: the model lives as long as the teacher object."""

    def _text(self, messages: list[dict]) -> str:
        if self.tokenizer.chat_template:
            from jinja2.exceptions import TemplateError

            try:
                text = self.tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True
                )
            except TemplateError:  # templates without a system role: fold it into the user turn
                merged = [{"role": "user", "content": "\n\n".join(m["content"] for m in messages)}]
                text = self.tokenizer.apply_chat_template(
                    merged, tokenize=False, add_generation_prompt=True
                )
            return text
        plain = "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages)
        return plain + "\n\nAssistant:"

    def generate(self, requests: list[list[dict]], on_reply: OnReply) -> None:
        import torch

        texts = [self._text(messages) for messages in requests]
        # Similar lengths together: less padding per batch.
        order = sorted(range(len(requests)), key=lambda i: len(texts[i]))
        eos = self.tokenizer.eos_token_id
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            encoded = self.tokenizer(
                [texts[i] for i in batch],
                return_tensors="pt",
                padding=True,
                add_special_tokens=self.add_special_tokens,
            ).to(self.device)
            with torch.inference_mode():
                output = self.model.generate(
                    **encoded,
                    max_new_tokens=self.params["max_new_tokens"],
                    do_sample=False,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            width = encoded["input_ids"].shape[1]
            for row, index in enumerate(batch):
                generated = output[row, width:].tolist()
                if eos is not None and eos in generated:
                    generated = generated[: generated.index(eos) + 1]
                reply = Reply(
                    self.tokenizer.decode(generated, skip_special_tokens=True),
                    int(encoded["attention_mask"][row].sum()),
                    len(generated),
                )
                on_reply(index, reply)
