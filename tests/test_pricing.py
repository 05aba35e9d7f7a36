"""The pricer agrees with genai_prices.calc_price to the last decimal, and overrides work."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price, data_snapshot
from genai_prices import types as gp
from spendgate.collector.config import FallbackPrice, ModelPrice, PricingProcessor
from spendgate.collector.ingest.normalize import UsageRecord
from spendgate.collector.ingest.pricer import Pricer


def record(provider: str, model: str, when: datetime, **tokens: int) -> UsageRecord:
    return UsageRecord(
        trace_id=b"\1" * 16, span_id=b"\2" * 8, parent_span_id=b"\0" * 8,
        start_time_ns=int(when.timestamp() * 1e9), end_time_ns=int(when.timestamp() * 1e9),
        span_name="chat", status_code="ok", error_type="", emitter="semconv", provider=provider,
        operation="chat", request_model=model, response_model="",
        input_tokens=tokens.get("input_tokens", 0), output_tokens=tokens.get("output_tokens", 0),
        cache_read_tokens=tokens.get("cache_read_tokens", 0), cache_write_tokens=tokens.get("cache_write_tokens", 0),
        reasoning_tokens=tokens.get("reasoning_tokens", 0), usage_estimated=False, attribution={},
        cache_write_1h_tokens=tokens.get("cache_write_1h_tokens", 0),
    )  # fmt: skip


def operation_record(operation: str, provider: str, model: str, when: datetime, **tokens: int) -> UsageRecord:
    return replace(record(provider, model, when, **tokens), operation=operation)


def _finds_itself(snapshot: data_snapshot.DataSnapshot, provider_id: str, model: gp.ModelInfo) -> bool:
    try:
        return snapshot.find_provider_model(model.id, None, provider_id, None)[1] is model
    except LookupError:
        return False


def _catalogue_cases(count: int) -> list[tuple[str, str, datetime, dict[str, int]]]:
    """Token-priced catalogue models, weighted towards tiered, cached and reasoning prices."""
    rnd = random.Random(20261124)
    snapshot = data_snapshot.get_snapshot()
    models = [
        (provider, model)
        for provider in snapshot.providers
        for model in provider.models
        if provider.id
        in ("openai", "anthropic", "google", "mistral", "groq", "deepseek", "x-ai", "aws", "cohere")
        and _finds_itself(snapshot, provider.id, model)
    ]
    tiered = [(p, m) for p, m in models if "TieredPrices" in repr(m.prices)]
    cached = [(p, m) for p, m in models if "cache_read_mtok" in repr(m.prices)]
    history = [(p, m) for p, m in models if isinstance(m.prices, list)]
    pool = tiered * 3 + cached + history * 2 + models
    cases = []
    while len(cases) < count:
        provider, model = rnd.choice(pool)
        inputs = rnd.choice([1, 999, 12_345, 199_999, 200_001, 250_000, 1_200_000])
        usage = {
            "input_tokens": inputs,
            "output_tokens": rnd.choice([0, 1, 777, 32_000]),
            "cache_read_tokens": rnd.choice([0, inputs // 2, inputs // 7]),
            "cache_write_tokens": rnd.choice([0, 0, inputs // 5]),
        }
        if rnd.random() < 0.4:
            usage["reasoning_tokens"] = rnd.randint(0, usage["output_tokens"])
        when = datetime(2024, 6, 1, tzinfo=UTC) + timedelta(hours=rnd.randint(0, 24 * 900))
        cases.append((provider.id, model.id, when, usage))
    return cases


CASES = _catalogue_cases(300)


def test_the_cases_cover_tiers_caches_reasoning_and_history() -> None:
    snapshot = data_snapshot.get_snapshot()
    kinds = {"tiered": 0, "cached": 0, "reasoning": 0, "history": 0}
    for provider_id, model_id, _, usage in CASES:
        info = snapshot.find_provider_model(model_id, None, provider_id, None)[1]
        kinds["tiered"] += "TieredPrices" in repr(info.prices) and usage["input_tokens"] > 200_000
        kinds["cached"] += usage["cache_read_tokens"] > 0 and "cache_read_mtok" in repr(info.prices)
        kinds["reasoning"] += usage.get("reasoning_tokens", 0) > 0
        kinds["history"] += isinstance(info.prices, list)
    assert all(count >= 20 for count in kinds.values()), kinds


@pytest.mark.parametrize(("provider_id", "model_id", "when", "usage"), CASES)
def test_price_equals_calc_price(
    provider_id: str, model_id: str, when: datetime, usage: dict[str, int]
) -> None:
    catalogue_usage = dict(usage)
    if "reasoning_tokens" in catalogue_usage:
        catalogue_usage["output_reasoning_tokens"] = catalogue_usage.pop("reasoning_tokens")
    try:
        expected = calc_price(
            Usage(**catalogue_usage), model_id, provider_id=provider_id, genai_request_timestamp=when
        )
    except ValueError:
        pytest.skip("the catalogue cannot price this usage either")
    pricer = Pricer(PricingProcessor(fallback=None))
    stored_provider = {"google": "gcp.gemini", "x-ai": "x_ai", "mistral": "mistral_ai", "aws": "aws.bedrock"}
    priced = pricer.price(record(stored_provider.get(provider_id, provider_id), model_id, when, **usage))
    assert priced.status == "priced"
    assert priced.priced_model == model_id
    assert priced.cost.total == expected.total_price
    assert priced.cost.input + priced.cost.cache_read + priced.cost.cache_write == expected.input_price
    assert priced.cost.output == expected.output_price
    # Decimal(38, 18) holds the value without rounding.
    assert priced.cost.total == priced.cost.total.quantize(Decimal("1e-18"))
    # Cache savings: the catalogue's price for the same call with no token cached, minus the total.
    uncached = {**catalogue_usage, "cache_read_tokens": 0, "cache_write_tokens": 0}
    if uncached == catalogue_usage:
        assert priced.cost.cache_savings == 0
    else:
        without_cache = calc_price(
            Usage(**uncached), model_id, provider_id=provider_id, genai_request_timestamp=when
        )
        assert priced.cost.cache_savings == without_cache.total_price - expected.total_price


def test_price_history_uses_the_span_start_time() -> None:
    snapshot = data_snapshot.get_snapshot()
    for provider in snapshot.providers:
        for model in provider.models:
            if isinstance(model.prices, list) and any(
                isinstance(c.constraint, gp.StartDateConstraint) for c in model.prices
            ):
                change = next(c for c in model.prices if isinstance(c.constraint, gp.StartDateConstraint))
                start = datetime.combine(change.constraint.start_date, datetime.min.time(), UTC)  # type: ignore[union-attr]
                before, after = start - timedelta(days=2), start + timedelta(days=2)
                pricer = Pricer(PricingProcessor(fallback=None))
                usage = {"input_tokens": 1_000_000, "output_tokens": 1_000_000}
                prices = [
                    pricer.price(record("", model.id, when, **usage)).cost.total for when in (before, after)
                ]
                expected = [
                    calc_price(
                        Usage(**usage), model.id, provider_id=provider.id, genai_request_timestamp=when
                    ).total_price
                    for when in (before, after)
                ]
                if prices == expected and prices[0] != prices[1]:
                    return
    pytest.fail("no model with a dated price change priced differently before and after it")


def test_custom_model_discount_local_and_fallback() -> None:
    config = PricingProcessor(
        models=[
            ModelPrice(
                model="ft:acme-support",
                provider="openai",
                input_per_mtok=Decimal(2),
                output_per_mtok=Decimal(8),
            )
        ],
        discounts={"anthropic": Decimal("0.25")},
        fallback=FallbackPrice(input_per_mtok=Decimal(1), output_per_mtok=Decimal(2)),
    )
    pricer = Pricer(config)
    now = datetime.now(UTC)
    custom = pricer.price(
        record("openai", "ft:acme-support", now, input_tokens=1_000_000, output_tokens=500_000)
    )
    assert (custom.status, custom.cost.total) == ("override", Decimal(6))
    full = calc_price(
        Usage(input_tokens=10_000, output_tokens=1_000), "claude-sonnet-4-5", provider_id="anthropic"
    )
    discounted = pricer.price(
        record("anthropic", "claude-sonnet-4-5", now, input_tokens=10_000, output_tokens=1_000)
    )
    assert (discounted.status, discounted.cost.total) == ("override", full.total_price * Decimal("0.75"))
    local = pricer.price(record("ollama", "llama3.1:8b", now, input_tokens=50_000, output_tokens=9_000))
    assert (local.status, local.cost.total) == ("override", Decimal(0))
    unknown = pricer.price(
        record("acme", "brand-new-model", now, input_tokens=1_000_000, output_tokens=1_000_000)
    )
    assert (unknown.status, unknown.cost.total) == ("fallback", Decimal(3))
    no_fallback = Pricer(PricingProcessor(fallback=None)).price(
        record("acme", "brand-new-model", now, input_tokens=5)
    )
    assert (no_fallback.status, no_fallback.cost.total) == ("unpriced", Decimal(0))


def test_lookups_are_cached() -> None:
    pricer = Pricer()
    now = datetime.now(UTC)
    first = pricer.resolve("openai", "gpt-4o")
    pricer.price(record("openai", "gpt-4o", now, input_tokens=5))
    assert pricer.resolve("openai", "gpt-4o") is first


def test_unknown_embedding_models_get_the_embeddings_fallback() -> None:
    now = datetime.now(UTC)
    mtok = {"input_tokens": 1_000_000, "output_tokens": 0}

    def cost(pricer: Pricer, model: str, operation: str, provider: str = "acme") -> tuple[str, Decimal]:
        priced = pricer.price(operation_record(operation, provider, model, now, **mtok))
        return priced.status, priced.cost.total

    default = Pricer()
    # One cached resolution per model: the operation only picks which fallback plan prices it.
    assert cost(default, "acme-embed-v2", "chat") == ("fallback", Decimal(15))
    assert cost(default, "acme-embed-v2", "embeddings") == ("fallback", Decimal("0.20"))
    assert cost(default, "acme-embed-v2", "generate_content") == ("fallback", Decimal(15))
    # Embeddings report no output, but an odd span that does is not charged the chat output rate.
    odd = default.price(
        operation_record("embeddings", "acme", "acme-embed-v2", now, input_tokens=10, output_tokens=10**6)
    )
    assert odd.cost.total == Decimal("0.000002")
    # A catalogue model keeps its own price, whatever the operation.
    assert cost(default, "text-embedding-3-large", "embeddings", "openai") == ("priced", Decimal("0.13"))
    configured = Pricer(PricingProcessor(fallback=FallbackPrice(
        input_per_mtok=Decimal(1), output_per_mtok=Decimal(2), embeddings_input_per_mtok=Decimal("0.05"))))  # fmt: skip
    assert cost(configured, "acme-embed-v2", "embeddings") == ("fallback", Decimal("0.05"))
    assert cost(configured, "acme-embed-v2", "chat") == ("fallback", Decimal(1))
    unpriced = Pricer(PricingProcessor(fallback=None))
    assert cost(unpriced, "acme-embed-v2", "embeddings") == ("unpriced", Decimal(0))


def test_a_zero_embeddings_fallback_makes_unknown_embedding_calls_free() -> None:
    free = FallbackPrice(input_per_mtok=Decimal(1), output_per_mtok=Decimal(2), embeddings_input_per_mtok=0)
    shared = Pricer(PricingProcessor(fallback=free)).shared
    assert shared.is_free("acme", "acme-embed-v2", "embeddings")
    assert not shared.is_free("acme", "acme-embed-v2", "chat") and not shared.is_free("acme", "acme-embed-v2")
