"""The agent prices calls as the collector does: the same pricer, the collector's overrides sent with
the flag snapshot, and free local models that no cost limit can stop."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from spendgate.collector.app import Collector
from spendgate.collector.budgets.board import Snapshot
from spendgate.collector.budgets.flag_service import pricing_message, snapshot_message
from spendgate.collector.config import FallbackPrice, ModelPrice, PricingProcessor, load_config, parse_config
from spendgate.collector.ingest.pricer import Pricer as CollectorPricer
from spendgate.instrumentation import prices
from spendgate.instrumentation.budget_guard import BudgetGuard
from spendgate.instrumentation.flags_client import FlagTable
from spendgate.instrumentation.recorder import CACHE_WRITE_1H_ATTRIBUTE, LLMCall

from spendgate.pricing import DEFAULT_OVERRIDES, Fallback
from spendgate.pricing.overrides import DEFAULT_EMBEDDINGS_INPUT
from spendgate.proto import flags_pb2 as pb

from .conftest import REPO, RunningCollector, collector_yaml, free_port, stop_collector, wait_until
from .test_pricing import CASES, operation_record, record

STORED_PROVIDER = {"google": "gcp.gemini", "x-ai": "x_ai", "mistral": "mistral_ai", "aws": "aws.bedrock"}
OVERRIDES = PricingProcessor(
    models=[
        ModelPrice(model="ft:acme-support", provider="openai", input_per_mtok=Decimal(2), output_per_mtok=Decimal(8)),
        ModelPrice(model="acme-cached", input_per_mtok=Decimal("1.10"), output_per_mtok=Decimal("4.40"),
                   cache_read_per_mtok=Decimal("0.275"), cache_write_per_mtok=Decimal("1.375"),
                   per_request=Decimal("0.0004")),
        ModelPrice(model="internal-free", provider="openai"),
    ],
    discounts={"anthropic": Decimal("0.25"), "xai": Decimal("0.1")},
    local_providers=["ollama", "lmstudio"],
    fallback=FallbackPrice(input_per_mtok=Decimal("1.5"), output_per_mtok=Decimal("2.25")),
)  # fmt: skip


def agent_table(config: PricingProcessor) -> FlagTable:
    """An agent's flag table after the first snapshot of a collector with this pricing config."""
    table = FlagTable()
    message = snapshot_message(Snapshot(1, (), ()), pricing_message(config.overrides()))
    table.apply(pb.FlagSnapshot.FromString(message.SerializeToString()))  # as it crosses the wire
    return table


def agent_call(
    provider: str, model: str, when: datetime, usage: dict[str, int], operation: str = "chat"
) -> LLMCall:
    call = LLMCall(trace.get_tracer("tests"), provider, operation, model)
    call.start_ns = int(when.timestamp() * 1e9)
    call.input_tokens, call.output_tokens = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
    call.cache_read_tokens, call.cache_write_tokens = (
        usage.get("cache_read_tokens", 0),
        usage.get("cache_write_tokens", 0),
    )
    call.reasoning_tokens = usage.get("reasoning_tokens", 0)
    if usage.get("cache_write_1h_tokens"):
        call.set_attribute(CACHE_WRITE_1H_ATTRIBUTE, usage["cache_write_1h_tokens"])
    return call


def test_one_hour_cache_writes_cost_the_agent_what_they_cost_the_collector() -> None:
    when = datetime(2026, 11, 1, tzinfo=UTC)
    usage = {"input_tokens": 4321, "output_tokens": 91, "cache_read_tokens": 500, "cache_write_tokens": 1000,
             "cache_write_1h_tokens": 600}  # fmt: skip
    table = agent_table(PricingProcessor())
    charged = assert_agrees(PricingProcessor(), table, "anthropic", "claude-sonnet-4-5", when, usage)
    five_minutes = CollectorPricer(PricingProcessor()).price(
        record("anthropic", "claude-sonnet-4-5", when, **{**usage, "cache_write_1h_tokens": 0})
    )
    assert charged > five_minutes.cost.total  # $6 against $3.75 per Mtok for the 600 one-hour writes


