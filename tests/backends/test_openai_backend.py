"""The `openai` backend against a local OpenAI-compatible server on a real socket."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import threading
import time

import pytest

from r2rec_bench.errors import UserError
from r2rec_bench.harness.backends import resolve_backend
from r2rec_bench.harness.backends.openai import OpenAIBackend
from r2rec_bench.llm.openai_client import EndpointError
from r2rec_bench.task.records import EvalRequest
from tests.support.openai_server import FakeOpenAIServer, chat_response
from tests.support.tiny_lm import make_requests

# The fake server's tokenizer: words, runs of punctuation, runs of spaces. A token's
# log-probability is minus its length in characters, so scores can be worked out by hand.
TOKEN = re.compile(r"\w+|[^\w\s]+|\s+")


def echo_logprobs(text: str, *, extra_token: str = "") -> dict:
    """A /completions answer with prompt log-probabilities, as vLLM gives for echo=true;
    ``extra_token`` is a generated token that a server ignoring max_tokens=0 would add."""
    tokens = [m.group() for m in TOKEN.finditer(text)]
    offsets = [m.start() for m in TOKEN.finditer(text)]
    if extra_token:
        tokens.append(extra_token)
        offsets.append(len(text))
    logprobs = [None] + [-float(len(token)) for token in tokens[1:]]
    return {
        "id": "cmpl-test",
        "object": "text_completion",
        "choices": [
            {
                "index": 0,
                "text": text + extra_token,
                "logprobs": {
                    "tokens": tokens,
                    "token_logprobs": logprobs,
                    "text_offset": offsets,
                    "top_logprobs": [None] + [{t: -float(len(t))} for t in tokens[1:]],
                },
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": len(tokens), "completion_tokens": 0},
    }


def answer_first_candidate(path: str, body: dict) -> dict:
    assert path == "/v1/chat/completions"
    first = body["messages"][-1]["content"].split('- "')[1].split('"')[0]
    return chat_response(
        f"<think>\nThought 1: it fits.\n</think>\n<answer>{first}</answer>",
        prompt_tokens=len(body["messages"][-1]["content"]) // 4,
        completion_tokens=11,
    )


def request_with(titles: list[str]) -> EvalRequest:
    messages = [{"role": "system", "content": "Recommend."}, {"role": "user", "content": "Hi"}]
    ids = [f"c{k}" for k in range(len(titles))]
    return EvalRequest("u1", messages, ["h"], ["Old (1990)"], ids, titles)


def test_generate_parses_chat_answers_with_token_counts():
    requests = make_requests(6)
    with FakeOpenAIServer(answer_first_candidate) as server:
        backend = OpenAIBackend("tiny-chat", base_url=server.base_url, max_new_tokens=64, seed=3)
        answers = backend.generate(requests)
    assert len(server.requests) == 6
    for request, answer in zip(requests, answers, strict=True):  # input order kept
        assert answer.text.endswith(f"<answer>{request.candidate_titles[0]}</answer>")
        assert answer.prompt_tokens == len(request.prompt[-1]["content"]) // 4
        assert answer.completion_tokens == 11
    body = server.requests[0][1]
    assert body["model"] == "tiny-chat" and body["messages"] in [r.prompt for r in requests]
    assert body["temperature"] == 0 and body["max_tokens"] == 64 and body["seed"] == 3


def test_decoding_is_greedy_by_default_and_recorded_as_sent():
    with FakeOpenAIServer(answer_first_candidate) as server:
        backend = OpenAIBackend("tiny-chat", base_url=server.base_url, max_new_tokens=64, seed=3)
        backend.generate(make_requests(1))
    [(_, body)] = server.requests
    sent = {key: body[key] for key in body if key not in ("model", "messages")}
    assert sent == {"temperature": 0.0, "max_tokens": 64, "seed": 3}
    assert backend.describe()["generation"] == sent


def test_gen_kwargs_reach_the_server_and_the_record():
    generation = {"temperature": 0.7, "top_p": 0.9, "top_k": 20}
    with FakeOpenAIServer(answer_first_candidate) as server:
        backend = OpenAIBackend(
            "tiny-chat", base_url=server.base_url, seed=5, generation=generation
        )
        backend.generate(make_requests(2))
    for _, body in server.requests:
        sent = {key: body[key] for key in body if key not in ("model", "messages")}
        assert sent == {**generation, "max_tokens": 512, "seed": 5}
        assert backend.describe()["generation"] == sent


def test_gen_kwargs_max_new_tokens_and_seed_win_over_the_plain_options():
    backend = OpenAIBackend(
        "m",
        base_url="http://127.0.0.1:9/v1",
        max_new_tokens=64,
        seed=0,
        generation={"max_new_tokens": 32, "seed": 7},
    )
    info = backend.describe()
    assert info["generation"] == {"temperature": 0.0, "max_tokens": 32, "seed": 7}
    assert (info["max_new_tokens"], info["seed"]) == (32, 7)


def test_an_unknown_gen_kwarg_is_a_one_line_error():
    with pytest.raises(UserError, match=r"--gen-kwargs n: not for openai models"):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", generation={"n": 4})


def test_a_begun_answer_is_continued_with_the_vllm_chat_extension():
    request = dataclasses.replace(make_requests(1)[0], assistant_prefix="<think>\nI")
    with FakeOpenAIServer(lambda path, body: chat_response(" see.\n</think>")) as server:
        [answer] = OpenAIBackend("m", base_url=server.base_url).generate([request])
    assert answer.text == " see.\n</think>"
    [(_, body)] = server.requests
    assert body["messages"] == [*request.prompt, {"role": "assistant", "content": "<think>\nI"}]
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False


def test_requests_run_concurrently_up_to_the_batch_size_and_answers_keep_input_order():
    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    def slow(path: str, body: dict) -> dict:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.02)
        with lock:
            state["now"] -= 1
        return answer_first_candidate(path, body)

    requests = make_requests(12)
    with FakeOpenAIServer(slow) as server:
        answers = OpenAIBackend("m", base_url=server.base_url, batch_size=3).generate(requests)
    assert 1 < state["peak"] <= 3
    for request, answer in zip(requests, answers, strict=True):
        assert answer.text.endswith(f"<answer>{request.candidate_titles[0]}</answer>")


@pytest.mark.parametrize("extra_token", ["", " Hello"])
def test_rank_sums_the_echoed_log_probabilities_of_each_title(extra_token):
    with FakeOpenAIServer(
        lambda path, body: echo_logprobs(body["prompt"], extra_token=extra_token)
    ) as server:
        backend = OpenAIBackend("tiny-base", base_url=server.base_url)
        sums = backend.rank([request_with(["Heat (1995)", "Alien"])])
        means = OpenAIBackend("tiny-base", base_url=server.base_url, rank_score="mean").rank(
            [request_with(["Heat (1995)", "Alien"])]
        )
    # "Heat", " ", "(", "1995", ")</", "answer", ">": 20 characters in 7 tokens;
    # "Alien", "</", "answer", ">": 14 characters in 4 tokens.
    assert sums == [[-20.0, -14.0]]
    assert means == [[-20.0 / 7, -14.0 / 4]]
    assert {path for path, _ in server.requests} == {"/v1/completions"}
    for _, body in server.requests:
        assert body["echo"] is True and body["logprobs"] == 1 and body["max_tokens"] == 0
    prefix = "System: Recommend.\n\nUser: Hi\n\nAssistant:\n<think>\n</think>\n<answer>"
    assert {body["prompt"] for _, body in server.requests} == {
        f"{prefix}Heat (1995)</answer>",
        f"{prefix}Alien</answer>",
    }


def test_rank_counts_a_token_that_straddles_the_answer_tag():
    """'>' and "'" merge into one token: it covers title text, so it is the title's."""
    with FakeOpenAIServer(lambda path, body: echo_logprobs(body["prompt"])) as server:
        backend = OpenAIBackend("tiny-base", base_url=server.base_url)
        [[score]] = backend.rank([request_with(["'Til (1997)"])])
    assert score == -float(len(">'Til (1997)</answer>"))


