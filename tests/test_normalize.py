"""Every convention in the conventions table is read, with its inclusion rules."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from spendgate.collector.ingest.normalize import normalize_request

from .conftest import chat_attributes, make_spans


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


def _spans(*reports: tuple[str, dict[str, Any], bool]) -> Any:
    """One trace: each report is (scope, attributes, nested in the previous report's span)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    root = provider.get_tracer("app").start_span("agent run")
    context = trace.set_span_in_context(root)
    previous = None
    for scope, attributes, nested in reports:
        parent = trace.set_span_in_context(previous) if nested and previous is not None else context
        span = provider.get_tracer(scope).start_span("chat", context=parent)
        span.set_attributes(attributes)
        span.end()
        previous = span
    root.end()
    return encode_spans(memory.get_finished_spans())


def _anthropic(output: int, response_id: str = "msg_1", **extra: Any) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": output, "gen_ai.response.id": response_id, **extra,
    }  # fmt: skip


def test_one_call_reported_by_the_sdk_and_a_library_is_billed_once() -> None:
    native = _anthropic(50, **{"gen_ai.usage.cache_write.input_tokens": 400})
    result = normalize_request(_spans(
        ("opentelemetry.instrumentation.anthropic", _anthropic(51), False),  # OpenLLMetry: one too many
        ("com.anthropic.sdk.python", native, False),
    ))  # fmt: skip
    assert len(result.records) == 1 and result.duplicate_calls == 1
    kept = result.records[0]
    # The SDK's own span is kept: it carries the cache writes and the right output count.
    assert (kept.emitter, kept.output_tokens, kept.cache_write_tokens) == ("anthropic-sdk", 50, 400)


def test_spendgate_span_wins_over_the_sdk_span_of_the_same_call() -> None:
    result = normalize_request(_spans(
        ("com.anthropic.sdk.python", _anthropic(50), False), ("spendgate.instrumentation", _anthropic(50), False),
    ))  # fmt: skip
    assert [r.emitter for r in result.records] == ["spendgate"]


def test_nested_model_call_spans_are_one_call() -> None:
    outer = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
             "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10}  # fmt: skip
    inner = {**outer, "gen_ai.usage.cache_read.input_tokens": 40}
    result = normalize_request(
        _spans(("pydantic-ai", outer, False), ("opentelemetry.instrumentation.openai.v1", inner, True))
    )
    assert len(result.records) == 1 and result.records[0].cache_read_tokens == 40


def test_separate_calls_in_one_trace_are_all_billed() -> None:
    result = normalize_request(_spans(
        ("com.anthropic.sdk.python", _anthropic(50, "msg_1"), False),
        ("com.anthropic.sdk.python", _anthropic(60, "msg_2"), False),
        ("opentelemetry.instrumentation.anthropic", _anthropic(70, response_id=""), False),
    ))  # fmt: skip
    assert sorted(r.output_tokens for r in result.records) == [50, 60, 70] and result.duplicate_calls == 0
    assert len({r.call_key for r in result.records}) == 3


def test_the_call_key_comes_from_the_response_id() -> None:
    library = normalize_request(_spans(("opentelemetry.instrumentation.anthropic", _anthropic(50), False)))
    sdk = normalize_request(_spans(("com.anthropic.sdk.python", _anthropic(50), False)))
    # A report of the same call in another trace or export request maps to the same identity.
    assert library.records[0].call_key == sdk.records[0].call_key
    without = normalize_request(
        _spans(("opentelemetry.instrumentation.anthropic", _anthropic(50, ""), False))
    )
    record = without.records[0]
    assert record.call_key == record.trace_id + record.span_id


