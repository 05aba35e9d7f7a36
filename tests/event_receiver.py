"""A real HTTP server that receives webhook POSTs (for the events tests)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def events(self) -> list[dict[str, Any]]:
        payload = json.loads(self.body)
        return payload if isinstance(payload, list) else [payload]


class Receiver:
    """Answers 503 to the first ``fail_first`` POSTs, 204 after; keeps every accepted POST."""

    def __init__(self, fail_first: int = 0, port: int = 0) -> None:
        self.fail_first = fail_first
        self.refused = 0
        self.posts: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    refuse = receiver.refused < receiver.fail_first
                    if refuse:
                        receiver.refused += 1
                    else:
                        receiver.posts.append(Received(dict(self.headers.items()), body))
                self.send_response(503 if refuse else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            posts = list(self.posts)
        return [e for post in posts for e in post.events if type_ is None or e["type"] == type_]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
