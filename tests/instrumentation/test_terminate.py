"""Terminate run: a stream is stopped mid-way when its run crosses a hard per-run limit.

Real openai and anthropic SDKs stream a long, slow reply over HTTP from a local
fake provider; the guard is subscribed to a real collector holding the budgets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import boto3
import botocore.config
import httpx
import openai
import pytest
from google import genai
from google.genai import types
from spendgate.instrumentation.anthropic import AnthropicInstrumentor
from spendgate.instrumentation.bedrock import BedrockInstrumentor
from spendgate.instrumentation.configure import enforce_budgets, stop_enforcing
from spendgate.instrumentation.fake_provider import FakeProvider
from spendgate.instrumentation.google_genai import GoogleGenAIInstrumentor
from spendgate.instrumentation.openai import OpenAIInstrumentor

from spendgate import BudgetExceeded, scope

from ..conftest import RunningCollector, collector_running, wait_until
from .conftest import CapturedSpans, instrumented
from .slow_provider import SlowProvider, Streamed

CONFIG = """
extensions:
  budgets:
    evaluate_every: 1h
    defaults: []
"""
TOKENS_PER_RUN = 60  # the prompt (about 12 tokens) and some 48 words of the 400 sent
COST_PER_RUN = Decimal("0.0005")  # gpt-4o: about 50 output tokens at $10/M
MESSAGES = [{"role": "user", "content": "Tell me a very long story."}]
BUDGETS = [
    {"id": "run-tokens", "scope_type": "agent", "scope_id": "*", "metric": "tokens", "limit": TOKENS_PER_RUN},
    {"id": "run-cost", "scope_type": "agent_type", "scope_id": "costly", "limit": str(COST_PER_RUN)},
    # The prompt alone crosses it: the stream is cut at the first check, 4 chunks in.
    {"id": "run-tiny", "scope_type": "agent_type", "scope_id": "tiny", "metric": "tokens", "limit": 1},
]
SDKS = (OpenAIInstrumentor, AnthropicInstrumentor, GoogleGenAIInstrumentor, BedrockInstrumentor)


@pytest.fixture(scope="module")
def collector(chdb_dsn: str) -> Iterator[RunningCollector]:
    with collector_running(chdb_dsn, CONFIG) as running:
        yield running


@pytest.fixture(scope="module")
def guard(collector: RunningCollector, captured: CapturedSpans) -> Iterator[Any]:
    with httpx.Client(base_url=collector.http_url, timeout=10) as api:
        for budget in BUDGETS:
            response = api.post("/api/v1/costs/budgets", json={**budget, "period": "run"})
            assert response.status_code in (200, 201), response.text
    instrumentations = [instrumented(sdk, captured) for sdk in SDKS]
    for instrumentation in instrumentations:
        next(instrumentation)
    guard = enforce_budgets(collector.grpc_endpoint, wait_seconds=10)
    wait_until(lambda: {lim.budget_id for lim in guard.table.limits} >= {b["id"] for b in BUDGETS})
    try:
        yield guard
    finally:
        stop_enforcing()
        for instrumentation in instrumentations:
            next(instrumentation, None)


@pytest.fixture(scope="module")
def slow() -> Iterator[SlowProvider]:
    with SlowProvider() as server:
        yield server


def _cut_early(stream: Streamed, received: int) -> None:
    """The server saw the client hang up well before the reply's end; the caller got few chunks."""
    wait_until(stream.ended.is_set, what="the reply to end")
    assert not stream.completed and stream.sent < stream.total // 2
    assert 0 < received < stream.total // 4


def _terminated_span(spans: CapturedSpans) -> dict[str, Any]:
    attrs = spans.attrs()
    assert attrs["spendgate.terminated"] is True
    assert attrs["error.type"] == "BudgetExceeded"
    assert 0 < attrs["gen_ai.usage.output_tokens"] < 400
    return attrs


def test_openai_stream_stops_at_the_run_token_limit(
    guard: Any, slow: SlowProvider, spans: CapturedSpans
) -> None:
    client = openai.OpenAI(base_url=slow.url("openai"), api_key="k", max_retries=0)
    received = 0
    with scope(agent="writer", run="openai-sync"):
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        with pytest.raises(BudgetExceeded, match="per-run limit run-tokens crossed mid-stream") as stopped:
            for _ in stream:
                received += 1
        _cut_early(slow.streams[-1], received)
        attrs = _terminated_span(spans)
        assert attrs["spendgate.usage.estimated"] is True  # the usage chunk never came
        used = attrs["gen_ai.usage.input_tokens"] + attrs["gen_ai.usage.output_tokens"]
        assert used > TOKENS_PER_RUN and guard.run_spend("openai-sync")[1] == Decimal(used)
        assert stopped.value.scope_type == "run" and stopped.value.spend == Decimal(used)
        sent = len(slow.streams)
        with pytest.raises(BudgetExceeded, match="per-run limit run-tokens reached"):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        assert len(slow.streams) == sent  # the next call of the run was refused before it was sent


