"""A fake provider that streams a long reply slowly, and tells whether the client hung up before its end.

It answers OpenAI Chat Completions and Anthropic Messages streams (the real SDKs
talk to it over HTTP) with :attr:`SlowProvider.pieces` one-word deltas, one every
:attr:`SlowProvider.delay_s`. Each reply is recorded as a :class:`Streamed`.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from spendgate.instrumentation.fake_provider import FakeProvider
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Streamed:
    """One streamed reply, as the server saw it."""

    total: int  # frames it would send
    sent: int = 0
    completed: bool = False  # every frame was sent
    ended: threading.Event = field(default_factory=threading.Event)  # the reply is over, either way


@dataclass
class SlowProvider(FakeProvider):
    pieces: int = 400
    delay_s: float = 0.01
    prompt_tokens: int = 12  # what the Anthropic stream reports as input
    streams: list[Streamed] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/openai/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/anthropic/v1/messages", self._messages, methods=["POST"]),
            ]
        )

    def _reply(self, frames: list[bytes]) -> Response:
        streamed = Streamed(total=len(frames))
        self.streams.append(streamed)

        async def body() -> AsyncIterator[bytes]:
            try:
                for frame in frames:
                    yield frame
                    streamed.sent += 1
                    await asyncio.sleep(self.delay_s)
                streamed.completed = True
            finally:  # also when the client hung up: the response task is cancelled
                streamed.ended.set()

        return StreamingResponse(body(), media_type="text/event-stream")

    async def _chat(self, request: Request) -> Response:
        body = json.loads(await request.body())
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return self._reply(
            [b"data: " + json.dumps(c).encode() + b"\n\n" for c in self._chunks(body, include_usage)]
        )

    def _chunks(self, body: dict[str, Any], include_usage: bool) -> Iterator[dict[str, Any]]:
        base = {
            "id": "chatcmpl-slow",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": body["model"],
        }
        yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
        for _ in range(self.pieces):
            yield {**base, "choices": [{"index": 0, "delta": {"content": " word"}, "finish_reason": None}]}
        yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}
        if include_usage:
            usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.pieces}
            yield {
                **base,
                "choices": [],
                "usage": {**usage, "total_tokens": self.prompt_tokens + self.pieces},
            }

    async def _messages(self, request: Request) -> Response:
        body = json.loads(await request.body())
        return self._reply(
            [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in self._events(body)]
        )

    def _events(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        message = {
            "id": "msg_slow",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.prompt_tokens, "output_tokens": 1},
        }
        yield {"type": "message_start", "message": message}
        yield {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        for _ in range(self.pieces):
            yield {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": " word"},
            }
        yield {"type": "content_block_stop", "index": 0}
        usage = {"output_tokens": self.pieces}
        yield {
            "type": "message_delta",
            "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
            "usage": usage,
        }
        yield {"type": "message_stop"}
