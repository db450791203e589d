"""OpenAI-compatible servers (vLLM, SGLang, TGI, llama.cpp, hosted APIs) through the official
``openai`` SDK, plus what the benchmark adds: bounded concurrency with results in input
order, and failures turned into one-line errors that name the URL and the fix.

The SDK does the HTTP and the retries: 408, 409, 429, 5xx, time-outs and dropped
connections are retried ``max_retries`` times with exponential backoff (0.5 s doubling to
8 s, with jitter), or after the server's ``Retry-After`` when it sends one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from r2rec_bench.errors import UserError

# The bearer token sent when no key is set: servers started without a key (vLLM,
# llama.cpp, SGLang) ignore it, and the SDK refuses to start with none at all.
NO_KEY = "EMPTY"


class EndpointError(UserError):
    """The endpoint kept failing (or refused the request); the message says which and why."""


@dataclass(frozen=True)
class ChatResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


class OpenAICompatibleClient:
    """Chat and text completions with retries and bounded concurrency.

    ``base_url`` is the server's API root, e.g. ``http://127.0.0.1:8000/v1``. The API key
    comes from ``api_key`` or ``$OPENAI_API_KEY`` and is never logged or stored.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 6,
        concurrency: int = 8,
    ) -> None:
        # Imported here: a template-teacher build or `--help` does not load the SDK.
        try:
            import openai
        except ImportError:
            raise UserError(
                "OpenAI-compatible servers need the openai package; install it with "
                "`pip install 'r2rec-bench[openai]'`"
            ) from None

        self.base_url = base_url.rstrip("/")
        # What messages show: user, password and query of the URL never reach a terminal.
        self.where = redact_url(self.base_url)
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.concurrency = max(1, concurrency)
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._sdk = openai.OpenAI(
            base_url=self.base_url,
            api_key=key or NO_KEY,
            timeout=timeout,
            max_retries=max_retries,
        )

    def close(self) -> None:
        self._sdk.close()

    def chat(self, messages: list[dict], **params: Any) -> ChatResult:
        """``params`` go to ``chat.completions.create``; a server's own extensions (vLLM's
        ``continue_final_message``, ``top_k``) go in ``extra_body``."""
        path = "chat/completions"
        completion = self._call(
            path,
            lambda: self._sdk.chat.completions.create(
                model=self.model, messages=messages, **params
            ),
        )
        try:
            choice = completion.choices[0]
            usage = completion.usage
            return ChatResult(
                text=_text(choice.message.content),
                prompt_tokens=_count(getattr(usage, "prompt_tokens", None)),
                completion_tokens=_count(getattr(usage, "completion_tokens", None)),
                finish_reason=getattr(choice, "finish_reason", None),
            )
        except (IndexError, TypeError, AttributeError):
            raise EndpointError(
                f"{self.where}/{path}: the answer is not an OpenAI chat completion"
            ) from None

    def complete(self, prompt: str, **params: Any):
        """The SDK's ``Completion`` for a text prompt (used for prompt log-probabilities)."""
        return self._call(
            "completions",
            lambda: self._sdk.completions.create(model=self.model, prompt=prompt, **params),
        )

    def map(self, function: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """``function`` over ``items`` with at most ``concurrency`` requests in flight, results
        in input order; the first exception propagates once the calls in flight finish, and
        the queued ones are dropped (each would wait out its own retries first)."""
        items = list(items)
        if self.concurrency == 1 or len(items) <= 1:
            return [function(item) for item in items]
        # Executor.map cancels the queued calls when one raises.
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(function, items))

    def _call(self, path: str, request: Callable[[], Any]) -> Any:
        """``request()``, with whatever the SDK raises after its retries as an
        ``EndpointError`` that names the URL and what to check."""
        import openai

        shown = f"{self.where}/{path}"
        attempts = f"on all {self.max_retries + 1} attempts"
        reachable = "check that the server is up and reachable at --base-url"
        try:
            return request()
        except openai.APITimeoutError:
            problem = f"timed out after {self.timeout:g} s {attempts}"
            raise EndpointError(
                f"{shown}: {problem}; {reachable}, or set a longer timeout=SECONDS"
            ) from None
        except openai.APIConnectionError as exc:
            cause = type(exc.__cause__ or exc).__name__
            problem = f"connection failed ({cause}) {attempts}"
            raise EndpointError(f"{shown}: {problem}; {reachable}") from None
        except openai.APIStatusError as exc:
            raise EndpointError(f"{shown}: {_refusal(exc, self.max_retries)}") from None
        except openai.APIError as exc:  # a 2xx answer the SDK could not read
            raise EndpointError(f"{shown}: unreadable answer ({exc.message[:200]})") from None


def _refusal(exc, max_retries: int) -> str:
    """What an HTTP error status means for the user, with the server's own words."""
    status = exc.status_code
    detail = exc.response.text.strip().replace("\n", " ")[:200]
    if status in (401, 403):
        fix = "check the API key in $OPENAI_API_KEY"
    elif status == 429 or status >= 500:
        # Retried by the SDK (unless the server asked for a wait over its limit).
        fix = (
            f"still failing after up to {max_retries} retries; check that the server is up "
            "and not overloaded at --base-url, or use fewer requests in flight"
        )
    elif status == 404:
        fix = "check the model name and --base-url"
    else:
        fix = "the server refused the request; check the model name and the settings sent"
    return f"HTTP {status} {detail}; {fix}"


def _text(content) -> str:
    """A reply's text as the parser can read it: a string with any lone surrogate (which
    cannot be written as UTF-8) replaced; anything else (a number, a list) is no text, and
    the answer is then invalid, as an empty one is."""
    if not isinstance(content, str):
        return ""
    return content.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _count(value) -> int:
    """A token count from a server's usage block; 0 for anything that is not a finite,
    non-negative number (a server that reports Infinity or a string costs nothing known)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return int(value) if math.isfinite(value) and value >= 0 else 0


def redact_url(url):
    """A URL without user, password and query, for messages and results.json."""
    if not isinstance(url, str):
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
