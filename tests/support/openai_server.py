"""A local OpenAI-compatible HTTP server for tests: a real socket on 127.0.0.1.

It answers ``/v1/chat/completions`` and ``/v1/completions`` through a ``responder`` the test
supplies, records every request (path, body and headers) and counts it (by a hash of its
body), and can be told to fail: the next ``n`` requests answer a status code (429, 500...),
with headers such as ``Retry-After``, or stall past the client's time-out.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def chat_response(text: str, prompt_tokens: int = 10, completion_tokens: int = 5) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text},
             "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }  # fmt: skip


class FakeOpenAIServer:
    def __init__(self, responder: Callable[[str, dict], dict]) -> None:
        """``responder(path, body) -> response dict`` answers every successful request."""
        self.responder = responder
        self.requests: list[tuple[str, dict]] = []
        self.headers: list[dict[str, str]] = []  # names in lower case
        self.body_counts: Counter[str] = Counter()
        self._failures: list[tuple[int | None, float, dict[str, str]]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                body = json.loads(raw or b"{}")
                with server._lock:
                    server.requests.append((self.path, body))
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    server.body_counts[hashlib.sha256(raw).hexdigest()] += 1
                    failure = server._failures.pop(0) if server._failures else None
                if failure is not None:
                    status, stall, headers = failure
                    if stall:
                        time.sleep(stall)
                    if status is not None:
                        error = {"error": {"message": f"injected {status}"}}
                        self._send(status, error, headers)
                        return
                self._send(200, server.responder(self.path, body))

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a time-out test): nothing to answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def fail_next(
        self,
        count: int,
        status: int | None = 500,
        stall: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next ``count`` requests answer ``status`` with ``headers`` (after stalling
        ``stall`` seconds); ``status=None`` with a stall answers normally but late."""
        with self._lock:
            self._failures.extend([(status, stall, headers or {})] * count)

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
