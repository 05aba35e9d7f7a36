"""The openai SDK, instrumented, against the fake provider: every surface, sync and async, stream and not."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import wrapt
from opentelemetry.trace import StatusCode
from spendgate.instrumentation import scope
from spendgate.instrumentation.fake_provider import FakeProvider, Usage
from spendgate.instrumentation.instrumentor import SpendgateInstrumentor, Target
from spendgate.instrumentation.openai import OpenAIInstrumentor
from spendgate.instrumentation.openai import patch as openai_patch

from .conftest import CapturedSpans, instrumented

MESSAGES = [{"role": "user", "content": "Say hello to the fake provider."}]
VOLATILE = {"id", "created", "created_at", "item_id"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(usage=Usage(input_tokens=1200, output_tokens=80, cache_read_tokens=200,
                                  reasoning_tokens=30)) as server:  # fmt: skip
        yield server


@pytest.fixture(scope="module", autouse=True)
def instrumentation(captured: CapturedSpans) -> Iterator[Any]:
    yield from instrumented(OpenAIInstrumentor, captured)


@pytest.fixture
def client(fake: FakeProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.url("openai"), api_key="test", max_retries=0)


@pytest.fixture
def aclient(fake: FakeProvider) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fake.url("openai"), api_key="test", max_retries=0)


def _plain(value: Any) -> Any:
    """A response without its random ids, to compare instrumented and plain calls."""
    if isinstance(value, list):
        return [_plain(item) for item in value]
    dumped = value.model_dump() if hasattr(value, "model_dump") else value
    return _strip(dumped)


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in VOLATILE}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _both_ways(call: Any) -> tuple[Any, Any]:
    """The call's result instrumented, then with the instrumentation switched off."""
    instrumented_result = call()
    OpenAIInstrumentor().uninstrument()
    try:
        plain_result = call()
    finally:
        OpenAIInstrumentor().instrument(tracer_provider=_provider[0])
    return instrumented_result, plain_result


_provider: list[Any] = []


@pytest.fixture(autouse=True)
def _remember_provider(captured: CapturedSpans) -> None:
    _provider[:] = [captured.provider]


def test_chat_completion_span_and_unchanged_result(client: openai.OpenAI, spans: CapturedSpans) -> None:
    def call() -> Any:
        with scope(project="checkout", agent="planner", ticket="PAY-7"):
            return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    result, plain = _both_ways(call)
    assert type(result) is type(plain) and _plain(result) == _plain(plain)
    span = spans.one()
    assert span.name == "chat gpt-4o-mini"
    assert span.kind.name == "CLIENT"
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.id"] == result.id
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.input_tokens"] == 1200
    assert attrs["gen_ai.usage.output_tokens"] == 80
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 200
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 30
    assert attrs["spendgate.project"] == "checkout"
    assert attrs["spendgate.agent"] == "planner"
    assert attrs["spendgate.ticket"] == "PAY-7"
    assert attrs["server.address"] == "127.0.0.1"
    assert not any("content" in key or "prompt" in key for key in attrs)  # no message content recorded


def test_streamed_chat_gets_usage_without_the_caller_seeing_the_extra_chunk(
    client: openai.OpenAI, fake: FakeProvider, spans: CapturedSpans
) -> None:
    def call() -> Any:
        return list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))

    chunks, plain_chunks = _both_ways(call)
    assert _plain(chunks) == _plain(plain_chunks)  # same chunks, the usage-only one hidden
    assert all(chunk.usage is None for chunk in chunks)
    assert fake.requests[-2].body["stream_options"] == {"include_usage": True}  # asked for usage
    assert "stream_options" not in fake.requests[-1].body  # the plain call was not changed
    attrs = spans.attrs()
    assert attrs["gen_ai.usage.input_tokens"] == 1200
    assert attrs["gen_ai.usage.output_tokens"] == 80
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    assert "spendgate.usage.estimated" not in attrs


