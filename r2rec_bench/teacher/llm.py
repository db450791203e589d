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

from r2rec_bench.llm.generation import generate_chat
from r2rec_bench.llm.loading import load_causal_lm, resolve_model_dir
from r2rec_bench.llm.openai_client import OpenAICompatibleClient
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
                    thoughts[k].append(
                        judge(reply.text, plans[k].steps[j], titles, plans[k].forbidden)
                    )
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


def _weights_digest(folder: Path) -> str:
    """sha256 over the folder's safetensors files: a retrained checkpoint at the same path
    must not reuse the old one's cached answers."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")):
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


class HFTransport:
    """A local transformers causal LM, loaded and run by the harness's own code (llm.loading,
    llm.generation): greedy, batched, longest prompts first, on the GPU when there is one."""

    kind = "hf"

    def __init__(
        self, model: str, *, batch_size: int, max_new_tokens: int, dtype: str = "auto"
    ) -> None:
        folder, _ = resolve_model_dir(model)
        self.model, self.tokenizer = load_causal_lm(str(folder), dtype=dtype)
        self.batch_size = max(1, batch_size)
        self.identity = {
            "model": model,
            "weights": _weights_digest(folder),
            "dtype": str(self.model.dtype),
        }
        self.params = {"max_new_tokens": max_new_tokens, "do_sample": False}

    def close(self) -> None:
        """Nothing to release: the model lives as long as the teacher object."""

    def generate(self, requests: list[list[dict]], on_reply: OnReply) -> None:

        # Batches of prompts of similar length (generate_chat sorts them), each reply handed
        # on as its batch ends, so that the cache keeps what a killed build already paid for.
        order = sorted(range(len(requests)), key=lambda i: -len(str(requests[i])))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            replies = generate_chat(
                self.model,
                self.tokenizer,
                [requests[i] for i in batch],
                max_new_tokens=self.params["max_new_tokens"],
                batch_size=len(batch),
            )
            for index, reply in zip(batch, replies, strict=True):
                on_reply(index, Reply(reply.text, reply.prompt_tokens, reply.completion_tokens))