def assert_agrees(config: PricingProcessor, table: FlagTable, provider: str, model: str, when: datetime,
                  usage: dict[str, int], operation: str = "chat") -> Decimal:  # fmt: skip
    """The agent's cost of a finished call and its estimate equal the collector's price; returns it."""
    collector = CollectorPricer(config)
    charged = collector.price(operation_record(operation, provider, model, when, **usage)).cost.total
    assert prices.call_cost(table.pricer, agent_call(provider, model, when, usage, operation)) == charged
    now = datetime.now(UTC)
    plain = {"input_tokens": usage["input_tokens"], "output_tokens": usage["output_tokens"]}
    estimate = prices.worst_case(
        table.pricer, provider, model, plain["input_tokens"], plain["output_tokens"], operation
    ).cost
    assert estimate == collector.price(operation_record(operation, provider, model, now, **plain)).cost.total
    return charged


def test_the_agent_prices_every_catalogue_case_as_the_collector() -> None:
    config = PricingProcessor()
    table = agent_table(config)
    charged = [
        assert_agrees(config, table, STORED_PROVIDER.get(provider_id, provider_id), model_id, when, usage)
        for provider_id, model_id, when, usage in CASES
    ]
    assert sum(1 for cost in charged if cost > 0) > len(CASES) * 0.9


USAGES = [
    {"input_tokens": 1_000_000, "output_tokens": 1_000_000},
    {"input_tokens": 12_345, "output_tokens": 777, "cache_read_tokens": 6_000, "cache_write_tokens": 2_000},
    {
        "input_tokens": 250_000,
        "output_tokens": 32_000,
        "cache_read_tokens": 35_714,
        "reasoning_tokens": 9_000,
    },
    {"input_tokens": 0, "output_tokens": 0},
]
OVERRIDE_CASES = [
    ("openai", "ft:acme-support", "override"),  # custom, no cache prices
    ("anthropic", "acme-cached", "override"),  # custom for any provider, cache and per-request prices
    ("openai", "internal-free", "override"),  # custom, zero
    ("anthropic", "claude-sonnet-4-5", "override"),  # discounted (tiered above 200k input)
    ("x_ai", "grok-3", "override"),  # discounted, configured under the alias "xai"
    ("x_ai", "grok-4", "override"),
    ("ollama", "llama3.1:8b", "override"),  # local
    ("lmstudio", "qwen2.5-coder", "override"),
    ("acme", "brand-new-model", "fallback"),
    ("openai", "gpt-4o", "priced"),
]


@pytest.mark.parametrize(("provider", "model", "status"), OVERRIDE_CASES)
@pytest.mark.parametrize("usage", USAGES, ids=["mtok", "cached", "tiered", "empty"])
def test_the_agent_prices_every_override_kind_as_the_collector(
    provider: str, model: str, status: str, usage: dict[str, int]
) -> None:
    table = agent_table(OVERRIDES)
    assert table.pricer.resolve(provider, model).status == status
    assert CollectorPricer(OVERRIDES).resolve(provider, model).status == status
    assert_agrees(OVERRIDES, table, provider, model, datetime.now(UTC), usage)


def test_override_prices_are_the_configured_ones() -> None:
    table = agent_table(OVERRIDES)

    def estimate(provider: str, model: str) -> Decimal:
        return prices.worst_case(table.pricer, provider, model, 1_000_000, 1_000_000).cost

    assert estimate("openai", "ft:acme-support") == 10
    assert estimate("openai", "acme-cached") == Decimal("5.5004")
    assert estimate("openai", "internal-free") == estimate("ollama", "llama3.1:8b") == 0
    assert estimate("acme", "brand-new-model") == Decimal("3.75")
    grok = prices.worst_case(agent_table(PricingProcessor()).pricer, "xai", "grok-3", 10**6, 10**6).cost
    assert grok == 18 and estimate("xai", "grok-3") == Decimal("16.2")  # the catalogue's $3 + $15, less 10 %
    assert table.pricer.is_free("ollama", "llama3.1:8b") and table.pricer.is_free("openai", "internal-free")
    assert not table.pricer.is_free("openai", "ft:acme-support")


