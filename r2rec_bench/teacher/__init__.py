"""Teachers: turn chains into interaction-of-thought traces by progressive masked prompting.

``make_teacher(spec)`` gives one of ``template`` (default), ``openai:<model>`` or
``hf:<model>``; ``build_traces`` plans every example's masked steps (``plan.py``) and lets the
teacher predict each hidden node and keep a thought for it. ``build_traces`` returns one trace
per example, in example order, *unfiltered*: the caller keeps ``trace.quality >= min_quality``
(and counts the rest, attribute-only ones included, for the card), so the quality threshold
never changes which answers a language model is asked for, and a rebuild with another
threshold reuses the whole response cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from r2rec_bench.chains.types import Chain
from r2rec_bench.errors import UserError
from r2rec_bench.graph import TrainGraph
from r2rec_bench.parallel import map_in_chunks
from r2rec_bench.protocol import EvalSplit, ProtocolOutput
from r2rec_bench.sources.fetch import cache_root
from r2rec_bench.task.prompt import PromptStyle
from r2rec_bench.teacher.llm import HFTransport, LLMTeacher, OpenAITransport
from r2rec_bench.teacher.plan import ExamplePlan, Planner
from r2rec_bench.teacher.template import TemplateTeacher
from r2rec_bench.teacher.types import Thought, Trace

__all__ = ["Teacher", "Thought", "Trace", "build_traces", "make_teacher"]

# Below this many examples per process, forking and sending the plans back cost more than a
# second CPU saves.
PARALLEL_FROM = 1_000

TEACHER_SPECS = "template, openai:<model> (with a base URL) or hf:<model folder or Hub id>"


class Teacher(Protocol):
    name: str  # the spec it was made from, recorded in every trace

    def run(self, planner: Planner, plans: list[ExamplePlan], progress: bool) -> list[Trace]: ...

    def close(self) -> None: ...


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name)


def make_teacher(
    spec: str,
    *,
    base_url: str | None = None,
    cache_dir: Path | None = None,
    concurrency: int = 8,
    max_tokens: int = 512,
    batch_size: int = 8,
    dtype: str = "auto",
    **client_options: Any,
) -> Teacher:
    """The teacher named by ``spec``.

    Language-model teachers cache answers under ``cache_dir/<spec slug>/`` (default
    ``$R2REC_BENCH_CACHE/teacher``); ``max_tokens`` bounds each answer; ``concurrency`` is
    the number of requests in flight (openai), ``batch_size`` the generation batch and
    ``dtype`` the weights' type (hf);
    ``client_options`` (``timeout``, ``max_retries``, ``api_key``...) go to the
    OpenAI-compatible client.
    """

    kind, _, model = spec.partition(":")
    if spec == "template":
        return TemplateTeacher()
    if kind not in ("openai", "hf") or not model:
        raise UserError(f"unknown teacher {spec!r}; use {TEACHER_SPECS}")

    root = (Path(cache_dir) if cache_dir else cache_root() / "teacher") / _slug(spec)
    if kind == "openai":
        if not base_url:
            raise UserError(
                f"teacher {spec!r} needs the server's base URL (--base-url, e.g. "
                f"http://127.0.0.1:8000/v1)"
            )
        transport = OpenAITransport(
            model,
            base_url,
            concurrency=concurrency,
            max_tokens=max_tokens,
            client_options=client_options,
        )
    else:
        transport = HFTransport(
            model, batch_size=batch_size, max_new_tokens=max_tokens, dtype=dtype
        )
    return LLMTeacher(spec, transport, root)


def build_traces(
    teacher: Teacher,
    output: ProtocolOutput,
    graph: TrainGraph,
    examples: EvalSplit,
    chains: Sequence[tuple[Chain, ...]],
    style: PromptStyle,
    *,
    progress: bool = False,
) -> list[Trace]:
    """One trace per row of ``examples`` (``chains[row]`` are its chains; none → attribute-only
    reasoning), in row order, unfiltered (see the module doc)."""
    from tqdm.auto import tqdm

    if len(chains) != len(examples):
        raise ValueError(f"{len(chains)} chain tuples for {len(examples)} examples")
    planner = Planner(output, graph, style)
    # A plan depends on its example alone (Planner), so a large build plans in one process
    # per CPU; this process plans the first part and shows its progress.

    def plan_part(rows: range) -> list[ExamplePlan]:
        first = rows.start == 0
        shown = tqdm(rows, desc="masked steps", unit="example", disable=not progress or not first)
        return [planner.plan(examples, row, tuple(chains[row])) for row in shown]

    plans = map_in_chunks(plan_part, len(examples), PARALLEL_FROM)
    return teacher.run(planner, plans, progress)
