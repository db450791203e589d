"""The OpenAI-compatible client (the ``openai`` SDK and what it adds) against a real local
socket: retries, one-line errors, concurrency."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from r2rec_bench.llm.openai_client import EndpointError, OpenAICompatibleClient
from tests.support.openai_server import FakeOpenAIServer, chat_response


def echo(path: str, body: dict) -> dict:
    return chat_response("echo: " + body["messages"][-1]["content"])


def client_for(server: FakeOpenAIServer, **options) -> OpenAICompatibleClient:
    options = {"max_retries": 3, "timeout": 5.0, **options}
    return OpenAICompatibleClient(server.base_url, "test-model", **options)


def test_chat_returns_text_and_token_counts():
    with FakeOpenAIServer(echo) as server:
        result = client_for(server).chat([{"role": "user", "content": "hi"}], temperature=0)
    assert result.text == "echo: hi"
    assert (result.prompt_tokens, result.completion_tokens) == (10, 5)
    path, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert body["model"] == "test-model" and body["temperature"] == 0


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The client's waits between attempts, recorded instead of slept (the fake server
    sleeps only to stall, which these tests do not ask of it)."""
    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_statuses_are_retried_after_a_backoff(status, waits):
    with FakeOpenAIServer(echo) as server:
        server.fail_next(2, status=status)
        assert client_for(server).chat([{"role": "user", "content": "x"}]).text == "echo: x"
    assert len(server.requests) == 3
    assert len(waits) == 2 and all(wait > 0 for wait in waits)


def test_the_wait_the_server_asks_for_is_honoured(waits):
    """``Retry-After`` sets the wait; a wait past the SDK's limit is not waited for: the
    request fails at once with the server's status."""
    with FakeOpenAIServer(echo) as server:
        server.fail_next(2, status=429, headers={"Retry-After": "7"})
        assert client_for(server).chat([{"role": "user", "content": "y"}]).text == "echo: y"
        assert waits == [7.0, 7.0] and len(server.requests) == 3
        server.fail_next(1, status=429, headers={"Retry-After": "100000"})
        with pytest.raises(EndpointError, match="HTTP 429"):
            client_for(server).chat([{"role": "user", "content": "x"}])
    assert len(server.requests) == 4 and len(waits) == 2


def test_time_outs_are_retried():
    with FakeOpenAIServer(echo) as server:
        server.fail_next(1, status=None, stall=1.0)
        client = client_for(server, timeout=0.3)
        assert client.chat([{"role": "user", "content": "late"}]).text == "echo: late"
    assert len(server.requests) == 2


def test_an_endpoint_that_keeps_failing_ends_with_one_clear_error(waits):
    with FakeOpenAIServer(echo) as server:
        server.fail_next(10, status=500)
        with pytest.raises(EndpointError) as caught:
            client_for(server).chat([{"role": "user", "content": "x"}])
    assert len(server.requests) == 4
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{server.base_url}/chat/completions: ")
    assert "HTTP 500" in message and "injected 500" in message and "3 retries" in message


@pytest.mark.parametrize(
    ("status", "fix"),
    [(401, "API key in $OPENAI_API_KEY"), (404, "model name and --base-url"), (400, "refused")],
)
def test_a_refused_request_is_not_retried_and_says_what_to_check(status, fix):
    with FakeOpenAIServer(lambda p, b: chat_response("")) as server:
        server.fail_next(1, status=status)
        with pytest.raises(EndpointError) as caught:
            client_for(server).chat([{"role": "user", "content": "x"}])
    assert len(server.requests) == 1
    message = str(caught.value)
    assert "\n" not in message and f"HTTP {status}" in message and fix in message


def test_the_key_comes_from_the_environment_and_a_keyless_server_needs_none(monkeypatch):
    with FakeOpenAIServer(echo) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
        client_for(server).chat([{"role": "user", "content": "x"}])
        monkeypatch.delenv("OPENAI_API_KEY")
        client_for(server).chat([{"role": "user", "content": "y"}])
        client_for(server, api_key="sk-given").chat([{"role": "user", "content": "z"}])
    keys = [headers.get("authorization") for headers in server.headers]
    assert keys == ["Bearer sk-from-env", "Bearer EMPTY", "Bearer sk-given"]


def test_an_unreachable_endpoint_is_a_clear_error():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = OpenAICompatibleClient(f"http://127.0.0.1:{port}/v1", "m", max_retries=1)
    with pytest.raises(EndpointError, match=r"connection failed .* on all 2 attempts.*--base-url"):
        client.chat([{"role": "user", "content": "x"}])


def test_a_server_that_keeps_timing_out_is_a_clear_error():
    with FakeOpenAIServer(echo) as server:
        server.fail_next(2, status=None, stall=1.0)
        with pytest.raises(EndpointError, match=r"timed out after 0.3 s on all 2 attempts"):
            client_for(server, timeout=0.3, max_retries=1).chat([{"role": "user", "content": "x"}])
    assert len(server.requests) == 2


def test_map_keeps_input_order_with_the_requests_in_flight_bounded():
    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    def slow_echo(path: str, body: dict) -> dict:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        # Later requests answer sooner, so answers arrive out of input order.
        time.sleep(0.01 * (20 - int(body["messages"][-1]["content"])))
        with lock:
            state["now"] -= 1
        return echo(path, body)

    with FakeOpenAIServer(slow_echo) as server:
        client = client_for(server, concurrency=4)
        texts = client.map(
            lambda n: client.chat([{"role": "user", "content": str(n)}]).text, range(20)
        )
    assert texts == [f"echo: {n}" for n in range(20)]
    assert 1 < state["peak"] <= 4


def test_map_stops_asking_once_a_request_has_failed_for_good():
    with FakeOpenAIServer(echo) as server:
        server.fail_next(40, status=404, stall=0.05)
        client = client_for(server, concurrency=2)
        with pytest.raises(EndpointError, match="HTTP 404"):
            client.map(lambda n: client.chat([{"role": "user", "content": str(n)}]), range(40))
    # The calls in flight when the first one failed, not the 40 queued.
    assert len(server.requests) <= 8
