"""A small client for OpenAI-compatible servers (vLLM, SGLang, TGI, llama.cpp, hosted APIs).

Written here rather than taken from the ``openai`` package because the benchmark needs exact
control of what is retried (429, 5xx, time-outs, dropped connections, with backoff and
``Retry-After``), of concurrency, and of how failures become one-line errors, over plain
HTTP that every such server speaks; ``httpx`` does the HTTP.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from r2rec_bench.errors import UserError

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
CONNECT_RETRIES = 2  # retries when nothing listens at the address


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
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        concurrency: int = 8,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        # What messages show: user, password and query of the URL never reach a terminal.
        self.where = redact_url(self.base_url)
        self.model = model
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.concurrency = max(1, concurrency)
        self._sleep = sleep
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(
            timeout=timeout,
            headers=headers,
            limits=httpx.Limits(max_connections=self.concurrency),
        )
        self._lock = threading.Lock()
        self.requests_sent = 0
        self.retries = 0

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, payload: dict) -> dict:
        import httpx

        url = f"{self.base_url}/{path}"
        shown = f"{self.where}/{path}"
        last_problem = ""
        for attempt in range(self.max_retries + 1):
            wait = min(self.max_backoff, self.backoff * 2**attempt)
            try:
                with self._lock:
                    self.requests_sent += 1
                response = self._http.post(url, json=payload)
            except httpx.TimeoutException:
                last_problem = "timed out"
            except httpx.ConnectError as exc:
                last_problem = f"connection failed ({type(exc).__name__})"
                # Nothing listens there: a few quick retries cover a server still starting,
                # the full backoff budget would keep the user waiting a minute for nothing.
                if attempt >= min(self.max_retries, CONNECT_RETRIES):
                    raise EndpointError(
                        f"{shown}: {last_problem} on all {attempt + 1} attempts; check that "
                        f"the server is up and reachable at --base-url"
                    ) from None
            except httpx.TransportError as exc:
                last_problem = f"connection failed ({type(exc).__name__})"
            else:
                if response.status_code < 300:
                    try:
                        return response.json()
                    except ValueError:
                        last_problem = "answered with a body that is not JSON"
                elif response.status_code in RETRY_STATUS:
                    last_problem = f"answered HTTP {response.status_code}"
                    retry_after = response.headers.get("Retry-After", "")
                    if retry_after.replace(".", "", 1).isdigit():
                        wait = min(self.max_backoff, float(retry_after))
                else:
                    detail = response.text.strip().replace("\n", " ")[:200]
                    raise EndpointError(
                        f"{shown}: HTTP {response.status_code} {detail}; check --model and "
                        "--base-url"
                    )
            if attempt < self.max_retries:
                with self._lock:
                    self.retries += 1
                self._sleep(wait)
        raise EndpointError(
            f"{shown}: {last_problem} on all {self.max_retries + 1} attempts; check that the "
            f"server is up and reachable at --base-url"
        )

    def chat(self, messages: list[dict], **params: Any) -> ChatResult:
        body = self._post("chat/completions", {"model": self.model, "messages": messages, **params})
        try:
            choice = body["choices"][0]
            usage = body.get("usage")
            usage = usage if isinstance(usage, dict) else {}
            return ChatResult(
                text=_text(choice["message"].get("content")),
                prompt_tokens=_count(usage.get("prompt_tokens")),
                completion_tokens=_count(usage.get("completion_tokens")),
                finish_reason=choice.get("finish_reason"),
            )
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            raise EndpointError(
                f"{self.where}/chat/completions: the answer is not an OpenAI chat completion"
            ) from None

    def complete(self, prompt: str, **params: Any) -> dict:
        """Raw text-completion response (used for prompt log-probabilities)."""
        return self._post("completions", {"model": self.model, "prompt": prompt, **params})

    def map(self, function: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """``function`` over ``items`` with at most ``concurrency`` requests in flight, results
        in input order; the first exception propagates after in-flight calls finish."""
        items = list(items)
        if self.concurrency == 1 or len(items) <= 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(function, items))


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
