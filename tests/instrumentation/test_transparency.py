"""Every instrumented surface returns what the plain call returns and raises what it raises."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import boto3
import botocore.config
import groq
import ollama
import openai
import pytest
from google import genai
from google.genai import types
from mistralai.client import Mistral
from spendgate.instrumentation.anthropic import AnthropicInstrumentor
from spendgate.instrumentation.bedrock import BedrockInstrumentor
from spendgate.instrumentation.fake_provider import FakeProvider
from spendgate.instrumentation.google_genai import GoogleGenAIInstrumentor
from spendgate.instrumentation.groq import GroqInstrumentor
from spendgate.instrumentation.mistralai import MistralInstrumentor
from spendgate.instrumentation.ollama import OllamaInstrumentor
from spendgate.instrumentation.openai import OpenAIInstrumentor

from .conftest import CapturedSpans

INSTRUMENTORS = [
    OpenAIInstrumentor, AnthropicInstrumentor, GoogleGenAIInstrumentor, MistralInstrumentor, GroqInstrumentor,
    OllamaInstrumentor, BedrockInstrumentor,
]  # fmt: skip
# Fields that differ between any two calls (ids, clocks), not between instrumented and plain ones.
VOLATILE = {"id", "created", "created_at", "response_id", "ResponseMetadata", "item_id"}
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as server:
        yield server


def _plain_data(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    if isinstance(value, dict):
        return {k: _plain_data(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list | tuple):
        return [_plain_data(v) for v in value]
    return value


def _surfaces(fake: FakeProvider) -> dict[str, Callable[[], Any]]:
    oa = openai.OpenAI(base_url=fake.url("openai"), api_key="t", max_retries=0)
    an = anthropic.Anthropic(base_url=fake.url("anthropic"), api_key="t", max_retries=0)
    options = types.HttpOptions(base_url=fake.url("gemini"), retry_options=types.HttpRetryOptions(attempts=1))
    ge = genai.Client(api_key="t", http_options=options)
    mi = Mistral(api_key="t", server_url=fake.url("mistral"))
    gq = groq.Groq(api_key="t", base_url=fake.url("groq"), max_retries=0)
    ol = ollama.Client(host=fake.url("ollama"))
    br = boto3.client(
        "bedrock-runtime", endpoint_url=fake.url("bedrock"), region_name="us-east-1",
        aws_access_key_id="t", aws_secret_access_key="t",
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip

    # Async clients are made inside each event loop: their connections belong to the loop.
    def aoa() -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=fake.url("openai"), api_key="t", max_retries=0)

    async def async_openai_chat() -> Any:
        return await aoa().chat.completions.create(model="gpt-4o", messages=MESSAGES)

    async def async_openai_stream() -> list[Any]:
        return [
            c
            async for c in await aoa().chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        ]

    async def async_anthropic_stream() -> list[Any]:
        aan = anthropic.AsyncAnthropic(base_url=fake.url("anthropic"), api_key="t", max_retries=0)
        stream = await aan.messages.create(
            model="claude-haiku-4-5", max_tokens=9, messages=MESSAGES, stream=True
        )
        return [event async for event in stream]

    def anthropic_helper() -> Any:
        with an.messages.stream(model="claude-haiku-4-5", max_tokens=9, messages=MESSAGES) as stream:
            return ["".join(stream.text_stream), stream.get_final_message()]

    return {
        "openai chat": lambda: oa.chat.completions.create(model="gpt-4o", messages=MESSAGES),
        "openai chat stream": lambda: list(
            oa.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        ),
        "openai responses": lambda: oa.responses.create(model="gpt-4.1", input="hi"),
        "openai responses stream": lambda: list(
            oa.responses.create(model="gpt-4.1", input="hi", stream=True)
        ),
        "openai embeddings": lambda: oa.embeddings.create(model="text-embedding-3-small", input=["a"]),
        "openai completions": lambda: oa.completions.create(model="gpt-3.5-turbo-instruct", prompt="hi"),
        "openai completions stream": lambda: list(
            oa.completions.create(model="gpt-3.5-turbo-instruct", prompt="hi", stream=True)
        ),
        "openai async chat": lambda: asyncio.run(async_openai_chat()),
        "openai async chat stream": lambda: asyncio.run(async_openai_stream()),
        "anthropic create": lambda: an.messages.create(
            model="claude-haiku-4-5", max_tokens=9, messages=MESSAGES
        ),
        "anthropic create stream": lambda: list(
            an.messages.create(model="claude-haiku-4-5", max_tokens=9, messages=MESSAGES, stream=True)
        ),
        "anthropic stream helper": anthropic_helper,
        "anthropic async stream": lambda: asyncio.run(async_anthropic_stream()),
        "gemini generate": lambda: ge.models.generate_content(model="gemini-2.5-flash", contents="hi"),
        "gemini generate stream": lambda: list(
            ge.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")
        ),
        "mistral complete": lambda: mi.chat.complete(model="mistral-small-latest", messages=MESSAGES),
        "mistral stream": lambda: list(mi.chat.stream(model="mistral-small-latest", messages=MESSAGES)),
        "mistral embeddings": lambda: mi.embeddings.create(model="mistral-embed", inputs=["a"]),
        "groq chat": lambda: gq.chat.completions.create(model="llama-3.1-8b-instant", messages=MESSAGES),
        "groq chat stream": lambda: list(
            gq.chat.completions.create(model="llama-3.1-8b-instant", messages=MESSAGES, stream=True)
        ),
        "ollama chat": lambda: ol.chat(model="llama3.2", messages=MESSAGES),
        "ollama chat stream": lambda: list(ol.chat(model="llama3.2", messages=MESSAGES, stream=True)),
        "ollama generate": lambda: ol.generate(model="llama3.2", prompt="hi"),
        "ollama embed": lambda: ol.embed(model="nomic-embed-text", input=["a"]),
        "bedrock converse": lambda: br.converse(
            modelId="amazon.nova-lite-v1:0", messages=[{"role": "user", "content": [{"text": "hi"}]}]
        ),
        "bedrock converse stream": lambda: list(
            br.converse_stream(
                modelId="amazon.nova-lite-v1:0", messages=[{"role": "user", "content": [{"text": "hi"}]}]
            )["stream"]
        ),
    }


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "returned", (type(call()).__name__, _plain_data(call()))
    except Exception as exc:
        return "raised", (type(exc), str(exc))


def _instrumented_and_plain(
    captured: CapturedSpans, call: Callable[[], Any], before: Callable[[], None] = lambda: None
) -> tuple[Any, Any, int]:
    instrumentors = [cls() for cls in INSTRUMENTORS]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=captured.provider)
    try:
        captured.clear()
        before()
        instrumented = _outcome(call)
        spans = len(captured.get())
    finally:
        for instrumentor in instrumentors:
            instrumentor.uninstrument()
    before()
    plain = _outcome(call)
    return instrumented, plain, spans


@pytest.mark.parametrize("surface", sorted(_surfaces(FakeProvider()).keys()))
def test_results_are_the_plain_calls_results(
    surface: str, fake: FakeProvider, captured: CapturedSpans
) -> None:
    call = _surfaces(fake)[surface]
    instrumented, plain, spans = _instrumented_and_plain(captured, call)
    assert instrumented == plain
    assert instrumented[0] == "returned"
    assert spans == 2  # _outcome calls twice: one span per call


@pytest.mark.parametrize(
    "surface",
    [
        "openai chat",
        "anthropic create",
        "gemini generate",
        "mistral complete",
        "groq chat",
        "ollama chat",
        "bedrock converse",
        "openai chat stream",
    ],
)
def test_errors_are_the_plain_calls_errors(surface: str, fake: FakeProvider, captured: CapturedSpans) -> None:
    call = _surfaces(fake)[surface]
    instrumented, plain, _ = _instrumented_and_plain(captured, call, before=lambda: fake.fail_next(429))
    assert instrumented == plain
    assert instrumented[0] == "raised"