def test_before_the_first_snapshot_the_agent_has_the_collectors_defaults() -> None:
    shipped = load_config(REPO / "otel-config.yaml").processors.pricing.overrides()
    assert FlagTable().pricer.overrides == DEFAULT_OVERRIDES == PricingProcessor().overrides() == shipped
    # A collector that predates the pricing field sends none: the agent keeps the defaults.
    table = FlagTable()
    table.apply(pb.FlagSnapshot(version=1))
    assert table.pricer.overrides == DEFAULT_OVERRIDES
    # Malformed amounts are ignored, not half applied.
    bad = pb.FlagSnapshot(
        version=2, pricing=pb.PricingOverrides(fallback=pb.FallbackPrice(input_per_mtok="x"))
    )
    table.apply(bad)
    assert table.pricer.overrides == DEFAULT_OVERRIDES and table.version == 2


# -- the fallback by operation ----------------------------------------------------------------------------

EMBEDDINGS_FALLBACK = PricingProcessor(
    fallback=FallbackPrice(input_per_mtok=Decimal(3), output_per_mtok=Decimal(9),
                           embeddings_input_per_mtok=Decimal("0.04"))
)  # fmt: skip
FALLBACK_CASES = [  # config, operation, $ per Mtok of input and of output
    pytest.param(PricingProcessor(), "chat", 15, 75, id="default-chat"),
    pytest.param(PricingProcessor(), "embeddings", Decimal("0.20"), 0, id="default-embeddings"),
    pytest.param(OVERRIDES, "chat", Decimal("1.5"), Decimal("2.25"), id="configured-chat"),
    pytest.param(OVERRIDES, "embeddings", Decimal("0.20"), 0, id="configured-chat-default-embeddings"),
    pytest.param(EMBEDDINGS_FALLBACK, "embeddings", Decimal("0.04"), 0, id="configured-embeddings"),
    pytest.param(EMBEDDINGS_FALLBACK, "text_completion", 3, 9, id="configured-completion"),
]


@pytest.mark.parametrize(("config", "operation", "input_rate", "output_rate"), FALLBACK_CASES)
@pytest.mark.parametrize("usage", USAGES, ids=["mtok", "cached", "tiered", "empty"])
def test_the_agent_prices_an_unknown_model_at_the_collectors_fallback_for_its_operation(
    config: PricingProcessor, operation: str, input_rate: Decimal, output_rate: Decimal, usage: dict[str, int]
) -> None:
    table = agent_table(config)
    assert table.pricer.resolve("acme", "acme-model-x").status == "fallback"
    charged = assert_agrees(config, table, "acme", "acme-model-x", datetime.now(UTC), usage, operation)
    assert charged == (usage["input_tokens"] * input_rate + usage["output_tokens"] * output_rate) / Decimal(
        10**6
    )


def test_a_collector_that_sends_no_embeddings_rate_leaves_the_agent_the_default() -> None:
    table = FlagTable()
    older = pb.FallbackPrice(input_per_mtok="3", output_per_mtok="9")  # a collector before field 3
    table.apply(pb.FlagSnapshot(version=1, pricing=pb.PricingOverrides(fallback=older)))
    assert table.pricer.overrides.fallback == Fallback(Decimal(3), Decimal(9), DEFAULT_EMBEDDINGS_INPUT)
    embeddings = prices.worst_case(table.pricer, "acme", "acme-embed", 10**6, 0, "embeddings")
    assert embeddings.cost == Decimal("0.2")
    assert prices.worst_case(table.pricer, "acme", "acme-embed", 10**6, 0, "chat").cost == 3
    # A malformed embeddings rate is ignored with the rest of the snapshot's pricing.
    bad = pb.FallbackPrice(input_per_mtok="1", output_per_mtok="1", embeddings_input_per_mtok="-0.1")
    table.apply(pb.FlagSnapshot(version=2, pricing=pb.PricingOverrides(fallback=bad)))
    assert table.pricer.overrides.fallback == Fallback(Decimal(3), Decimal(9)) and table.version == 2


# -- the budget check with the shipped config ---------------------------------------------------------------

BIG_PROMPT = [{"role": "user", "content": "Summarise this file.\n" + "def f(x):\n    return x * 2\n" * 8000}]


