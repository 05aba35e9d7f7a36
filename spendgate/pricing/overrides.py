"""What the collector's config changes about catalogue prices, as a small frozen record.

The collector builds it from ``processors.pricing`` and sends it to agents
with every flag snapshot; until the first snapshot arrives an agent prices
with :data:`DEFAULT_OVERRIDES`, which are the collector's own defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


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


@dataclass(frozen=True, slots=True)
class Fallback:
    """The price of models the catalogue does not know."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal


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
