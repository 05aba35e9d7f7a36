"""The google-genai SDK, instrumented, against the fake provider."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from google import genai
from google.genai import errors, types
from opentelemetry.trace import StatusCode
from spendgate.instrumentation.fake_provider import FakeProvider, Usage
from spendgate.instrumentation.google_genai import GoogleGenAIInstrumentor

from .conftest import CapturedSpans, instrumented

MODEL = "gemini-2.5-flash"
# Semantic-convention output counts thinking: 60 visible + 40 thoughts.
USAGE = Usage(input_tokens=900, output_tokens=100, cache_read_tokens=300, reasoning_tokens=40)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(usage=USAGE) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def instrumentation(captured: CapturedSpans) -> Iterator[Any]:
    yield from instrumented(GoogleGenAIInstrumentor, captured)


@pytest.fixture
def client(fake: FakeProvider) -> genai.Client:
    options = types.HttpOptions(base_url=fake.url("gemini"), retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key="test", http_options=options)


def _assert_usage(attrs: dict[str, Any]) -> None:
    assert attrs["gen_ai.provider.name"] == "gcp.gemini"
    assert attrs["gen_ai.operation.name"] == "generate_content"
    assert attrs["gen_ai.request.model"] == MODEL
    assert attrs["gen_ai.usage.input_tokens"] == 900
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 300
    assert attrs["gen_ai.usage.output_tokens"] == 100
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 40


def test_generate_content_matches_plain_call(client: genai.Client, spans: CapturedSpans) -> None:
    result = client.models.generate_content(model=MODEL, contents="hi")
    GoogleGenAIInstrumentor().uninstrument()
    try:
        plain = client.models.generate_content(model=MODEL, contents="hi")
    finally:
        GoogleGenAIInstrumentor().instrument(tracer_provider=spans.provider)
    assert type(result) is type(plain)
    assert result.text == plain.text == "Hello from the fake provider."
    assert result.usage_metadata == plain.usage_metadata
    span = spans.one()
    assert span.name == f"generate_content {MODEL}"
    attrs = dict(span.attributes or {})
    _assert_usage(attrs)
    assert attrs["gen_ai.response.finish_reasons"] == ("STOP",)
    assert attrs["gen_ai.response.id"] == result.response_id


def test_generate_content_stream_and_early_break(client: genai.Client, spans: CapturedSpans) -> None:
    text = "".join(
        chunk.text or "" for chunk in client.models.generate_content_stream(model=MODEL, contents="hi")
    )
    assert text == "Hello from the fake provider."
    _assert_usage(spans.attrs())
    spans.clear()
    for _ in client.models.generate_content_stream(model=MODEL, contents="hi"):
        break
    import gc

    gc.collect()  # the abandoned generator is closed when collected
    recorded = spans.get()
    assert len(recorded) == 1 and recorded[0].status.status_code != StatusCode.ERROR


@pytest.mark.parametrize("status, error", [(429, errors.ClientError), (500, errors.ServerError)])
def test_errors_pass_through(
    client: genai.Client, fake: FakeProvider, spans: CapturedSpans, status: int, error: type[Exception]
) -> None:
    fake.fail_next(status)
    with pytest.raises(error):
        client.models.generate_content(model=MODEL, contents="hi")
    span = spans.one()
    assert span.status.status_code == StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == error.__qualname__


def test_async_generate_and_stream(client: genai.Client, spans: CapturedSpans) -> None:
    async def run() -> str:
        await client.aio.models.generate_content(model=MODEL, contents="hi")
        stream = await client.aio.models.generate_content_stream(model=MODEL, contents="hi")
        return "".join([chunk.text or "" async for chunk in stream])

    assert asyncio.run(run()) == "Hello from the fake provider."
    recorded = spans.get()
    assert len(recorded) == 2
    for span in recorded:
        _assert_usage(dict(span.attributes or {}))