@pytest.fixture
def shipped_guard() -> Iterator[BudgetGuard]:
    """The guard instrument() installs, after the first snapshot of a collector on otel-config.yaml."""
    from spendgate.instrumentation import enforcement

    config = load_config(REPO / "otel-config.yaml")
    limits = tuple(b for b in config.extensions.budgets.defaults if b.agent_enforced)
    table = FlagTable()
    table.apply(
        snapshot_message(Snapshot(1, (), limits), pricing_message(config.processors.pricing.overrides()))
    )
    guard = BudgetGuard(table)
    enforcement.install_guard(guard)
    try:
        yield guard
    finally:
        enforcement.install_guard(None)


def test_a_local_model_call_is_not_blocked_by_a_cost_limit_it_cannot_reach(
    shipped_guard: BudgetGuard,
) -> None:
    import ollama
    import openai
    from opentelemetry.sdk.trace import TracerProvider
    from spendgate.instrumentation.fake_provider import FakeProvider
    from spendgate.instrumentation.ollama import OllamaInstrumentor
    from spendgate.instrumentation.openai import OpenAIInstrumentor

    from spendgate import BudgetExceeded, scope

    instrumentors = [OllamaInstrumentor(), OpenAIInstrumentor()]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=TracerProvider())
    try:
        with FakeProvider() as fake, scope(agent_type="documentation", agent="docs", run="r1"):
            # per-request-documentation: $0.05. Before, this prompt was estimated at the fallback rate.
            local = ollama.Client(host=fake.url("ollama"))
            local.chat(model="llama3.1:8b", messages=BIG_PROMPT, options={"num_predict": 8000})
            assert shipped_guard.worst_case_cost({"messages": BIG_PROMPT}, "ollama", "llama3.1:8b") == 0
            paid = openai.OpenAI(base_url=fake.url("openai"), api_key="k", max_retries=0)
            with pytest.raises(BudgetExceeded, match="per-request limit per-request-documentation"):
                paid.chat.completions.create(model="gpt-4o", messages=BIG_PROMPT, max_tokens=8000)
            assert [r.path for r in fake.requests] == ["/ollama/api/chat"]
        assert shipped_guard.run_spend("r1") == (Decimal(0), Decimal(1280))  # free, but its tokens count
    finally:
        for instrumentor in instrumentors:
            instrumentor.uninstrument()


def test_an_unknown_embedding_model_is_estimated_and_spent_at_the_embeddings_rate(
    shipped_guard: BudgetGuard,
) -> None:
    import openai
    from opentelemetry.sdk.trace import TracerProvider
    from spendgate.instrumentation.fake_provider import FakeProvider
    from spendgate.instrumentation.openai import OpenAIInstrumentor

    from spendgate import BudgetExceeded, scope

    text = BIG_PROMPT[0]["content"][:100_000]  # at the chat fallback, $0.4 of input alone
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=TracerProvider())
    try:
        with FakeProvider() as fake, scope(agent_type="documentation", agent="docs", run="r2"):
            # per-request-documentation: $0.05, which the chat rate would exceed.
            sdk = openai.OpenAI(base_url=fake.url("openai"), api_key="k", max_retries=0)
            sdk.embeddings.create(model="acme-embed-v2", input=text)
            with pytest.raises(BudgetExceeded, match="per-request limit per-request-documentation"):
                sdk.completions.create(model="acme-embed-v2", prompt=text, max_tokens=10)
            assert [r.path for r in fake.requests] == ["/openai/v1/embeddings"]
        # The fake reports 1,200 input tokens: at $0.20 per Mtok.
        assert shipped_guard.run_spend("r2") == (Decimal("0.00024"), Decimal(1200))
    finally:
        instrumentor.uninstrument()