def test_async_openai_stream_stops_at_the_run_cost_limit(
    guard: Any, slow: SlowProvider, spans: CapturedSpans
) -> None:
    client = openai.AsyncOpenAI(base_url=slow.url("openai"), api_key="k", max_retries=0)

    async def run() -> int:
        received = 0
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        async with stream:
            with pytest.raises(BudgetExceeded, match="per-run limit run-cost crossed mid-stream"):
                async for _ in stream:
                    received += 1
        return received

    with scope(agent_type="costly", run="openai-async"):
        received = asyncio.run(run())
    _cut_early(slow.streams[-1], received)
    _terminated_span(spans)
    assert guard.run_spend("openai-async")[0] > COST_PER_RUN


def test_anthropic_stream_and_stream_helper_stop_at_the_run_limit(
    guard: Any, slow: SlowProvider, spans: CapturedSpans
) -> None:
    client = anthropic.Anthropic(base_url=slow.url("anthropic"), api_key="k", max_retries=0)
    with scope(agent="writer", run="anthropic-create"):
        received = 0
        stream = client.messages.create(
            model="claude-sonnet-4-6", max_tokens=1000, messages=MESSAGES, stream=True
        )
        with pytest.raises(BudgetExceeded, match="crossed mid-stream"):
            for _ in stream:
                received += 1
        _cut_early(slow.streams[-1], received)
        attrs = _terminated_span(spans)
        assert attrs["gen_ai.usage.input_tokens"] == slow.prompt_tokens  # reported on message_start
        assert attrs["spendgate.usage.estimated"] is True  # the output was counted from the text
    spans.clear()
    with scope(agent="writer", run="anthropic-helper"):
        texts: list[str] = []
        manager = client.messages.stream(model="claude-sonnet-4-6", max_tokens=1000, messages=MESSAGES)
        with pytest.raises(BudgetExceeded, match="crossed mid-stream"), manager as helper:
            texts.extend(helper.text_stream)
        _cut_early(slow.streams[-1], len(texts) + 1)
        _terminated_span(spans)
        with pytest.raises(BudgetExceeded, match="reached"):
            client.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=MESSAGES)


def test_async_anthropic_stream_helper_stops_at_the_run_limit(
    guard: Any, slow: SlowProvider, spans: CapturedSpans
) -> None:
    client = anthropic.AsyncAnthropic(base_url=slow.url("anthropic"), api_key="k", max_retries=0)

    async def run() -> int:
        received = 0
        manager = client.messages.stream(model="claude-sonnet-4-6", max_tokens=1000, messages=MESSAGES)
        with pytest.raises(BudgetExceeded, match="crossed mid-stream"):
            async with manager as helper:
                async for _ in helper:
                    received += 1
        return received

    with scope(agent="writer", run="anthropic-async"):
        received = asyncio.run(run())
    _cut_early(slow.streams[-1], received)
    _terminated_span(spans)


def test_a_stream_outside_a_limited_run_is_not_metered_or_cut(
    guard: Any, slow: SlowProvider, spans: CapturedSpans
) -> None:
    client = openai.OpenAI(base_url=slow.url("openai"), api_key="k", max_retries=0)
    slow.pieces = 80
    try:
        with scope(agent="writer"):  # no run: per-run limits do not apply
            stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
            assert stream._self_meter is None
            assert sum(1 for _ in stream) == 82  # the role chunk, 80 words, the finish chunk
    finally:
        slow.pieces = 400
    assert slow.streams[-1].completed
    attrs = spans.attrs()
    assert "spendgate.terminated" not in attrs and attrs["gen_ai.usage.output_tokens"] == 80


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as server:
        yield server


def test_gemini_and_bedrock_streams_are_cut_too(guard: Any, fake: FakeProvider, spans: CapturedSpans) -> None:
    options = types.HttpOptions(base_url=fake.url("gemini"), retry_options=types.HttpRetryOptions(attempts=1))
    gemini = genai.Client(api_key="test", http_options=options)
    with scope(agent_type="tiny", run="gemini"), pytest.raises(BudgetExceeded, match="run-tiny crossed"):
        for _ in gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="Tell me a story."):
            pass
    attrs = _terminated_span(spans)
    assert attrs["gen_ai.usage.output_tokens"] >= 3  # four chunks' text: "Hello from the fake"
    spans.clear()
    bedrock = boto3.client(
        "bedrock-runtime", endpoint_url=fake.url("bedrock"), region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip
    messages = [{"role": "user", "content": [{"text": "Tell me a story."}]}]
    with scope(agent_type="tiny", run="bedrock"), pytest.raises(BudgetExceeded, match="run-tiny crossed"):
        for _ in bedrock.converse_stream(modelId="amazon.nova-lite-v1:0", messages=messages)["stream"]:
            pass
    attrs = _terminated_span(spans)
    assert attrs["gen_ai.usage.output_tokens"] >= 2  # three deltas after messageStart
