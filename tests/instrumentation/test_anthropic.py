"""The anthropic SDK, instrumented, against the fake provider."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from opentelemetry.trace import StatusCode
from spendgate.instrumentation.anthropic import AnthropicInstrumentor
from spendgate.instrumentation.fake_provider import FakeProvider, Usage

from .conftest import CapturedSpans, instrumented

MODEL = "claude-sonnet-4-6"
MESSAGES = [{"role": "user", "content": "Say hello."}]
# Semantic-convention input counts the cache: 1000 uncached + 150 read + 250 written.
USAGE = Usage(input_tokens=1400, output_tokens=90, cache_read_tokens=150, cache_write_tokens=250,
              cache_write_1h_tokens=100)  # fmt: skip


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(usage=USAGE) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def instrumentation(captured: CapturedSpans) -> Iterator[Any]:
    yield from instrumented(AnthropicInstrumentor, captured)


@pytest.fixture
def client(fake: FakeProvider) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url("anthropic"), api_key="test", max_retries=0)


def _assert_usage(attrs: dict[str, Any]) -> None:
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.usage.input_tokens"] == 1400
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 150
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 250
    assert attrs["gen_ai.usage.output_tokens"] == 90
    assert attrs["spendgate.usage.cache_creation.ephemeral_1h.input_tokens"] == 100
    assert attrs["spendgate.usage.cache_creation.ephemeral_5m.input_tokens"] == 150


def _without_ids(message: Any) -> dict[str, Any]:
    dumped = message.model_dump()
    dumped.pop("id", None)
    return dumped


def test_create_matches_the_plain_call_and_records_cache_inclusive_usage(
    client: anthropic.Anthropic, spans: CapturedSpans
) -> None:
    message = client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    AnthropicInstrumentor().uninstrument()
    try:
        plain = client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    finally:
        AnthropicInstrumentor().instrument(tracer_provider=spans.provider)
    assert type(message) is type(plain) and _without_ids(message) == _without_ids(plain)
    span = spans.one()
    assert span.name == f"chat {MODEL}"
    attrs = dict(span.attributes or {})
    _assert_usage(attrs)
    assert attrs["gen_ai.response.id"] == message.id
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)


def test_create_stream_with_thinking(client: anthropic.Anthropic, spans: CapturedSpans) -> None:
    events = list(
        client.messages.create(
            model=MODEL,
            max_tokens=2000,
            messages=MESSAGES,
            stream=True,
            thinking={"type": "enabled", "budget_tokens": 1024},
        )  # fmt: skip
    )
    assert [e.type for e in events][0] == "message_start" and events[-1].type == "message_stop"
    assert any(
        getattr(e.delta, "type", "") == "thinking_delta" for e in events if e.type == "content_block_delta"
    )
    attrs = spans.attrs()
    _assert_usage(attrs)
    assert attrs["gen_ai.request.stream"] is True


def test_stream_helper_text_stream_and_final_message(
    client: anthropic.Anthropic, spans: CapturedSpans
) -> None:
    with client.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from the fake provider."
    assert final.usage.output_tokens == 90
    _assert_usage(spans.attrs())


def test_stream_helper_left_early_still_records_what_arrived(
    client: anthropic.Anthropic, spans: CapturedSpans
) -> None:
    with client.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
        for event in stream:
            if event.type == "content_block_delta":
                break
    attrs = spans.attrs()
    # message_start carried input and cache counts; output so far is the start's placeholder.
    assert attrs["gen_ai.usage.input_tokens"] == 1400
    assert attrs["gen_ai.usage.output_tokens"] == 1


@pytest.mark.parametrize(
    "status, error", [(429, anthropic.RateLimitError), (500, anthropic.InternalServerError)]
)
def test_errors_pass_through_and_mark_the_span(
    client: anthropic.Anthropic, fake: FakeProvider, spans: CapturedSpans, status: int, error: type[Exception]
) -> None:
    fake.fail_next(status)
    with pytest.raises(error):
        client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    fake.fail_next(status)
    with pytest.raises(error), client.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES):
        pass
    recorded = spans.get()
    assert len(recorded) == 2
    for span in recorded:
        assert span.status.status_code == StatusCode.ERROR
        assert (span.attributes or {})["error.type"] == error.__qualname__


def test_dropped_stream_raises_what_the_sdk_raises(
    client: anthropic.Anthropic, fake: FakeProvider, spans: CapturedSpans
) -> None:
    def dropped() -> type[BaseException]:
        fake.drop_next()
        try:
            list(client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES, stream=True))
        except Exception as exc:
            return type(exc)
        raise AssertionError("the dropped stream did not fail")

    instrumented_error = dropped()
    AnthropicInstrumentor().uninstrument()
    try:
        plain_error = dropped()
    finally:
        AnthropicInstrumentor().instrument(tracer_provider=spans.provider)
    assert instrumented_error is plain_error  # the SDK raises its transport's error mid-stream
    assert spans.attrs()["error.type"] == plain_error.__qualname__


def test_async_create_stream_and_helper(fake: FakeProvider, spans: CapturedSpans) -> None:
    client = anthropic.AsyncAnthropic(base_url=fake.url("anthropic"), api_key="test", max_retries=0)

    async def run() -> str:
        await client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        stream = await client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES, stream=True)
        assert isinstance(stream, anthropic.AsyncStream)
        async for _ in stream:
            pass
        async with client.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as helper:
            return "".join([text async for text in helper.text_stream])

    assert asyncio.run(run()) == "Hello from the fake provider."
    recorded = spans.get()
    assert len(recorded) == 3
    for span in recorded:
        _assert_usage(dict(span.attributes or {}))
