"""Attribution scopes, the background span recorder and the on-disk spool, without any SDK."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from pathlib import Path

import pytest
from opentelemetry import baggage, context
from opentelemetry.propagate import inject
from opentelemetry.sdk.trace import TracerProvider
from spendgate.instrumentation import current_attribution, recorder, scope
from spendgate.instrumentation.recorder import LLMCall
from spendgate.instrumentation.spool import OtlpSender, SpoolingSpanExporter

from ..conftest import chat_attributes, free_port, make_spans
from .conftest import CapturedSpans


def test_scope_as_context_manager_nests_and_restores() -> None:
    assert current_attribution() == {}
    with scope(project="checkout", agent="planner"):
        assert current_attribution() == {"project": "checkout", "agent": "planner"}
        with scope(agent="coder", ticket="PAY-1"):
            assert current_attribution() == {"project": "checkout", "agent": "coder", "ticket": "PAY-1"}
        assert current_attribution() == {"project": "checkout", "agent": "planner"}
    assert current_attribution() == {}


def test_scope_rejects_unknown_dimensions() -> None:
    with pytest.raises(TypeError, match="unknown dimension 'projcet'"):
        scope(projcet="typo")


def test_scope_as_decorator_of_sync_and_async_functions() -> None:
    @scope(task="summarise")
    def sync_work() -> dict[str, str]:
        return current_attribution()

    @scope(task="review", phase="testing")
    async def async_work() -> dict[str, str]:
        await asyncio.sleep(0)
        return current_attribution()

    assert sync_work() == {"task": "summarise"}
    assert asyncio.run(async_work()) == {"task": "review", "phase": "testing"}
    assert current_attribution() == {}


def test_scope_crosses_asyncio_tasks_and_copied_contexts_into_threads() -> None:
    async def child() -> dict[str, str]:
        return current_attribution()

    async def parent() -> list[dict[str, str]]:
        with scope(run="r-1", user="ana"):
            return await asyncio.gather(asyncio.create_task(child()), asyncio.create_task(child()))

    assert asyncio.run(parent()) == [{"run": "r-1", "user": "ana"}] * 2

    seen: list[dict[str, str]] = []
    with scope(team="payments"):
        ctx = contextvars.copy_context()
    thread = threading.Thread(target=lambda: seen.append(ctx.run(current_attribution)))
    thread.start()
    thread.join()
    assert seen == [{"team": "payments"}]


def test_scope_goes_to_other_services_as_w3c_baggage() -> None:
    headers: dict[str, str] = {}
    with scope(project="checkout", ticket="PAY-9"):
        inject(headers)
    assert "spendgate.project=checkout" in headers["baggage"]
    assert "spendgate.ticket=PAY-9" in headers["baggage"]


def test_recorder_builds_a_semconv_span_in_the_background_with_the_callers_parent_and_attribution(
    spans: CapturedSpans,
) -> None:
    tracer = spans.provider.get_tracer("test")
    with tracer.start_as_current_span("agent step") as parent, scope(project="p", agent_type="coding"):
        call = LLMCall(tracer, "anthropic", "chat", "claude-sonnet-4-5")
        call.input_tokens, call.output_tokens, call.cache_read_tokens = 1500, 90, 1000
        call.finish()
        call.finish()  # a second finish is ignored
    recorded = [span for span in spans.get() if span.name == "chat claude-sonnet-4-5"]
    assert len(recorded) == 1
    span = recorded[0]
    assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
    assert span.start_time == call.start_ns and span.end_time == call.end_ns
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.usage.input_tokens": 1500,
        "gen_ai.usage.output_tokens": 90,
        "gen_ai.usage.cache_read.input_tokens": 1000,
        "spendgate.project": "p",
        "spendgate.agent_type": "coding",
    }


def _dead_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_spool_keeps_requests_on_disk_while_the_collector_is_away_and_replays_them_once(
    running, tmp_path: Path
) -> None:
    batches = [make_spans([{"attributes": chat_attributes()}] * 5) for _ in range(4)]
    away = SpoolingSpanExporter(OtlpSender(_dead_endpoint(), "grpc", timeout_s=1), tmp_path / "spool")
    for batch in batches:
        assert away.export(batch).name == "SUCCESS"  # taken by the spool
    assert away.pending == 4
    files = sorted(p.name for p in away.directory.glob("*.otlp"))
    assert files == [f"{n:020d}.otlp" for n in range(4)]
    away.shutdown()  # cannot send: the files stay for the next process

    back = SpoolingSpanExporter(OtlpSender(f"http://{running.grpc_endpoint}", "grpc"), tmp_path / "spool")
    assert back.directory == away.directory  # the released slot is claimed again
    deadline = time.monotonic() + 20
    while back.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert back.pending == 0
    assert back.force_flush() is True
    back.shutdown()
    assert running.scalar("SELECT count() FROM {db}.llm_spans") == 20
    assert running.scalar("SELECT uniqExact(span_id) FROM {db}.llm_spans") == 20


def test_spool_slots_keep_concurrent_agents_apart(tmp_path: Path) -> None:
    first = SpoolingSpanExporter(OtlpSender(_dead_endpoint(), "grpc", timeout_s=1), tmp_path)
    second = SpoolingSpanExporter(OtlpSender(_dead_endpoint(), "grpc", timeout_s=1), tmp_path)
    assert first.directory != second.directory
    first.shutdown()
    second.shutdown()


def test_spool_is_bounded_and_counts_what_it_drops(tmp_path: Path) -> None:
    exporter = SpoolingSpanExporter(
        OtlpSender(_dead_endpoint(), "grpc", timeout_s=1), tmp_path, max_bytes=600
    )
    batch = make_spans([{"attributes": {"gen_ai.operation.name": "chat"}}] * 3)
    results = [exporter.export(batch).name for _ in range(5)]
    assert "FAILURE" in results and results[0] == "SUCCESS"
    assert exporter.dropped_requests == results.count("FAILURE")
    assert sum(p.stat().st_size for p in exporter.directory.glob("*.otlp")) <= 600
    exporter.shutdown()


def test_spool_does_not_keep_requests_the_collector_rejects_as_malformed(running, tmp_path: Path) -> None:
    sender = OtlpSender(running.http_url, "http/protobuf")
    with pytest.raises(Exception, match="400"):
        sender.send(b"\xff\xff not protobuf")
    exporter = SpoolingSpanExporter(sender, tmp_path)
    assert exporter.export(make_spans([{"attributes": {"gen_ai.operation.name": "chat"}}])).name == "SUCCESS"
    assert exporter.pending == 0
    exporter.shutdown()


def test_baggage_entries_from_other_sources_are_not_stamped(spans: CapturedSpans) -> None:
    tracer = TracerProvider().get_tracer("unused")
    token = context.attach(baggage.set_baggage("session", "s-1"))
    try:
        with scope(project="p"):
            call = LLMCall(tracer, "openai", "chat", "gpt-4o")
    finally:
        context.detach(token)
    from spendgate.instrumentation.recorder import span_attributes

    attrs = span_attributes(call)
    assert attrs["spendgate.project"] == "p"
    assert "session" not in attrs


def test_errors_inside_instrumentation_are_logged_once_and_never_reach_the_caller(
    spans: CapturedSpans, caplog: pytest.LogCaptureFixture
) -> None:
    from spendgate.instrumentation import wrappers

    def broken_response(call: LLMCall, response: object) -> None:
        raise KeyError("a field the SDK renamed")

    surface = wrappers.Surface(
        start=lambda tracer, instance, args, kwargs: LLMCall(tracer, "openai", "chat", "gpt-4o"),
        on_response=broken_response,
    )
    wrapper = wrappers.sync_wrapper(spans.provider.get_tracer("t"), surface)
    recorder._logged.discard("response")

    def sdk_method(**kwargs: object) -> str:
        return "the SDK's own result"

    with caplog.at_level("WARNING", logger="spendgate.instrumentation"):
        results = [wrapper(sdk_method, None, (), {"model": "gpt-4o"}) for _ in range(3)]
        recorded = spans.get()
    assert results == ["the SDK's own result"] * 3
    assert len([r for r in caplog.records if "instrumentation error in response" in r.getMessage()]) == 1
    assert len(recorded) == 3  # the calls are still recorded, without usage


def test_instrument_and_uninstrument_every_installed_sdk(spans: CapturedSpans) -> None:
    import anthropic.resources.messages.messages as anthropic_messages
    import openai.resources.chat.completions.completions as openai_chat
    from spendgate.instrumentation import instrument, uninstrument

    def patched() -> list[bool]:
        return [
            type(openai_chat.Completions.__dict__["create"]).__name__ == "FunctionWrapper",
            type(anthropic_messages.Messages.__dict__["create"]).__name__ == "FunctionWrapper",
        ]

    assert patched() == [False, False]
    provider = instrument(tracer_provider=spans.provider, sdks=["openai", "anthropic"])
    try:
        assert provider is spans.provider
        assert patched() == [True, True]
    finally:
        uninstrument()
    assert patched() == [False, False]
