"""A local HTTP server that answers like the LLM providers, for tests, benchmarks and the demo.

Every provider lives under its own prefix, so one server serves them all:
point a real SDK at ``fake.url("openai")`` (or ``anthropic``, ``azure``,
``groq``, ``mistral``, ``gemini``, ``ollama``, ``bedrock``). Replies are fixed;
usage comes from :attr:`FakeProvider.usage`. Failures are scripted per call:
``fail_next(429)``, ``fail_next(500)`` or ``drop_next()`` (the connection closes
mid-reply). Every request received is kept in :attr:`FakeProvider.requests`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import formats
from .eventstream import event_message
from .formats import Usage

_PREFIXES = {
    "openai": "/openai/v1",
    "azure": "/azure",
    "groq": "/groq",
    "mistral": "/mistral",
    "anthropic": "/anthropic",
    "gemini": "/gemini",
    "ollama": "/ollama",
    "bedrock": "/bedrock",
}


@dataclass
class Received:
    provider: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class _Failure:
    kind: str  # "status" or "drop"
    status: int = 0


class _Dropped(Exception):
    """Raised inside a reply body: the server closes the connection mid-reply."""


@dataclass
class FakeProvider:
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0  # added before every reply, to look like a real provider
    host: str = "127.0.0.1"
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[_Failure] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> FakeProvider:
        config = uvicorn.Config(self.app(), host=self.host, port=0, log_level="critical", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-provider", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake provider did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
        self._server = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, provider: str) -> str:
        """The base URL to give the provider's SDK."""
        return self.base_url + _PREFIXES[provider]

    # -- scripting ---------------------------------------------------------------------------------
    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next ``times`` calls with this HTTP error, in the provider's error format."""
        with self._lock:
            self._failures.extend(_Failure("status", status) for _ in range(times))

    def drop_next(self, times: int = 1) -> None:
        """Close the connection in the middle of the next ``times`` replies."""
        with self._lock:
            self._failures.extend(_Failure("drop") for _ in range(times))

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def _next_failure(self) -> _Failure | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    # -- the app -----------------------------------------------------------------------------------
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/openai/v1/chat/completions", self._openai_chat, methods=["POST"]),
                Route("/openai/v1/responses", self._openai_responses, methods=["POST"]),
                Route("/openai/v1/embeddings", self._openai_embeddings, methods=["POST"]),
                Route("/openai/v1/completions", self._openai_completions, methods=["POST"]),
                Route(
                    "/azure/openai/deployments/{deployment}/chat/completions",
                    self._openai_chat,
                    methods=["POST"],
                ),
                Route(
                    "/azure/openai/deployments/{deployment}/embeddings",
                    self._openai_embeddings,
                    methods=["POST"],
                ),
                Route("/groq/openai/v1/chat/completions", self._groq_chat, methods=["POST"]),
                Route("/mistral/v1/chat/completions", self._mistral_chat, methods=["POST"]),
                Route("/mistral/v1/embeddings", self._openai_embeddings, methods=["POST"]),
                Route("/anthropic/v1/messages", self._anthropic_messages, methods=["POST"]),
                Route("/gemini/{rest:path}", self._gemini, methods=["POST"]),
                Route("/ollama/api/{kind}", self._ollama, methods=["POST"]),
                Route("/bedrock/model/{model_id:path}/converse", self._bedrock_converse, methods=["POST"]),
                Route(
                    "/bedrock/model/{model_id:path}/converse-stream",
                    self._bedrock_converse_stream,
                    methods=["POST"],
                ),
            ]
        )

    async def _receive(self, request: Request, provider: str) -> tuple[dict[str, Any], _Failure | None]:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {}
        self.requests.append(Received(provider, request.url.path, body, dict(request.headers)))
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        return body, self._next_failure()

    # OpenAI-shaped providers ----------------------------------------------------------------------
    async def _openai_chat(self, request: Request) -> Response:
        provider = "azure" if request.url.path.startswith("/azure") else "openai"
        body, failure = await self._receive(request, provider)
        model = body.get("model") or request.path_params.get("deployment", "")
        if failure is not None and failure.kind == "status":
            return _openai_error(failure.status)
        if body.get("stream"):
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            return _sse(
                _data_lines(formats.chat_completion_chunks(model, self.usage, include)), failure, done=True
            )
        return _json(formats.chat_completion(model, self.usage), failure)

    async def _openai_completions(self, request: Request) -> Response:
        body, failure = await self._receive(request, "openai")
        if failure is not None and failure.kind == "status":
            return _openai_error(failure.status)
        model = body.get("model", "")
        if body.get("stream"):
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            return _sse(
                _data_lines(formats.completion_chunks(model, self.usage, include)), failure, done=True
            )
        return _json(formats.completion(model, self.usage), failure)

    async def _openai_responses(self, request: Request) -> Response:
        body, failure = await self._receive(request, "openai")
        if failure is not None and failure.kind == "status":
            return _openai_error(failure.status)
        model = body.get("model", "")
        if body.get("stream"):
            return _sse(_named_events(formats.response_events(model, self.usage)), failure)
        return _json(formats.response_object(model, self.usage), failure)

    async def _openai_embeddings(self, request: Request) -> Response:
        provider = "mistral" if request.url.path.startswith("/mistral") else "openai"
        body, failure = await self._receive(request, provider)
        if failure is not None and failure.kind == "status":
            return _openai_error(failure.status)
        inputs = body.get("input") or body.get("inputs") or [""]
        count = len(inputs) if isinstance(inputs, list) else 1
        model = body.get("model") or request.path_params.get("deployment", "")
        encoding = body.get("encoding_format") or "float"
        return _json(formats.embeddings(model, count, self.usage, encoding), failure)

    async def _groq_chat(self, request: Request) -> Response:
        body, failure = await self._receive(request, "groq")
        if failure is not None and failure.kind == "status":
            return _openai_error(failure.status)
        model = body.get("model", "")
        if body.get("stream"):
            return _sse(_data_lines(formats.groq_chunks(model, self.usage)), failure, done=True)
        return _json(formats.chat_completion(model, self.usage), failure)

    async def _mistral_chat(self, request: Request) -> Response:
        body, failure = await self._receive(request, "mistral")
        if failure is not None and failure.kind == "status":
            return _openai_error(failure.status)
        model = body.get("model", "")
        if body.get("stream"):
            return _sse(_data_lines(formats.mistral_chunks(model, self.usage)), failure, done=True)
        return _json(formats.chat_completion(model, self.usage), failure)

    # Anthropic ------------------------------------------------------------------------------------
    async def _anthropic_messages(self, request: Request) -> Response:
        body, failure = await self._receive(request, "anthropic")
        if failure is not None and failure.kind == "status":
            kind = "rate_limit_error" if failure.status == 429 else "api_error"
            return JSONResponse(
                {"type": "error", "error": {"type": kind, "message": f"fake {failure.status}"}},
                failure.status,
                headers={"retry-after": "0"},
            )
        model = body.get("model", "")
        thinking = (body.get("thinking") or {}).get("type") == "enabled"
        if body.get("stream"):
            return _sse(_named_events(formats.anthropic_events(model, self.usage, thinking)), failure)
        return _json(formats.anthropic_message(model, self.usage, thinking), failure)

    # Gemini ---------------------------------------------------------------------------------------
    async def _gemini(self, request: Request) -> Response:
        body, failure = await self._receive(request, "gemini")
        rest = request.path_params["rest"]  # e.g. v1beta/models/gemini-2.5-flash:generateContent
        target, _, method = rest.rpartition(":")
        model = target.rpartition("/")[2]
        if failure is not None and failure.kind == "status":
            status = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}.get(failure.status, "UNKNOWN")
            return JSONResponse(
                {"error": {"code": failure.status, "message": f"fake {failure.status}", "status": status}},
                failure.status,
            )
        response_id = formats._id("")
        if method == "streamGenerateContent":
            pieces = formats.REPLY
            chunks = (
                formats.gemini_response(model, self.usage, piece, i == len(pieces) - 1, response_id)
                for i, piece in enumerate(pieces)
            )
            return _sse(_data_lines(chunks), failure)
        if method == "embedContent" or method == "batchEmbedContents":
            return _json({"embeddings": [{"values": [0.25, -0.5]}]}, failure)
        return _json(
            formats.gemini_response(model, self.usage, "".join(formats.REPLY), True, response_id), failure
        )

    # Ollama ---------------------------------------------------------------------------------------
    async def _ollama(self, request: Request) -> Response:
        body, failure = await self._receive(request, "ollama")
        kind = request.path_params["kind"]
        if failure is not None and failure.kind == "status":
            return JSONResponse({"error": f"fake {failure.status}"}, failure.status)
        model = body.get("model", "")
        if kind == "embed":
            inputs = body.get("input") or [""]
            count = len(inputs) if isinstance(inputs, list) else 1
            reply = {
                "model": model,
                "embeddings": [[0.25, -0.5]] * count,
                "prompt_eval_count": self.usage.input_tokens,
            }
            return _json(reply, failure)
        if body.get("stream", True):
            lines = [formats.ollama_chunk(model, kind, piece) for piece in formats.REPLY]
            lines.append(formats.ollama_final(model, self.usage, kind, ""))
            payload = (json.dumps(line).encode() + b"\n" for line in lines)
            return _stream(payload, failure, "application/x-ndjson")
        return _json(formats.ollama_final(model, self.usage, kind, "".join(formats.REPLY)), failure)

    # Bedrock --------------------------------------------------------------------------------------
    def _bedrock_error(self, failure: _Failure) -> Response:
        error = "ThrottlingException" if failure.status == 429 else "InternalServerException"
        return JSONResponse(
            {"message": f"fake {failure.status}"}, failure.status, headers={"x-amzn-ErrorType": error}
        )

    async def _bedrock_converse(self, request: Request) -> Response:
        _, failure = await self._receive(request, "bedrock")
        if failure is not None and failure.kind == "status":
            return self._bedrock_error(failure)
        return _json(formats.converse(self.usage), failure)

    async def _bedrock_converse_stream(self, request: Request) -> Response:
        _, failure = await self._receive(request, "bedrock")
        if failure is not None and failure.kind == "status":
            return self._bedrock_error(failure)
        frames = (event_message(name, payload) for name, payload in formats.converse_events(self.usage))
        return _stream(frames, failure, "application/vnd.amazon.eventstream")


