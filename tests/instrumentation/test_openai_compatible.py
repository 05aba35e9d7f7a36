"""mistralai, groq and ollama, instrumented, against the fake provider."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import groq
import ollama
import pytest
from mistralai.client import Mistral
from opentelemetry.trace import StatusCode
from spendgate.instrumentation.fake_provider import FakeProvider, Usage
from spendgate.instrumentation.groq import GroqInstrumentor
from spendgate.instrumentation.mistralai import MistralInstrumentor
from spendgate.instrumentation.ollama import OllamaInstrumentor

from .conftest import CapturedSpans

MESSAGES = [{"role": "user", "content": "hi"}]
USAGE = Usage(input_tokens=700, output_tokens=50, cache_read_tokens=100)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(usage=USAGE) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def instrumentation(captured: CapturedSpans) -> Iterator[None]:
    instrumentors = [MistralInstrumentor(), GroqInstrumentor(), OllamaInstrumentor()]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=captured.provider)
    yield
    for instrumentor in instrumentors:
        instrumentor.uninstrument()


def _usage_of(span: Any) -> tuple[Any, ...]:
    attrs = dict(span.attributes or {})
    return (
        attrs["gen_ai.provider.name"],
        attrs.get("gen_ai.usage.input_tokens"),
        attrs.get("gen_ai.usage.output_tokens"),
    )


# --- mistral ------------------------------------------------------------------------------------------


def test_mistral_complete_stream_embeddings_sync_and_async(fake: FakeProvider, spans: CapturedSpans) -> None:
    client = Mistral(api_key="test", server_url=fake.url("mistral"))
    result = client.chat.complete(model="mistral-large-latest", messages=MESSAGES)
    assert result.choices[0].message.content == "Hello from the fake provider."
    with client.chat.stream(model="mistral-large-latest", messages=MESSAGES) as stream:
        text = "".join(event.data.choices[0].delta.content or "" for event in stream if event.data.choices)
    assert text == "Hello from the fake provider."
    client.embeddings.create(model="mistral-embed", inputs=["a"])

    async def run() -> None:
        await client.chat.complete_async(model="mistral-small-latest", messages=MESSAGES)
        stream = await client.chat.stream_async(model="mistral-small-latest", messages=MESSAGES)
        async for _ in stream:
            pass

    asyncio.run(run())
    recorded = spans.get()
    assert [s.name for s in recorded] == [
        "chat mistral-large-latest", "chat mistral-large-latest", "embeddings mistral-embed",
        "chat mistral-small-latest", "chat mistral-small-latest",
    ]  # fmt: skip
    assert [_usage_of(s) for s in recorded] == [
        ("mistral_ai", 700, 50), ("mistral_ai", 700, 50), ("mistral_ai", 700, 0),
        ("mistral_ai", 700, 50), ("mistral_ai", 700, 50),
    ]  # fmt: skip
    assert dict(recorded[0].attributes or {})["gen_ai.usage.cache_read.input_tokens"] == 100


def test_mistral_error(fake: FakeProvider, spans: CapturedSpans) -> None:
    client = Mistral(api_key="test", server_url=fake.url("mistral"))
    fake.fail_next(500)
    with pytest.raises(Exception) as raised:
        client.chat.complete(model="mistral-large-latest", messages=MESSAGES)
    span = spans.one()
    assert span.status.status_code == StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == type(raised.value).__qualname__


# --- groq ---------------------------------------------------------------------------------------------


def test_groq_create_and_stream_usage_from_x_groq(fake: FakeProvider, spans: CapturedSpans) -> None:
    client = groq.Groq(api_key="test", base_url=fake.url("groq"), max_retries=0)
    result = client.chat.completions.create(model="llama-3.3-70b-versatile", messages=MESSAGES)
    chunks = list(
        client.chat.completions.create(model="llama-3.3-70b-versatile", messages=MESSAGES, stream=True)
    )
    assert result.choices[0].message.content == "Hello from the fake provider."
    assert chunks[-1].x_groq is not None  # the caller still sees groq's own usage chunk
    assert [_usage_of(s) for s in spans.get()] == [("groq", 700, 50), ("groq", 700, 50)]


def test_groq_async_and_rate_limit(fake: FakeProvider, spans: CapturedSpans) -> None:
    client = groq.AsyncGroq(api_key="test", base_url=fake.url("groq"), max_retries=0)
    fake.fail_next(429)

    async def run() -> None:
        with pytest.raises(groq.RateLimitError):
            await client.chat.completions.create(model="llama-3.1-8b-instant", messages=MESSAGES)
        await client.chat.completions.create(model="llama-3.1-8b-instant", messages=MESSAGES)

    asyncio.run(run())
    failed, ok = spans.get()
    assert (failed.attributes or {})["error.type"] == "RateLimitError"
    assert _usage_of(ok) == ("groq", 700, 50)


# --- ollama -------------------------------------------------------------------------------------------


def test_ollama_chat_generate_embed_and_module_functions(fake: FakeProvider, spans: CapturedSpans) -> None:
    client = ollama.Client(host=fake.url("ollama"))
    reply = client.chat(model="llama3.2", messages=MESSAGES)
    assert reply.message.content == "Hello from the fake provider."
    streamed = "".join(
        part.message.content for part in client.chat("llama3.2", messages=MESSAGES, stream=True)
    )
    assert streamed == "Hello from the fake provider."
    client.generate(model="llama3.2", prompt="hi")
    client.embed(model="nomic-embed-text", input=["a", "b"])
    recorded = spans.get()
    assert [s.name for s in recorded] == [
        "chat llama3.2", "chat llama3.2", "text_completion llama3.2", "embeddings nomic-embed-text",
    ]  # fmt: skip
    assert [_usage_of(s) for s in recorded] == [
        ("ollama", 700, 50), ("ollama", 700, 50), ("ollama", 700, 50), ("ollama", 700, 0),
    ]  # fmt: skip
    # The module-level ollama.chat() goes through the patched default client.
    assert getattr(ollama.chat, "__func__", None) is getattr(
        ollama.Client.chat, "__func__", ollama.Client.chat
    ) or (type(ollama.Client.__dict__["chat"]).__name__ == "FunctionWrapper")


def test_ollama_async_stream_and_error(fake: FakeProvider, spans: CapturedSpans) -> None:
    client = ollama.AsyncClient(host=fake.url("ollama"))

    async def run() -> str:
        parts = await client.chat(model="qwen3", messages=MESSAGES, stream=True)
        text = "".join([part.message.content async for part in parts])
        fake.fail_next(500)
        with pytest.raises(ollama.ResponseError):
            await client.chat(model="qwen3", messages=MESSAGES)
        return text

    assert asyncio.run(run()) == "Hello from the fake provider."
    ok, failed = spans.get()
    assert _usage_of(ok) == ("ollama", 700, 50)
    assert (failed.attributes or {})["error.type"] == "ResponseError"