def test_a_cost_block_flag_does_not_stop_a_free_call() -> None:
    from spendgate import BudgetExceeded

    table = FlagTable()
    flag = pb.Flag(budget_id="global-monthly", scope=pb.Scope(type="global"), state="block", metric="cost",
                   spend="500", limit="500", reason="monthly budget spent")  # fmt: skip
    table.apply(pb.FlagSnapshot(version=1, flags=[flag]))
    guard = BudgetGuard(table)
    guard.check(LLMCall(trace.get_tracer("tests"), "ollama", "chat", "llama3.1:8b"), {"messages": BIG_PROMPT})
    with pytest.raises(BudgetExceeded):
        guard.check(
            LLMCall(trace.get_tracer("tests"), "openai", "chat", "gpt-4o-mini"), {"messages": BIG_PROMPT}
        )
    tokens = pb.Flag(budget_id="tokens", scope=pb.Scope(type="global"), state="block", metric="tokens",
                     spend="10", limit="10")  # fmt: skip
    table.apply(pb.FlagSnapshot(version=2, flags=[tokens]))
    with pytest.raises(BudgetExceeded):  # a token budget binds free calls too
        guard.check(
            LLMCall(trace.get_tracer("tests"), "ollama", "chat", "llama3.1:8b"), {"messages": BIG_PROMPT}
        )


# -- overrides from a running collector ---------------------------------------------------------------------

CUSTOM_PRICING = """  pricing:
    models:
      - {model: ft:acme-support, provider: openai, input_per_mtok: 2, output_per_mtok: 8}
    local_providers: [ollama]
"""
RUN_BUDGET = """
extensions:
  budgets:
    evaluate_every: 1h
    defaults:
      - {id: run-cost, scope_type: agent, scope_id: "*", limit: 5, period: run}
"""


@contextlib.contextmanager
def collector_pricing(chdb_dsn: str, pricing: str) -> Iterator[RunningCollector]:
    """A running collector with this processors.pricing section and a per-run budget."""
    database = "t_" + uuid.uuid4().hex[:10]
    text = collector_yaml(chdb_dsn, database, free_port(), free_port(), RUN_BUDGET)
    config = parse_config(text.replace("processors:\n", "processors:\n" + pricing, 1))
    collector = Collector(config)
    thread: threading.Thread = collector.serve_in_thread()
    running = RunningCollector(collector, chdb_dsn, database)
    try:
        yield running
    finally:
        stop_collector(running, thread)


@pytest.fixture
def priced_collector(chdb_dsn: str) -> Iterator[RunningCollector]:
    with collector_pricing(chdb_dsn, CUSTOM_PRICING) as running:
        yield running


def test_collector_overrides_reach_the_agent_and_its_spend_matches_the_stored_cost(
    priced_collector: RunningCollector,
) -> None:
    import openai
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from spendgate.instrumentation.configure import enforce_budgets, stop_enforcing
    from spendgate.instrumentation.fake_provider import FakeProvider
    from spendgate.instrumentation.openai import OpenAIInstrumentor
    from spendgate.instrumentation.recorder import RECORDER

    from spendgate import scope

    request: dict[str, Any] = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 1000}
    before = BudgetGuard(FlagTable()).worst_case(request, "openai", "ft:acme-support")
    memory, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    guard = enforce_budgets(priced_collector.grpc_endpoint, wait_seconds=10)
    try:
        assert guard.table.pricer.overrides.local_providers == ("ollama",)
        tokens, output, after = guard.worst_case(request, "openai", "ft:acme-support")
        assert (tokens, output) == before[:2] and before[2] == (tokens * 15 + output * 75) / Decimal(10**6)
        assert after == (tokens * 2 + output * 8) / Decimal(10**6)  # the collector's custom price
        with FakeProvider() as fake, scope(agent="support-bot", run="run-1"):
            sdk = openai.OpenAI(base_url=fake.url("openai"), api_key="k", max_retries=0)
            sdk.chat.completions.create(model="ft:acme-support", **request)
        RECORDER.flush()
        assert (
            OTLPSpanExporter(endpoint=priced_collector.grpc_endpoint, insecure=True)
            .export(memory.get_finished_spans())
            .name
            == "SUCCESS"
        )
        wait_until(lambda: priced_collector.rows("SELECT count() FROM {db}.llm_spans")[0][0] == 1)
        stored = priced_collector.scalar("SELECT toString(total_cost) FROM {db}.llm_spans")
        spent = guard.run_spend("run-1")[0]
        assert spent == Decimal(1200 * 2 + 80 * 8) / 10**6 and Decimal(stored) == spent
    finally:
        stop_enforcing()
        instrumentor.uninstrument()