def test_caller_asking_for_usage_still_gets_the_usage_chunk(
    client: openai.OpenAI, spans: CapturedSpans
) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    assert spans.attrs()["gen_ai.usage.output_tokens"] == 80


def test_stream_without_usage_is_estimated_and_marked(client: openai.OpenAI, spans: CapturedSpans) -> None:
    text = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": False}
        )
        if chunk.choices
    )
    assert text == "Hello from the fake provider."
    attrs = spans.attrs()
    assert attrs["spendgate.usage.estimated"] is True
    assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0


def test_stream_abandoned_early_still_ends_its_span(client: openai.OpenAI, spans: CapturedSpans) -> None:
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    with stream:
        for _ in stream:
            break
    span = spans.one()
    assert span.end_time is not None and span.end_time >= span.start_time
    assert span.status.status_code != StatusCode.ERROR


def test_stream_used_as_context_manager_and_closed(client: openai.OpenAI, spans: CapturedSpans) -> None:
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.Stream)  # the proxy passes isinstance checks
    stream.close()
    assert len(spans.get()) == 1


@pytest.mark.parametrize("status, error", [(429, openai.RateLimitError), (500, openai.InternalServerError)])
def test_errors_pass_through_unchanged_and_mark_the_span(
    client: openai.OpenAI, fake: FakeProvider, spans: CapturedSpans, status: int, error: type[Exception]
) -> None:
    fake.fail_next(status)
    with pytest.raises(error) as raised:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    OpenAIInstrumentor().uninstrument()
    try:
        fake.fail_next(status)
        with pytest.raises(error) as plain:
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        OpenAIInstrumentor().instrument(tracer_provider=_provider[0])
    assert str(raised.value) == str(plain.value)
    span = spans.one()
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == error.__qualname__


def test_dropped_connection_mid_stream(
    client: openai.OpenAI, fake: FakeProvider, spans: CapturedSpans
) -> None:
    fake.drop_next()
    with pytest.raises(openai.APIConnectionError):
        list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    attrs = spans.attrs()
    assert attrs["error.type"] == "APIConnectionError"


def test_responses_embeddings_and_completions(client: openai.OpenAI, spans: CapturedSpans) -> None:
    response = client.responses.create(model="gpt-4.1", input="hi")
    events = list(client.responses.create(model="gpt-4.1", input="hi", stream=True))
    embedding = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="hi")
    streamed = list(client.completions.create(model="gpt-3.5-turbo-instruct", prompt="hi", stream=True))
    assert response.output_text == "Hello from the fake provider."
    assert events[-1].type == "response.completed"
    assert len(embedding.data) == 2
    assert completion.choices[0].text == "Hello from the fake provider."
    assert all(chunk.usage is None for chunk in streamed)
    by_name = [(s.name, dict(s.attributes or {})) for s in spans.get()]
    assert [name for name, _ in by_name] == [
        "chat gpt-4.1",
        "chat gpt-4.1",
        "embeddings text-embedding-3-small",
        "text_completion gpt-3.5-turbo-instruct",
        "text_completion gpt-3.5-turbo-instruct",
    ]
    for name, attrs in by_name:
        assert attrs["gen_ai.usage.input_tokens"] == 1200, name
    assert by_name[0][1]["gen_ai.usage.reasoning.output_tokens"] == 30
    assert by_name[1][1]["gen_ai.usage.output_tokens"] == 80
    assert by_name[2][1]["gen_ai.usage.output_tokens"] == 0
    assert by_name[4][1]["gen_ai.usage.output_tokens"] == 80


def test_raw_response_calls_are_metered(client: openai.OpenAI, spans: CapturedSpans) -> None:
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert raw.parse().choices[0].message.content == "Hello from the fake provider."
    assert spans.attrs()["gen_ai.usage.input_tokens"] == 1200


