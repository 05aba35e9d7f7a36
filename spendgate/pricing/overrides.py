"""What the collector's config changes about catalogue prices, as a small frozen record.

The collector builds it from ``processors.pricing`` and sends it to agents
with every flag snapshot; until the first snapshot arrives an agent prices
with :data:`DEFAULT_OVERRIDES`, which are the collector's own defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True, slots=True)
class CustomModel:
    """A configured price, per million tokens unless noted. ``None`` cache prices: cached tokens
    are charged as plain input."""

    model: str
    provider: str | None = None  # None: the model under any provider
    input_per_mtok: Decimal = Decimal(0)
    output_per_mtok: Decimal = Decimal(0)
    cache_read_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None
    per_request: Decimal = Decimal(0)  # USD per call


# The highest list price of a major provider's embedding model in the genai-prices catalogue
# (0.2.3): Google's gemini-embedding-2, $0.20 per Mtok of text (OpenAI text-embedding-3-large
# is $0.13, Voyage's largest $0.18). An unknown embedding model errs high, but not at a chat rate.
DEFAULT_EMBEDDINGS_INPUT = Decimal("0.20")
EMBEDDINGS = "embeddings"  # the gen_ai.operation.name priced at the embeddings fallback


@dataclass(frozen=True, slots=True)
class Fallback:
    """The price of models the catalogue does not know: the chat rate, and an input-only rate
    for embeddings calls (an embedding model at a chat rate would be charged ~100x too much)."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    embeddings_input_per_mtok: Decimal = DEFAULT_EMBEDDINGS_INPUT


DEFAULT_LOCAL_PROVIDERS = ("ollama", "lmstudio", "vllm", "llamacpp")
DEFAULT_FALLBACK = Fallback(Decimal(15), Decimal(75))


@dataclass(frozen=True, slots=True)
class PricingOverrides:
    models: tuple[CustomModel, ...] = ()
    # (provider, fraction off): 0.1 takes 10 % off the catalogue price.
    discounts: tuple[tuple[str, Decimal], ...] = ()
    local_providers: tuple[str, ...] = DEFAULT_LOCAL_PROVIDERS
    fallback: Fallback | None = DEFAULT_FALLBACK  # None: unknown models are unpriced (cost 0)


DEFAULT_OVERRIDES = PricingOverrides()


def wire_amount(text: str, what: str) -> Decimal:
    """A non-negative decimal amount sent as a string on the flags wire ("" is zero)."""
    try:
        value = Decimal(text or "0")
    except InvalidOperation:
        raise ValueError(f"{what}: {text[:40]!r} is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{what}: {text[:40]!r} is not a non-negative amount")
    return value
