"""The ``openai`` backend: any OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, APIs).

``generate`` sends each prompt to ``/chat/completions`` with ``max_tokens`` = ``max_new_tokens``
(understood by every such server, unlike OpenAI's newer ``max_completion_tokens``) and the
run's seed; decoding is greedy (temperature 0) unless ``generation`` (``--gen-kwargs``) sets
temperature, top_p or top_k (the last a vLLM, SGLang and llama.cpp extension). ``--batch-size``
requests are in flight at once (default 8).

``rank`` needs prompt log-probabilities, which only the text ``/completions`` endpoint gives:
for every candidate it sends the chat prompt rendered as plain text (``System: ...``,
``User: ...``, ``Assistant:``; the server's chat template is not applied there), the answer
prefix ``<think>\\n</think>\\n<answer>``, the title and ``</answer>``, with ``echo=true,
logprobs=1, max_tokens=0``, and sums the log-probabilities of the tokens that cover the title
and the closing tag, found by their text offsets (a token that straddles the boundary counts
as the candidate's). Limitations: chat-only servers and most hosted chat APIs do not offer
echo with log-probabilities, and some servers refuse ``max_tokens=0``; both end in a one-line
error that says so. Scores from this backend are not comparable with the ``hf`` backend's,
whose prompt goes through the model's chat template.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from r2rec_bench.errors import UserError
from r2rec_bench.llm.chat import plain_chat_text
from r2rec_bench.llm.openai_client import EndpointError, OpenAICompatibleClient
from r2rec_bench.task.prompt import ANSWER_PREFIX, ANSWER_SUFFIX
from r2rec_bench.task.records import EvalRequest, Generation

DEFAULT_CONCURRENCY = 8
RANK_SCORES = ("sum", "mean")
# --gen-kwargs keys this backend applies: sampling settings, and two that override the
# --max-new-tokens and --seed flags.
GENERATION_KEYS = ("temperature", "top_p", "top_k", "max_new_tokens", "seed")
# Sampling settings that the OpenAI API itself does not define: sent as extra body fields.
EXTENSION_KEYS = ("top_k",)


class OpenAIBackend:
    """A model behind an OpenAI-compatible HTTP API; the key comes from ``$OPENAI_API_KEY``."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        batch_size: int | str = "auto",
        max_new_tokens: int = 512,
        seed: int | None = None,
        generation: dict | None = None,
        rank_score: str = "sum",
        timeout: float = 120.0,
        max_retries: int = 6,
    ) -> None:
        if not base_url:
            raise UserError(
                f"openai:{model} needs --base-url, the server's API root "
                f"(e.g. http://127.0.0.1:8000/v1)"
            )
        if rank_score not in RANK_SCORES:
            raise UserError(f"rank_score {rank_score!r}: use one of {', '.join(RANK_SCORES)}")
        if batch_size == "auto":
            concurrency = DEFAULT_CONCURRENCY
        elif isinstance(batch_size, int) and batch_size >= 1:
            concurrency = batch_size
        else:
            raise UserError(f"--batch-size {batch_size}: use a positive integer or auto")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # The URL itself is not echoed: it may hold credentials.
            raise UserError("--base-url: not an http(s) URL; use one like http://host:8000/v1")
        # Only host and port are recorded: a URL may carry credentials or a key in its query.
        self.host = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.model_id = model
        settings = dict(generation or {})
        unknown = sorted(set(settings) - set(GENERATION_KEYS))
        if unknown:
            raise UserError(
                f"--gen-kwargs {unknown[0]}: not for openai models; use "
                f"{', '.join(GENERATION_KEYS)}"
            )
        self.max_new_tokens = settings.pop("max_new_tokens", max_new_tokens)
        self.seed = settings.pop("seed", seed)
        # Exactly the decoding fields of every chat request, as describe() records them.
        self.decoding = {"temperature": 0.0, **settings, "max_tokens": self.max_new_tokens}
        if self.seed is not None:
            self.decoding["seed"] = self.seed
        self.rank_score = rank_score
        self.concurrency = concurrency
        self.client = OpenAICompatibleClient(
            base_url, model, timeout=timeout, max_retries=max_retries, concurrency=concurrency
        )

    @property
    def batch_size(self) -> int:
        """Requests per harness call: a few rounds of the concurrency, so that the pool of
        connections stays busy while results are flushed batch by batch."""
        return 4 * self.concurrency

    def describe(self) -> dict:
        return {
            "backend": "openai",
            "id": self.model_id,
            "revision": None,  # a server does not say which weights it serves
            "dtype": None,
            "parameters": None,
            "base_url_host": self.host,
            "concurrency": self.concurrency,
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
            "generation": dict(self.decoding),
            "rank": {
                "score": self.rank_score,
                "endpoint": "completions",
                "prompt_format": "plain",
                "answer_prefix": ANSWER_PREFIX,
                "answer_suffix": ANSWER_SUFFIX,
            },
        }

    def generate(self, requests: list[EvalRequest]) -> list[Generation]:
        params = {k: v for k, v in self.decoding.items() if k not in EXTENSION_KEYS}
        extensions = {k: v for k, v in self.decoding.items() if k in EXTENSION_KEYS}

        def ask(request: EvalRequest) -> Generation:
            if not request.assistant_prefix:
                result = self.client.chat(request.prompt, **params, extra_body=extensions)
            else:
                # A begun assistant turn to continue: vLLM's and SGLang's chat extension.
                messages = [
                    *request.prompt,
                    {"role": "assistant", "content": request.assistant_prefix},
                ]
                continuation = {"continue_final_message": True, "add_generation_prompt": False}
                result = self.client.chat(
                    messages, **params, extra_body={**extensions, **continuation}
                )
            return Generation(result.text, result.prompt_tokens, result.completion_tokens)

        return self.client.map(ask, requests)

    def rank(self, requests: list[EvalRequest]) -> list[list[float]]:
        jobs = [
            (plain_chat_text(request.prompt) + ANSWER_PREFIX, title + ANSWER_SUFFIX)
            for request in requests
            for title in request.candidate_titles
        ]
        flat = self.client.map(lambda job: self._score(*job), jobs)
        if self.rank_score == "mean":
            values = [total / count for total, count in flat]
        else:
            values = [total for total, _ in flat]
        scores, start = [], 0
        for request in requests:
            scores.append(values[start : start + len(request.candidate_titles)])
            start += len(request.candidate_titles)
        return scores

    def _score(self, prefix: str, continuation: str) -> tuple[float, int]:
        """(sum of log-probabilities, token count) of ``continuation`` after ``prefix``."""
        text = prefix + continuation
        completion = self.client.complete(text, echo=True, logprobs=1, max_tokens=0, temperature=0)
        where = f"{self.client.where}/completions"
        try:
            logprobs = completion.choices[0].logprobs
            offsets = [int(o) for o in logprobs.text_offset]
            values = logprobs.token_logprobs
        except (AttributeError, IndexError, TypeError, ValueError):
            raise EndpointError(
                f"{where}: the answer has no prompt log-probabilities (echo with logprobs); "
                f"this server or model does not offer them, which rank mode needs; "
                f"use --mode generate"
            ) from None
        # Token k covers text[offsets[k]:offsets[k + 1]]; a server that generated a token
        # despite max_tokens=0 puts it at or after len(text), where it is left out.
        ends = [*offsets[1:], len(text)]
        picked = [
            values[k]
            for k in range(len(offsets))
            if offsets[k] < len(text) and ends[k] > len(prefix)
        ]
        if not picked or any(value is None for value in picked):
            raise EndpointError(
                f"{where}: the answer's log-probabilities do not cover the echoed prompt "
                f"(no text offsets past the answer prefix); rank mode needs echo=true"
            )
        return float(sum(picked)), len(picked)
