"""Teacher test helpers: the MovieLens-100K examples and chains the teacher tests share, a
deterministic OpenAI-compatible responder, and a command-line trace build that a test can run
in a subprocess and SIGKILL halfway:

    python -m tests.support.teacher_driver RAW_DIR BASE_URL CACHE_DIR OUT_JSON EXAMPLES CONCURRENCY
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from r2rec_bench.graph import TrainGraph
from r2rec_bench.protocol import ProtocolParams, run_protocol, training_targets
from r2rec_bench.sources import read_source
from r2rec_bench.task.prompt import PromptStyle
from r2rec_bench.teacher import build_traces, make_teacher
from tests.support.hand_chains import hand_chains
from tests.support.openai_server import chat_response

MODEL = "fake-teacher"


def load_examples(raw: Path, count: int | None = None):
    """(output, graph, examples, chains) for ml-100k's last training target of each user;
    the first ``count`` examples only when given."""
    output = run_protocol(read_source("movielens-100k", Path(raw)), ProtocolParams())
    graph = TrainGraph.from_train(output.train, len(output.user_id), len(output.catalog))
    examples = training_targets(output, per_user=1)
    if count is not None:
        examples = examples.take(np.arange(count))
    return output, graph, examples, hand_chains(graph, examples)


def dump(traces) -> str:
    """The traces as canonical JSON: what "byte-identical builds" compares."""
    return json.dumps([dataclasses.asdict(t) for t in traces], sort_keys=True)


def answer_first_option(delay: float = 0.0):
    """A responder that always predicts option A and reasons about the title it shows first;
    its token counts follow the text lengths, so accounting mistakes show."""

    def respond(path: str, body: dict) -> dict:
        time.sleep(delay)
        prompt = body["messages"][-1]["content"]
        first = next(line for line in prompt.splitlines() if line.startswith("A. "))
        title = re.findall(r'"([^"]*)"', first)[0]
        text = f'Looking at the chain, "{title}" fits what is visible.\nPrediction: A'
        return chat_response(text, len(prompt) // 4, len(text) // 4)

    return respond


def main(argv: list[str]) -> None:
    raw, base_url, cache_dir, out, count, concurrency = argv
    output, graph, examples, chains = load_examples(Path(raw), int(count))
    teacher = make_teacher(
        f"openai:{MODEL}",
        base_url=base_url,
        cache_dir=Path(cache_dir),
        concurrency=int(concurrency),
    )
    try:
        traces = build_traces(teacher, output, graph, examples, chains, PromptStyle())
    finally:
        teacher.close()
    Path(out).write_text(dump(traces))


if __name__ == "__main__":
    main(sys.argv[1:])
