"""Test doubles of the Backend protocol, importable by the tests and by subprocesses they start.

Real backends (hf, openai, baselines) are tested on their own; these make the runner's
behaviour observable with answers that are known in advance.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

from r2rec_bench.task.records import EvalRequest, Generation


def _choice(user_id: str, salt: str, count: int) -> int:
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


class HashBackend:
    """Answers that depend only on the user (never on order or batching), in every shape the
    parser meets: a single title, a ranked list, a normalized title, and garbage.

    ``delay`` seconds per batch make a run slow enough to be killed in the middle.
    """

    def __init__(self, salt: str = "a", delay: float = 0.0) -> None:
        self.salt = salt
        self.delay = delay
        self.calls: list[int] = []

    def describe(self) -> dict:
        return {"id": f"hash-{self.salt}", "revision": None, "dtype": None, "parameters": 0}

    def _answer(self, request: EvalRequest) -> str:
        titles = request.candidate_titles
        first = _choice(request.user_id, self.salt, len(titles))
        shape = _choice(request.user_id, self.salt + "shape", 10)
        if shape == 0:
            return "<think>I cannot decide.</think><answer>no idea</answer>"
        if shape in (1, 2):
            order = [first, *(j for j in range(len(titles)) if j != first)]
            ranked = "\n".join(f"{n}. {titles[j]}" for n, j in enumerate(order[:10], 1))
            return f"<think>Ranking.</think>\n<answer>\n{ranked}\n</answer>"
        if shape == 3:
            return f'<think>Quoted.</think><answer>"{titles[first].upper()}"</answer>'
        return f"<think>Thought 1: it fits.</think>\n<answer>{titles[first]}</answer>"

    def generate(self, requests: list[EvalRequest]) -> list[Generation]:
        self.calls.append(len(requests))
        time.sleep(self.delay)
        return [
            Generation(self._answer(r), prompt_tokens=len(r.prompt[-1]["content"]) // 4,
                       completion_tokens=7)
            for r in requests
        ]  # fmt: skip

    def rank(self, requests: list[EvalRequest]) -> list[list[float]]:
        self.calls.append(len(requests))
        time.sleep(self.delay)
        return [
            [float(_choice(r.user_id, f"{self.salt}:{j}", 1000)) for j in range(len(r.candidates))]
            for r in requests
        ]


class OracleBackend:
    """Answers the gold target (given by the test, never by the harness): HR@1 must be 1."""

    def __init__(self, targets: dict[str, str]) -> None:
        self.targets = targets  # user_id -> target title

    def describe(self) -> dict:
        return {"id": "oracle", "revision": None, "dtype": None, "parameters": 0}

    def generate(self, requests: list[EvalRequest]) -> list[Generation]:
        return [Generation(f"<answer>{self.targets[r.user_id]}</answer>") for r in requests]

    def rank(self, requests: list[EvalRequest]) -> list[list[float]]:
        return [
            [1.0 if t == self.targets[r.user_id] else 0.0 for t in r.candidate_titles]
            for r in requests
        ]


def run_slow(dataset: str, output_dir: str, delay: str) -> None:
    """Entry point of the subprocess that the resume test kills with SIGKILL."""
    from r2rec_bench.harness.runner import run_evaluation

    run_evaluation(
        HashBackend(delay=float(delay)),
        Path(dataset),
        model_spec="hash-a",
        batch_size=8,
        output_dir=output_dir,
        quiet=True,
    )


if __name__ == "__main__":
    run_slow(*sys.argv[1:])
