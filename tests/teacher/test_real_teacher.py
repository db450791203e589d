"""The real SmolLM2-135M-Instruct as the `hf` teacher, by its short name, on three examples."""

from __future__ import annotations

import numpy as np

from r2rec_bench.task.prompt import PromptStyle
from r2rec_bench.teacher import build_traces, make_teacher

MODEL = "smollm2-135m-instruct"


def test_the_real_model_as_teacher(smollm2_checkpoint, ml100k_examples, tmp_path):
    output, graph, examples, chains = ml100k_examples
    rows = [0, 1, 2]
    few = examples.take(np.array(rows))
    spec = f"hf:{MODEL}"
    teacher = make_teacher(spec, cache_dir=tmp_path, max_tokens=48, batch_size=4)
    traces = build_traces(
        teacher, output, graph, few, [chains[r] for r in rows], PromptStyle(), progress=False
    )
    assert len(traces) == 3
    for trace in traces:
        assert trace.teacher == spec and trace.thoughts
        assert trace.prompt_tokens > 0 and trace.completion_tokens > 0
        assert 0.0 <= trace.quality <= 1.0
    assert len(list(tmp_path.rglob("*.json"))) == sum(len(t.thoughts) for t in traces)