def test_async_chat_and_stream(aclient: openai.AsyncOpenAI, spans: CapturedSpans) -> None:
    async def run() -> tuple[Any, list[Any]]:
        with scope(run="r-9"):
            result = await aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            stream = await aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
            assert isinstance(stream, openai.AsyncStream)
            chunks = [chunk async for chunk in stream]
            early = await aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
            async with early:
                async for _ in early:
                    break
        return result, chunks

    result, chunks = asyncio.run(run())
    assert result.choices[0].message.content == "Hello from the fake provider."
    assert all(chunk.usage is None for chunk in chunks)
    recorded = spans.get()
    assert len(recorded) == 3
    for span in recorded[:2]:
        attrs = dict(span.attributes or {})
        assert attrs["gen_ai.usage.input_tokens"] == 1200
        assert attrs["spendgate.run"] == "r-9"


def test_async_error(aclient: openai.AsyncOpenAI, fake: FakeProvider, spans: CapturedSpans) -> None:
    fake.fail_next(429)

    async def run() -> None:
        await aclient.responses.create(model="gpt-4.1", input="hi")

    with pytest.raises(openai.RateLimitError):
        asyncio.run(run())
    assert spans.attrs()["error.type"] == "RateLimitError"


def test_azure_client_is_named_azure(fake: FakeProvider, spans: CapturedSpans) -> None:
    azure = openai.AzureOpenAI(
        azure_endpoint=fake.url("azure"), api_key="test", api_version="2024-10-21", max_retries=0
    )
    result = azure.chat.completions.create(model="prod-gpt4o", messages=MESSAGES)
    assert result.choices[0].message.content == "Hello from the fake provider."
    attrs = spans.attrs()
    assert attrs["gen_ai.provider.name"] == "azure.ai.openai"
    assert attrs["gen_ai.request.model"] == "prod-gpt4o"


def wrapper_sdk_completion(client: openai.OpenAI, model: str) -> Any:
    """Stands for a library (litellm and the like) that calls the openai SDK itself."""
    return client.chat.completions.create(model=model, messages=MESSAGES)


def test_a_wrapper_over_an_instrumented_sdk_gives_one_span(
    client: openai.OpenAI, spans: CapturedSpans
) -> None:
    class WrapperInstrumentor(SpendgateInstrumentor):
        package = "openai >= 1.0"
        targets = (Target(__name__, "wrapper_sdk_completion", openai_patch.CHAT_PARSE),)

    outer = WrapperInstrumentor()
    outer.instrument(tracer_provider=spans.provider)
    try:
        result = globals()["wrapper_sdk_completion"](client, model="gpt-4o")
    finally:
        outer.uninstrument()
    assert result.choices[0].message.content == "Hello from the fake provider."
    assert spans.attrs()["gen_ai.usage.input_tokens"] == 1200  # one span, priced once


def test_uninstrument_restores_every_method() -> None:
    from openai.resources.chat.completions.completions import AsyncCompletions, Completions
    from openai.resources.embeddings import Embeddings
    from openai.resources.responses.responses import Responses

    def owners() -> list[Any]:
        return [Completions.__dict__["create"], AsyncCompletions.__dict__["create"],
                Embeddings.__dict__["create"], Responses.__dict__["create"]]  # fmt: skip

    assert all(isinstance(method, wrapt.FunctionWrapper) for method in owners())
    OpenAIInstrumentor().uninstrument()
    try:
        assert not any(isinstance(method, wrapt.FunctionWrapper) for method in owners())
    finally:
        OpenAIInstrumentor().instrument(tracer_provider=_provider[0])


def test_suppressed_instrumentation_records_nothing(client: openai.OpenAI, spans: CapturedSpans) -> None:
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert spans.get() == []


def test_chat_stream_helper_is_metered_once(client: openai.OpenAI, spans: CapturedSpans) -> None:
    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
        text = "".join(event.delta for event in stream if event.type == "content.delta")
        final = stream.get_final_completion()
    assert text == "Hello from the fake provider."
    assert final.usage is None  # as without spendgate: the caller did not ask for usage
    attrs = spans.attrs()
    assert attrs["gen_ai.usage.input_tokens"] == 1200 and attrs["gen_ai.usage.output_tokens"] == 80