# -- reply helpers -----------------------------------------------------------------------------------


def _openai_error(status: int) -> Response:
    kind = "rate_limit_exceeded" if status == 429 else "server_error"
    body = {"error": {"message": f"fake {status}", "type": kind, "param": None, "code": kind}}
    return JSONResponse(body, status, headers={"retry-after": "0"})


def _data_lines(chunks: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for chunk in chunks:
        yield b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _named_events(events: Iterator[tuple[str, dict[str, Any]]]) -> Iterator[bytes]:
    for name, data in events:
        yield f"event: {name}\n".encode() + b"data: " + json.dumps(data).encode() + b"\n\n"


def _sse(frames: Iterator[bytes], failure: _Failure | None, done: bool = False) -> Response:
    def with_done() -> Iterator[bytes]:
        yield from frames
        if done:  # OpenAI-shaped streams end with a [DONE] sentinel
            yield b"data: [DONE]\n\n"

    return _stream(with_done(), failure, "text/event-stream")


def _stream(frames: Iterator[bytes], failure: _Failure | None, media_type: str) -> Response:
    async def body() -> AsyncIterator[bytes]:
        for index, frame in enumerate(frames):
            if failure is not None and index == 2:
                raise _Dropped("the fake provider drops this connection")
            yield frame

    return StreamingResponse(body(), media_type=media_type)


def _json(payload: dict[str, Any], failure: _Failure | None) -> Response:
    data = json.dumps(payload).encode()
    if failure is None:
        return Response(data, media_type="application/json")

    async def half() -> AsyncIterator[bytes]:
        yield data[: len(data) // 2]
        raise _Dropped("the fake provider drops this connection")

    # The declared length promises more than is sent: clients see the connection cut.
    return StreamingResponse(
        half(), media_type="application/json", headers={"content-length": str(len(data))}
    )
