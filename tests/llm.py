"""A real OpenAI-compatible HTTP endpoint on 127.0.0.1 for the tests of the optional language model: it
records what it was asked and answers what the test sets (or fails with the status it sets)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Endpoint:
    def __init__(self, content: str) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.reply: Any = {}
        self.answer(content)

    def answer(self, content: str) -> None:
        self.reply = {"choices": [{"message": {"content": content}}]}


@contextlib.contextmanager
def running_endpoint(content: str) -> Iterator[tuple[str, Endpoint]]:
    """Serve chat completions answering ``content``; yield (base URL, the endpoint's state)."""
    state = Endpoint(content)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.requests.append(
                {
                    "path": self.path,
                    "auth": self.headers.get("Authorization"),
                    "body": json.loads(self.rfile.read(length)),
                }
            )
            payload = json.dumps(state.reply).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    finally:
        server.shutdown()
        server.server_close()
