"""Every convention in the conventions table is read, with its inclusion rules."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from spendgate.collector.normalize import normalize_request

from .conftest import make_spans


def one(attributes: dict[str, Any], resource: dict[str, Any] | None = None, name: str = "span") -> Any:
    result = normalize_request(encode_spans(make_spans([{"name": name, "attributes": attributes}], resource)))
    assert result.rejected_spans == 0, result.errors
    return result.records[0] if result.records else None


def test_current_semconv() -> None:
    r = one({
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-opus-4",
        "gen_ai.response.model": "claude-opus-4-20250514", "gen_ai.usage.input_tokens": 1500,
        "gen_ai.usage.output_tokens": 300, "gen_ai.usage.cache_read.input_tokens": 1000,
        "gen_ai.usage.cache_creation.input_tokens": 200, "gen_ai.usage.reasoning.output_tokens": 100,
        "gen_ai.agent.name": "planner", "spendgate.project": "p1", "spendgate.phase": "design",
    })  # fmt: skip
    assert (r.provider, r.operation, r.model) == ("anthropic", "chat", "claude-opus-4-20250514")
    assert (r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens, r.reasoning_tokens) == (
        1500, 300, 1000, 200, 100,
    )  # fmt: skip
    assert r.attribution["agent"] == "planner" and r.attribution["phase"] == "design"


def test_deprecated_gen_ai_names_and_system() -> None:
    r = one({
        "gen_ai.system": "az.ai.openai", "gen_ai.request.model": "gpt-4o", "gen_ai.operation.name": "chat",
        "gen_ai.usage.prompt_tokens": 10, "gen_ai.usage.completion_tokens": 5,
    })  # fmt: skip
    assert (r.provider, r.input_tokens, r.output_tokens) == ("azure.ai.openai", 10, 5)


def test_openllmetry_legacy() -> None:
    r = one({
        "gen_ai.system": "MistralAI", "llm.request.type": "chat", "gen_ai.request.model": "mistral-large",
        "gen_ai.usage.prompt_tokens": 40, "gen_ai.usage.completion_tokens": 4,
        "gen_ai.usage.cache_read_input_tokens": 8, "gen_ai.usage.reasoning_tokens": 2,
    })  # fmt: skip
    assert (r.provider, r.input_tokens, r.cache_read_tokens, r.reasoning_tokens) == ("mistral_ai", 40, 8, 2)


def test_openinference() -> None:
    r = one({
        "openinference.span.kind": "LLM", "llm.provider": "openai", "llm.model_name": "gpt-4o-mini",
        "llm.token_count.prompt": 100, "llm.token_count.completion": 20,
        "llm.token_count.prompt_details.cache_read": 50, "llm.token_count.completion_details.reasoning": 7,
    })  # fmt: skip
    assert (r.emitter, r.input_tokens, r.cache_read_tokens, r.reasoning_tokens) == (
        "openinference",
        100,
        50,
        7,
    )
    assert (
        one({"openinference.span.kind": "AGENT", "llm.model_name": "x", "llm.token_count.prompt": 1}) is None
    )


def test_vercel_ai_sdk_leaf_and_root_and_anthropic_exclusive_input() -> None:
    leaf = {
        "ai.operationId": "ai.generateText.doGenerate", "gen_ai.system": "anthropic.messages",
        "ai.model.id": "claude-3-5-haiku", "ai.usage.inputTokens": 100, "ai.usage.outputTokens": 10,
        "ai.usage.inputTokenDetails.cacheReadTokens": 30,
    }  # fmt: skip
    r = one(leaf)
    assert (r.provider, r.emitter, r.input_tokens, r.cache_read_tokens) == ("anthropic", "vercel", 130, 30)
    assert one(dict(leaf, **{"ai.operationId": "ai.generateText"})) is None


def test_openlit_anthropic_excludes_cache_from_input() -> None:
    r = one(
        {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude",
            "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 1,
            "gen_ai.usage.cache_read.input_tokens": 40, "gen_ai.usage.cache_creation.input_tokens": 10,
        },
        resource={"service.name": "x", "telemetry.sdk.name": "openlit"},
    )  # fmt: skip
    assert (r.emitter, r.input_tokens) == ("openlit", 150)


def test_sanity_rule_when_cache_exceeds_input() -> None:
    r = one({
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude",
        "gen_ai.usage.input_tokens": 5, "gen_ai.usage.cache_read.input_tokens": 900,
    })  # fmt: skip
    assert r.input_tokens == 905


@pytest.mark.parametrize("operation", ["invoke_agent", "create_agent", "invoke_workflow", "execute_tool"])
def test_rollup_spans_are_not_priced(operation: str) -> None:
    attributes = {
        "gen_ai.operation.name": operation,
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 9,
    }
    result = normalize_request(encode_spans(make_spans([{"attributes": attributes}])))
    assert (len(result.records), result.non_llm_spans) == (0, 1)


@pytest.mark.parametrize("operation", ["chat", "text_completion", "generate_content", "embeddings"])
def test_leaf_operations(operation: str) -> None:
    r = one({"gen_ai.operation.name": operation, "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 3})
    assert r.operation == operation


def test_attribution_from_resource_and_span_wins() -> None:
    r = one(
        {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "spendgate.team": "span-team", "user.id": "u1"},
        resource={
            "service.name": "svc", "deployment.environment.name": "prod", "spendgate.team": "res-team",
            "spendgate.project": "res-project",
        },
    )  # fmt: skip
    assert r.attribution == {
        "service": "svc", "environment": "prod", "team": "span-team", "project": "res-project", "user": "u1",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("OpenAI", "openai"), ("Anthropic", "anthropic"), ("AWS", "aws.bedrock"), ("xai", "x_ai"), ("gemini", "gcp.gemini"),
     ("vertex_ai", "gcp.vertex_ai"), ("openai.responses", "openai"), ("Google", "gcp.gen_ai"), ("groq", "groq")],
)  # fmt: skip
def test_provider_spellings(raw: str, stored: str) -> None:
    r = one({"gen_ai.operation.name": "chat", "gen_ai.provider.name": raw, "gen_ai.request.model": "m"})
    assert r.provider == stored


def test_native_sdk_spans_are_not_counted_again_in_a_spendgate_process() -> None:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from .conftest import chat_attributes

    def request(resource: dict[str, Any]) -> Any:
        memory = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create(resource))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        attributes = chat_attributes(model="claude-sonnet-4-5", provider="anthropic")
        for scope in ("spendgate.instrumentation", "com.anthropic.sdk.python"):
            span = provider.get_tracer(scope).start_span("chat")
            span.set_attributes(attributes)
            span.end()
        return encode_spans(memory.get_finished_spans())

    metered = normalize_request(request({"service.name": "a", "spendgate.instrumented": True}))
    assert len(metered.records) == 1 and metered.non_llm_spans == 1
    # Without spendgate in the process, the SDK's own spans are the only record of the calls.
    assert len(normalize_request(request({"service.name": "a"})).records) == 2