def test_litellm_usage_object_written_as_a_python_repr() -> None:
    usage = ("{'completion_tokens': 78, 'prompt_tokens': 3456, 'prompt_tokens_details': {'cached_tokens': 1280,"
             " 'cache_write_tokens': None, 'cache_creation_token_details': {'ephemeral_1h_input_tokens': 600}}}")  # fmt: skip
    r = one({"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
             "gen_ai.usage.input_tokens": 3456, "gen_ai.usage.output_tokens": 78, "metadata.usage_object": usage})  # fmt: skip
    # The one-hour writes are writes, even where the total is not given; input already holds them.
    assert (r.input_tokens, r.cache_read_tokens, r.cache_write_tokens, r.cache_write_1h_tokens) == (
        3456, 1280, 600, 600,
    )  # fmt: skip


def test_one_hour_writes_without_a_total_are_all_the_writes() -> None:
    r = one({**_anthropic(10), "spendgate.usage.cache_creation.ephemeral_1h.input_tokens": 300})
    assert (r.cache_write_tokens, r.cache_write_1h_tokens, r.input_tokens) == (300, 300, 1000)


@pytest.mark.parametrize(
    ("attributes", "provider"),
    [
        ({"server.address": "api.anthropic.com", "gen_ai.request.model": "x"}, "anthropic"),
        ({"server.address": "acme.openai.azure.com", "gen_ai.request.model": "gpt-4o"}, "azure.ai.openai"),
        ({"server.address": "10.0.0.5", "server.port": 11434, "gen_ai.request.model": "llama3"}, "ollama"),
        ({"gen_ai.request.model": "text-embedding-3-small"}, "openai"),
        ({"gen_ai.request.model": "claude-3-5-haiku"}, "anthropic"),
        ({"gen_ai.request.model": "gemini-2.5-pro"}, "gcp.gemini"),
        ({"gen_ai.request.model": "x", "litellm.provider.model": "mistral/mistral-large"}, "mistral_ai"),
        ({"gen_ai.request.model": "my-own-model"}, ""),
    ],
)
def test_a_provider_the_span_does_not_name_is_inferred(attributes: dict[str, Any], provider: str) -> None:
    base = {"gen_ai.operation.name": "chat", "gen_ai.system": "", "gen_ai.usage.input_tokens": 5}
    assert one({**base, **attributes}).provider == provider


@pytest.mark.parametrize("value", ["²", "1" * 5000, "١٢", " 12 3", "0x10", "-5", "1e3"])
def test_token_strings_that_are_not_counts_reject_the_span_only(value: str) -> None:
    good = chat_attributes()
    result = normalize_request(encode_spans(make_spans([
        {"attributes": {**good, "gen_ai.usage.input_tokens": value}}, {"attributes": good},
    ])))  # fmt: skip
    assert (len(result.records), result.rejected_spans) == (1, 1)
    assert "input_tokens" in result.errors[0]


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300) | st.from_regex(r"\{'(prompt_tokens|cached_tokens)': -?\d{1,30}\}"))
def test_usage_inside_json_strings_never_breaks_a_span(text: str) -> None:
    attributes = {**chat_attributes(), "metadata.usage_object": text, "ai.response.providerMetadata": text}
    result = normalize_request(encode_spans(make_spans([{"attributes": attributes}])))
    assert len(result.records) + result.rejected_spans == 1
    for record in result.records:
        assert record.input_tokens >= record.cache_read_tokens + record.cache_write_tokens >= 0


def test_nested_spans_with_different_response_ids_are_different_calls() -> None:
    wrapper = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
               "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10}  # fmt: skip
    first = {**wrapper, "gen_ai.response.id": "chatcmpl-AAA", "gen_ai.usage.output_tokens": 11}
    retry = {**wrapper, "gen_ai.response.id": "chatcmpl-BBB", "gen_ai.usage.output_tokens": 12}
    # A library's span around a call that was retried: two provider calls, the wrapper repeats one.
    spans = _spans(("litellm", wrapper, False), ("opentelemetry.instrumentation.openai.v1", first, True))
    assert len(normalize_request(spans).records) == 1
    chained = _spans(("litellm", first, False), ("opentelemetry.instrumentation.openai.v1", retry, True))
    assert sorted(r.output_tokens for r in normalize_request(chained).records) == [11, 12]