EMBEDDINGS_PRICING = """  pricing:
    fallback: {input_per_mtok: 3, output_per_mtok: 9, embeddings_input_per_mtok: 0.04}
"""


def test_an_unknown_embedding_model_costs_the_agent_what_the_collector_stores(chdb_dsn: str) -> None:
    import openai
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from spendgate.instrumentation.configure import enforce_budgets, stop_enforcing
    from spendgate.instrumentation.fake_provider import FakeProvider
    from spendgate.instrumentation.openai import OpenAIInstrumentor
    from spendgate.instrumentation.recorder import RECORDER

    from spendgate import scope

    memory, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    with collector_pricing(chdb_dsn, EMBEDDINGS_PRICING) as running:
        guard = enforce_budgets(running.grpc_endpoint, wait_seconds=10)
        try:
            assert guard.table.pricer.overrides.fallback == Fallback(Decimal(3), Decimal(9), Decimal("0.04"))
            with FakeProvider() as fake, scope(agent="indexer", run="run-e"):
                sdk = openai.OpenAI(base_url=fake.url("openai"), api_key="k", max_retries=0)
                sdk.embeddings.create(model="acme-embed-v2", input=["first chunk", "second chunk"])
            RECORDER.flush()
            exporter = OTLPSpanExporter(endpoint=running.grpc_endpoint, insecure=True)
            assert exporter.export(memory.get_finished_spans()).name == "SUCCESS"
            wait_until(lambda: running.rows("SELECT count() FROM {db}.llm_spans")[0][0] == 1)
            row = running.rows("SELECT operation, pricing_status, toString(total_cost) FROM {db}.llm_spans")[
                0
            ]
            assert row[:2] == ("embeddings", "fallback")
            spent = guard.run_spend("run-e")[0]
            assert spent == Decimal(1200) * Decimal("0.04") / 10**6 == Decimal(row[2])
        finally:
            stop_enforcing()
            instrumentor.uninstrument()


# -- spendgate price -----------------------------------------------------------------------------------------


def _price(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spendgate", "price", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)  # fmt: skip


def test_price_command_uses_the_configured_overrides(tmp_path: Path) -> None:
    config = tmp_path / "otel-config.yaml"
    config.write_text(
        "processors:\n" + CUSTOM_PRICING + "    discounts: {anthropic: 0.25}\n    fallback: null\n"
    )
    custom = _price("ft:acme-support", "--input", "1200", "--output", "80", "--config", str(config))
    assert custom.returncode == 0, custom.stderr
    assert "custom price from the config: $2/input MTok, $8/output MTok" in custom.stdout
    assert "pricing_status: override" in custom.stdout and custom.stdout.strip().endswith(": $0.00304")
    local = _price("llama3.1:8b", "--provider", "ollama", cwd=tmp_path)  # ./otel-config.yaml by default
    assert "local provider" in local.stdout and local.stdout.strip().endswith(": $0.00")  # cli/money.py
    discounted = _price("claude-sonnet-4-5", "--input", "1000", "--output", "100", cwd=tmp_path)
    assert "25 % discount for anthropic" in discounted.stdout
    assert discounted.stdout.strip().endswith(": $0.003375")  # ($3 x 1000 + $15 x 100) / 1M, less 25 %
    unknown = _price("no-such-model-anywhere", cwd=tmp_path)
    assert unknown.returncode == 1 and "no fallback" in unknown.stderr
    shipped = _price("no-such-model-anywhere", "--input", "1000", "--output", "0")
    assert shipped.returncode == 0 and "pricing_status: fallback" in shipped.stdout
    assert shipped.stdout.strip().endswith(": $0.015")
    embedder = _price("no-such-embedder", "--operation", "embeddings", "--input", "1000")
    assert embedder.returncode == 0 and "embeddings fallback price: $0.2/input MTok" in embedder.stdout
    assert embedder.stdout.strip().endswith("1,000 input (0 cached) and 0 output tokens: $0.0002")
