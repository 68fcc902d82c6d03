"""A local OpenAI-compatible endpoint: the real SDK talks HTTP to it, so the tests exercise
what goes over the wire without mocking the client."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class FakeOpenAI:
    """Answers `POST /v1/chat/completions` with queued responses and records each request."""

    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    responses: list[tuple[int, bytes]] = field(default_factory=list)

    def reply(self, status: int, body: Any) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.responses.append((status, raw))

    def reply_content(
        self, content: str | None, *, refusal: str | None = None, finish_reason: str = "stop"
    ) -> None:
        """Queue a 200 chat completion whose single message has `content`."""
        self.reply(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 0,
                "model": "gpt-4o-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": refusal},
                        "finish_reason": finish_reason,
                    }
                ],
            },
        )


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            fake.requests.append({"path": self.path, "json": json.loads(body)})
            if self.path != "/v1/chat/completions" or not fake.responses:
                status, raw = 404, b'{"error": {"message": "no canned response"}}'
            else:
                status, raw = fake.responses.pop(0)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass  # keep pytest output clean

    return Handler


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[ThreadingHTTPServer, FakeOpenAI]]:
    fake = FakeOpenAI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield server, fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_openai(_server: tuple[ThreadingHTTPServer, FakeOpenAI]) -> FakeOpenAI:
    fake = _server[1]
    fake.requests.clear()
    fake.responses.clear()
    return fake
