"""The agent's fast pricing paths against the full one: ``Pricer.total`` gives the same value as
``price().cost.total``, and ``Pricer.ceiling`` bounds it for every split of the tokens at any date."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from genai_prices import data_snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from spendgate.pricing import CustomModel, Pricer, PricingOverrides, plan

_SNAPSHOT = data_snapshot.get_snapshot()
_INFOS = [
    (provider.id, model)
    for provider in _SNAPSHOT.providers
    for model in provider.models
    if provider.id in ("openai", "anthropic", "google", "mistral", "groq", "deepseek", "x-ai", "aws")
]
MODELS = sorted((provider, model.id) for provider, model in _INFOS)
PRICERS = [
    Pricer(),
    Pricer(
        PricingOverrides(
            models=(
                CustomModel("acme-1", "acme", Decimal("0.3"), Decimal("1.2"), per_request=Decimal("0.01")),
            ),
            discounts=(("openai", Decimal("0.15")), ("anthropic", Decimal("0.333"))),
        )
    ),
]
START = datetime(2023, 1, 1, tzinfo=UTC)


@st.composite
def usages(draw: st.DrawFn) -> dict[str, int]:
    inputs = draw(st.integers(0, 2_000_000))
    return plan.usage(
        inputs,
        output := draw(st.integers(0, 200_000)),
        draw(st.integers(0, inputs)),
        draw(st.integers(0, inputs)) // 2,
        draw(st.integers(0, output)),
    )


def test_the_models_include_tiered_and_dated_prices() -> None:
    infos = [model for _, model in _INFOS]
    assert sum("TieredPrices" in repr(i.prices) for i in infos) >= 5
    assert sum(isinstance(i.prices, list) for i in infos) >= 5


@settings(max_examples=400, deadline=None)
@given(
    model=st.sampled_from([*MODELS, ("acme", "acme-1"), ("openai", "not-a-model")]),
    usage=usages(),
    days=st.integers(0, 365 * 5),
    pricer=st.sampled_from(PRICERS),
    operation=st.sampled_from(["chat", "embeddings"]),
)
def test_total_equals_the_full_price_and_the_ceiling_bounds_it(
    model: tuple[str, str], usage: dict[str, int], days: int, pricer: Pricer, operation: str
) -> None:
    provider, name = model
    start_ns = int(START.timestamp() + days * 86_400) * 10**9
    if usage["cache_read_tokens"] + usage["cache_write_tokens"] > usage["input_tokens"]:
        usage["cache_write_tokens"] = 0
    try:
        full = pricer.price(provider, name, usage, start_ns, operation).cost.total
    except ValueError:  # counts this model cannot price: total() refuses them alike
        with pytest.raises(ValueError):
            pricer.total(provider, name, usage, start_ns, operation)
        return
    assert pricer.total(provider, name, usage, start_ns, operation) == full
    tokens = usage["input_tokens"] + usage["output_tokens"]
    assert pricer.ceiling(provider, name, operation).bound(tokens) >= full
