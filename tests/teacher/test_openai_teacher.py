"""The `openai` teacher against a local OpenAI-compatible server (a real socket): concurrency,
token accounting, retries, a build killed halfway and resumed, an endpoint that stays down."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from r2rec_bench.llm.openai_client import EndpointError
from r2rec_bench.task.prompt import PromptStyle
from r2rec_bench.teacher import build_traces, make_teacher
from r2rec_bench.teacher.plan import Planner
from tests.support.openai_server import FakeOpenAIServer
from tests.support.teacher_driver import MODEL, answer_first_option, dump, load_examples

REPO = Path(__file__).resolve().parents[2]
COUNT = 40  # examples: about 150 requests
CONCURRENCY = 4


def _key(messages: list[dict]) -> str:
    return json.dumps(messages, sort_keys=True)


def _cached(cache: Path) -> list[Path]:
    return list(cache.rglob("*.json"))


def _cached_requests(cache: Path) -> set[str]:
    return {_key(json.loads(p.read_text())["request"]["messages"]) for p in _cached(cache)}


def _sent(server: FakeOpenAIServer, start: int = 0) -> list[str]:
    return [_key(body["messages"]) for _, body in server.requests[start:]]


@pytest.fixture(scope="module")
def small(ml100k_raw):
    return load_examples(ml100k_raw, COUNT)


def _build(small, base_url: str, cache: Path, concurrency: int = CONCURRENCY, **options):
    output, graph, examples, chains = small
    teacher = make_teacher(
        f"openai:{MODEL}",
        base_url=base_url,
        cache_dir=cache,
        concurrency=concurrency,
        **options,
    )
    try:
        return build_traces(teacher, output, graph, examples, chains, PromptStyle())
    finally:
        teacher.close()


@pytest.fixture(scope="module")
def reference(small, tmp_path_factory):
    """An uninterrupted build into a fresh cache: its JSON and what the server saw."""
    with FakeOpenAIServer(answer_first_option()) as server:
        traces = _build(small, server.base_url, tmp_path_factory.mktemp("reference"))
    return traces, dump(traces), list(server.requests), server.body_counts


def test_an_uninterrupted_build_asks_each_step_once_and_keeps_right_reasonings(small, reference):
    output, graph, examples, chains = small
    traces, _, requests, body_counts = reference
    assert len(traces) == COUNT
    assert set(body_counts.values()) == {1}
    assert len(requests) == sum(len(t.thoughts) for t in traces)
    prompts = [body["messages"][-1]["content"] for _, body in requests]
    assert sum(t.prompt_tokens for t in traces) == sum(len(p) // 4 for p in prompts)
    # The responder always answers A, reasoning about option A's first title: a step is
    # verified exactly when A is right, and then its reasoning is the thought kept.
    planner = Planner(output, graph, PromptStyle())
    for trace in traces:
        plan = planner.plan(examples, trace.example, chains[trace.example])
        assert [t.verified for t in trace.thoughts] == [s.answer == 0 for s in plan.steps]
        for thought, step in zip(trace.thoughts, plan.steps, strict=True):
            llm_wrote = thought.text.startswith("Looking at the chain")
            assert llm_wrote == thought.verified
            # Otherwise the template's thought, written as the correction of option A.
            assert llm_wrote or thought.text == step.written(0)[0]


def test_examples_are_asked_concurrently_but_each_examples_steps_in_order(small, tmp_path):
    lock, state = threading.Lock(), {"now": 0, "peak": 0}
    slow = answer_first_option(delay=0.02)

    def respond(path: str, body: dict) -> dict:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        try:
            return slow(path, body)
        finally:
            with lock:
                state["now"] -= 1

    with FakeOpenAIServer(respond) as server:
        _build(small, server.base_url, tmp_path, concurrency=3)
    assert 1 < state["peak"] <= 3
    # Prompt j of an example carries the j thoughts before it: one per earlier answer.
    prompts = [body["messages"][-1]["content"] for _, body in server.requests]
    thoughts_shown = Counter(prompt.count("\nThought ") for prompt in prompts)
    assert thoughts_shown[0] == COUNT and thoughts_shown[1] < COUNT


def test_a_killed_build_resumes_without_asking_again_and_ends_byte_identical(
    ml100k_raw, reference, tmp_path
):
    _, expected, reference_requests, _ = reference
    cache, out = tmp_path / "cache", tmp_path / "traces.json"
    half = len(reference_requests) // 2
    with FakeOpenAIServer(answer_first_option(delay=0.03)) as server:
        arguments = [ml100k_raw, server.base_url, cache, out, COUNT, CONCURRENCY]
        command = [sys.executable, "-m", "tests.support.teacher_driver", *map(str, arguments)]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        first = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while len(_cached(cache)) < half and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert first.returncode == -signal.SIGKILL, first.stderr.read().decode()[-2000:]
        answered = _cached_requests(cache)
        sent_before = len(server.requests)
        assert half <= len(answered) < len(reference_requests) and not out.exists()

        second = subprocess.run(command, cwd=REPO, env=env, capture_output=True, timeout=300)
        assert second.returncode == 0, second.stderr.decode()[-2000:]

    sent = _sent(server)
    assert not set(sent[sent_before:]) & answered  # nothing answered and cached is paid twice
    # Sent twice: only what was in flight at the kill (answered, never cached).
    resent = [request for request, n in Counter(sent).items() if n > 1]
    assert all(n <= 2 for n in Counter(sent).values()) and len(resent) <= CONCURRENCY
    assert len(set(sent)) == len(reference_requests)
    assert out.read_text() == expected  # tokens included: cached answers keep their counts


def test_rate_limits_server_errors_and_timeouts_are_retried(small, reference, tmp_path):
    _, expected, _, _ = reference
    with FakeOpenAIServer(answer_first_option()) as server:
        server.fail_next(2, 429)
        server.fail_next(1, 500)
        server.fail_next(1, None, stall=1.0)  # answers after the client's time-out
        server.fail_next(1, 503)
        traces = _build(small, server.base_url, tmp_path, timeout=0.5)
    assert dump(traces) == expected
    assert sum(n - 1 for n in server.body_counts.values()) == 5  # one resend per failure


def test_an_endpoint_that_stays_down_fails_in_one_line_and_keeps_what_it_answered(
    small, reference, tmp_path
):
    _, expected, _, _ = reference
    answered, holder, count = 30, {}, itertools.count(1)
    respond_a = answer_first_option()

    def respond(path: str, body: dict) -> dict:
        reply = respond_a(path, body)
        if next(count) == answered:  # from the next request on, every attempt fails
            holder["server"].fail_next(3, 500)
        return reply

    with FakeOpenAIServer(respond) as server:
        holder["server"] = server
        with pytest.raises(EndpointError) as caught:
            _build(small, server.base_url, tmp_path, concurrency=1, max_retries=2)
        message = str(caught.value)
        assert "\n" not in message and server.base_url in message and "HTTP 500" in message
        assert len(_cached(tmp_path)) == answered
        failed, first_run = _sent(server)[-1], len(server.requests)

        traces = _build(small, server.base_url, tmp_path, concurrency=1, max_retries=2)
    rerun = _sent(server, first_run)
    assert rerun[0] == failed
    assert not set(rerun) & set(_sent(server)[:answered])  # only the missing ones are asked
    assert dump(traces) == expected
