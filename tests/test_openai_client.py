"""The OpenAI-compatible client against a real local socket: retries, errors, concurrency."""

from __future__ import annotations

import socket

import pytest

from r2rec_bench.llm.openai_client import EndpointError, OpenAICompatibleClient
from tests.support.openai_server import FakeOpenAIServer, chat_response


def echo(path: str, body: dict) -> dict:
    return chat_response("echo: " + body["messages"][-1]["content"])


def client_for(server: FakeOpenAIServer, **options) -> OpenAICompatibleClient:
    options = {"backoff": 0.0, "max_retries": 3, "timeout": 5.0, **options}
    return OpenAICompatibleClient(server.base_url, "test-model", **options)


def test_chat_returns_text_and_token_counts():
    with FakeOpenAIServer(echo) as server:
        result = client_for(server).chat([{"role": "user", "content": "hi"}], temperature=0)
    assert result.text == "echo: hi"
    assert (result.prompt_tokens, result.completion_tokens) == (10, 5)
    path, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert body["model"] == "test-model" and body["temperature"] == 0


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_statuses_are_retried(status):
    with FakeOpenAIServer(echo) as server:
        server.fail_next(2, status=status)
        client = client_for(server)
        assert client.chat([{"role": "user", "content": "x"}]).text == "echo: x"
    assert len(server.requests) == 3 and client.retries == 2


def test_time_outs_are_retried():
    with FakeOpenAIServer(echo) as server:
        server.fail_next(1, status=None, stall=1.0)
        client = client_for(server, timeout=0.3)
        assert client.chat([{"role": "user", "content": "late"}]).text == "echo: late"
    assert client.retries == 1


def test_an_endpoint_that_keeps_failing_ends_with_one_clear_error():
    with FakeOpenAIServer(echo) as server:
        server.fail_next(10, status=500)
        with pytest.raises(EndpointError, match=r"HTTP 500 on all 4 attempts"):
            client_for(server).chat([{"role": "user", "content": "x"}])
    assert len(server.requests) == 4


def test_a_refused_request_is_not_retried():
    with FakeOpenAIServer(lambda p, b: chat_response("")) as server:
        server.fail_next(1, status=404)
        with pytest.raises(EndpointError, match="HTTP 404"):
            client_for(server).chat([{"role": "user", "content": "x"}])
    assert len(server.requests) == 1


def test_an_unreachable_endpoint_is_a_clear_error():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = OpenAICompatibleClient(f"http://127.0.0.1:{port}/v1", "m", backoff=0, max_retries=1)
    with pytest.raises(EndpointError, match=r"connection failed .* on all 2 attempts"):
        client.chat([{"role": "user", "content": "x"}])


def test_map_keeps_input_order_under_concurrency():
    with FakeOpenAIServer(echo) as server:
        client = client_for(server, concurrency=4)
        texts = client.map(
            lambda n: client.chat([{"role": "user", "content": str(n)}]).text, range(20)
        )
    assert texts == [f"echo: {n}" for n in range(20)]
