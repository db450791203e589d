"""The ``hf`` backend: a local transformers causal LM, optionally with a PEFT adapter.

``generate`` decodes greedily, batched, with the model's chat template. ``rank`` scores each
candidate title by its log-likelihood as the answer (DESIGN §7): the prompt, followed by an
empty reasoning block and an open answer tag (``<think>\\n</think>\\n<answer>``), is run once per
user, and its key/value cache is reused for the title of every candidate followed by
``</answer>``. The score is the **sum** of those tokens' log-probabilities, i.e. the
log-probability that the model's answer is exactly that title; ``rank_score="mean"`` divides
it by the number of tokens instead (a length-normalised score, which no longer favours short
titles but is no longer a probability). The prompt and each title are tokenized separately
and their ids concatenated.
"""

from __future__ import annotations

from r2rec_bench.errors import UserError
from r2rec_bench.llm.batching import AUTO_BATCH_CAP, BatchSizer
from r2rec_bench.llm.chat import choose_chat_template, encode, render_chat
from r2rec_bench.llm.generation import generate_chat
from r2rec_bench.llm.loading import (
    adapter_base,
    load_causal_lm,
    resolve_adapter_dir,
    resolve_model_dir,
)
from r2rec_bench.llm.scoring import score_continuations
from r2rec_bench.task.prompt import ANSWER_PREFIX, ANSWER_SUFFIX
from r2rec_bench.task.records import EvalRequest, Generation

RANK_SCORES = ("sum", "mean")

# Users handed to one rank batch at most under ``auto`` on CUDA: each brings 20 candidate rows.
RANK_AUTO_CAP = 64


class HFBackend:
    """A Hugging Face causal LM (local directory or Hub id) under evaluation."""

    def __init__(
        self,
        model: str,
        *,
        adapter: str | None = None,
        batch_size: int | str = "auto",
        max_new_tokens: int = 512,
        seed: int = 0,
        dtype: str = "auto",
        device: str = "auto",
        device_map: str | None = None,
        trust_remote_code: bool = False,
        rank_score: str = "sum",
        revision: str | None = None,
        chat_template: str | None = None,
        generation: dict | None = None,
    ) -> None:
        if rank_score not in RANK_SCORES:
            raise UserError(f"rank_score {rank_score!r}: use one of {', '.join(RANK_SCORES)}")
        self.model_id = model
        self.max_new_tokens = max_new_tokens
        # Seeds sampling (``generation``); greedy decoding and scoring draw no random numbers.
        self.seed = seed
        self.sampling = dict(generation or {})
        self.rank_score = rank_score
        self.trust_remote_code = trust_remote_code
        _, self.revision = resolve_model_dir(
            model, trust_remote_code=trust_remote_code, revision=revision
        )
        self.adapter = None
        if adapter is not None:
            adapter_dir, adapter_revision = resolve_adapter_dir(adapter)
            self.adapter = {
                "path": adapter,
                "revision": adapter_revision,
                "base_model": adapter_base(adapter_dir),
            }
        self.model, self.tokenizer = load_causal_lm(
            model,
            adapter=adapter,
            dtype=dtype,
            device=device,
            device_map=device_map,
            trust_remote_code=trust_remote_code,
            revision=revision,
        )
        self.chat_template = choose_chat_template(self.tokenizer, chat_template)
        self.requested_batch_size = batch_size
        # One sizer per mode: a generation batch and a rank batch use memory differently,
        # and each keeps the size it found for the following calls.
        self._generate_sizer = BatchSizer(batch_size, self.model.device)
        self._rank_sizer = BatchSizer(batch_size, self.model.device, cap=RANK_AUTO_CAP)

    @property
    def batch_size(self) -> int:
        """Requests the harness should hand over per call: the fixed size, or under ``auto``
        as many as the backend may grow to (it splits them into batches that fit itself)."""
        sizer = self._generate_sizer
        return AUTO_BATCH_CAP if sizer.growing else sizer.size

    def describe(self) -> dict:
        return {
            "backend": "hf",
            "id": self.model_id,
            "revision": self.revision,
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "device": str(self.model.device),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "adapter": self.adapter,
            "trust_remote_code": self.trust_remote_code,
            "batch_size": self.requested_batch_size,
            "batch_size_found": {
                "generate": self._generate_sizer.size,
                "rank": self._rank_sizer.size,
            },
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
            "prompt_format": "chat_template" if self.tokenizer.chat_template else "plain",
            "chat_template": self.chat_template,
            "generation": {
                "do_sample": bool(self.sampling),
                **self.sampling,
                "num_beams": 1,
                "max_new_tokens": self.max_new_tokens,
                "seed": self.seed if self.sampling else None,
                "model_generation_config": "ignored except end-of-sequence ids",
            },
            "rank": {
                "score": self.rank_score,
                "answer_prefix": ANSWER_PREFIX,
                "answer_suffix": ANSWER_SUFFIX,
                "kv_cache_reuse": True,
            },
        }

    def generate(self, requests: list[EvalRequest]) -> list[Generation]:
        return generate_chat(
            self.model,
            self.tokenizer,
            [request.prompt for request in requests],
            max_new_tokens=self.max_new_tokens,
            batch_size=self._generate_sizer,
            prefixes=[request.assistant_prefix for request in requests],
            sampling=self.sampling,
            seed=self.seed,
        )

    def rank(self, requests: list[EvalRequest]) -> list[list[float]]:
        tokenizer = self.tokenizer
        prompts = [
            encode(tokenizer, render_chat(tokenizer, request.prompt) + ANSWER_PREFIX)
            for request in requests
        ]
        titles = [
            [encode(tokenizer, title + ANSWER_SUFFIX) for title in request.candidate_titles]
            for request in requests
        ]
        scores = score_continuations(self.model, prompts, titles, batch_size=self._rank_sizer)
        if self.rank_score == "mean":
            return [[score.mean for score in row] for row in scores]
        return [[score.logprob for score in row] for row in scores]