def test_rank_without_prompt_log_probabilities_is_a_one_line_error():
    def no_logprobs(path, body):
        return {"choices": [{"index": 0, "text": "", "logprobs": None}]}

    with FakeOpenAIServer(no_logprobs) as server:
        backend = OpenAIBackend("chat-only", base_url=server.base_url)
        with pytest.raises(EndpointError) as excinfo:
            backend.rank([request_with(["Heat (1995)"])])
    message = str(excinfo.value)
    assert "\n" not in message and "log-probabilities" in message and "--mode generate" in message


def test_unreachable_endpoint_is_an_endpoint_error():
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = OpenAIBackend("m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(EndpointError) as excinfo:
        backend.generate(make_requests(1))
    assert "\n" not in str(excinfo.value) and "--base-url" in str(excinfo.value)


def test_describe_names_the_host_but_never_the_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    backend = OpenAIBackend(
        "m", base_url="http://user:pw@127.0.0.1:8000/v1?key=abc", batch_size=4, max_new_tokens=9
    )
    info = backend.describe()
    assert info["id"] == "m" and info["base_url_host"] == "127.0.0.1:8000"
    assert info["concurrency"] == 4 and info["generation"]["temperature"] == 0.0
    dumped = json.dumps(info)
    assert "sk-secret-value" not in dumped and "pw" not in dumped and "abc" not in dumped


def test_missing_or_bad_base_url_is_a_one_line_error():
    with pytest.raises(UserError, match="--base-url"):
        OpenAIBackend("m")
    with pytest.raises(UserError, match="--base-url"):
        OpenAIBackend("m", base_url="127.0.0.1:8000")


def test_the_harness_resolves_openai_specs_to_this_backend():
    backend = resolve_backend(
        "openai:served-model",
        base_url="http://127.0.0.1:9/v1",
        batch_size="auto",
        max_new_tokens=32,
        adapter=None,
        seed=0,
        generation={"temperature": 0.5},
    )
    assert isinstance(backend, OpenAIBackend)
    assert backend.describe()["id"] == "served-model" and backend.max_new_tokens == 32
    assert backend.describe()["generation"]["temperature"] == 0.5
    with pytest.raises(UserError, match="--adapter"):
        resolve_backend("openai:served-model", base_url="http://127.0.0.1:9/v1", adapter="x")


def test_hostile_server_replies_are_invalid_outputs_not_tracebacks(ml100k_build, tmp_path):
    """A number or a list as content, a lone surrogate, Infinity as a token count: each user
    gets an invalid (or surrogate-free) answer; the run ends with results."""
    import json as jsonlib

    from tests.conftest import run_cli

    replies = iter(
        [
            {**chat_response("x"), "choices": [{"index": 0, "message": {"content": 12345}}]},
            {**chat_response("x"), "choices": [{"index": 0, "message": {"content": ["a"]}}]},
            chat_response("Heat \ud800 (1995)"),
            {
                **chat_response("y"),
                "usage": {"prompt_tokens": float("inf"), "completion_tokens": "many"},
            },
        ]
    )
    with FakeOpenAIServer(lambda path, body: next(replies)) as server:
        result = run_cli(
            "evaluate", "--model", "openai:hostile", "--base-url", server.base_url,
            "--dataset", str(ml100k_build), "--limit", "4", "--batch-size", "1", "--json",
            cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-1500:]
    results = jsonlib.loads(result.stdout)
    assert results["n_users"] == 4 and results["answers"]["valid"] == 0
    folder = tmp_path / "results/ml-100k-iot/openai--hostile/test-generate-limit4"
    samples = [jsonlib.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    assert [s["output"] for s in samples] == ["", "", "Heat \ufffd (1995)", "y"]
    assert samples[3]["prompt_tokens"] == 0 and samples[3]["completion_tokens"] == 0


def test_a_password_in_the_base_url_is_never_printed(ml100k_build, tmp_path):
    import socket

    from tests.conftest import run_cli

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://alice:s3cret-pw@127.0.0.1:{port}/v1?token=s3cret-q"
    result = run_cli(
        "evaluate", "--model", "openai:m", "--base-url", base, "--dataset", str(ml100k_build),
        "--limit", "1", "--model-args", "max_retries=1", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "s3cret" not in result.stderr + result.stdout and "alice" not in result.stderr
    assert f"http://127.0.0.1:{port}/v1/chat/completions: connection failed" in result.stderr
