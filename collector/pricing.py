"""Price usage records from the genai-prices catalogue and config overrides.

The catalogue lookup (provider + model -> model info) and the compilation of
each price into a plan are cached, so pricing a span costs a few Decimal
operations. The plan follows the catalogue's own unit decomposition: each
priced unit is charged for its count minus the counts of the more specific
priced units inside it (input minus cache reads, say), with tiered prices
chosen by the total input tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from genai_prices import data_snapshot
from genai_prices import types as gp
from genai_prices.units import _get_registry  # the catalogue's unit definitions

from . import conventions as cv
from .config import PricingProcessor
from .normalize import UsageRecord

log = logging.getLogger(__name__)
_ZERO = Decimal(0)
_MTOK = Decimal(1_000_000)

PRICED, OVERRIDE, FALLBACK, UNPRICED = "priced", "override", "fallback", "unpriced"


@dataclass(frozen=True, slots=True)
class Cost:
    input: Decimal
    cache_read: Decimal
    cache_write: Decimal
    output: Decimal
    total: Decimal
    # What the cache saved: the same usage priced with every cached or cache-written
    # token at the plain input rate, minus the total. Negative when cache writes
    # cost more than the reads saved.
    cache_savings: Decimal = Decimal(0)

    def scaled(self, factor: Decimal) -> Cost:
        return Cost(
            self.input * factor,
            self.cache_read * factor,
            self.cache_write * factor,
            self.output * factor,
            self.total * factor,
            self.cache_savings * factor,
        )


@dataclass(frozen=True, slots=True)
class PricedUsage:
    priced_model: str
    status: str
    cost: Cost


ZERO_COST = Cost(_ZERO, _ZERO, _ZERO, _ZERO, _ZERO)


@dataclass(frozen=True, slots=True)
class _Unit:
    usage_key: str
    price: Decimal | gp.TieredPrices
    per: int
    bucket: int  # which cost column the charge goes to (_BUCKETS)
    descendants: tuple[int, ...]  # indexes of more specific priced units
    # Cache read/write units only: the unit that would charge these tokens were they not cached
    # (the most specific broader unit that is not a cache unit), or None if none is priced.
    cached: bool = False
    uncached_as: int | None = None


_CACHED_KEYS = ("cache_read_tokens", "cache_write_tokens")


def _rate(price: Decimal | gp.TieredPrices, total_input: int) -> Decimal:
    """The price that applies at this total input (tiered prices are chosen by it)."""
    if not isinstance(price, gp.TieredPrices):
        return price
    for tier in reversed(price.tiers):
        if total_input > tier.start:
            return tier.price
    return price.base


class PricePlan:
    """One resolved ModelPrice, compiled for fast repeated use."""

    __slots__ = ("units", "tiered")

    def __init__(self, model_price: gp.ModelPrice) -> None:
        registry = _get_registry()
        priced = []
        for key, value in model_price.__dict__.items():
            if value is None or key.startswith("_"):
                continue
            try:
                unit = registry.unit_for_price_key(key)
            except KeyError:
                continue
            priced.append((unit, value))
        # Most specific units first, as their leaf counts are subtracted from broader ones.
        priced.sort(key=lambda item: (-len(item[0].dimensions), item[0].usage_key))
        units: list[_Unit] = []
        for index, (unit, price) in enumerate(priced):
            descendants = tuple(
                other_index
                for other_index, (other, _) in enumerate(priced[:index])
                if other is not unit and unit.dimensions.items() <= other.dimensions.items()
            )
            units.append(
                _Unit(unit.usage_key, price, unit.per, _BUCKETS[_bucket(unit.dimensions)], descendants)
            )
        for index, unit in enumerate(units):
            if unit.usage_key in _CACHED_KEYS:
                broader = [i for i, other in enumerate(units)
                           if index in other.descendants and other.usage_key not in _CACHED_KEYS]  # fmt: skip
                units[index] = replace(unit, cached=True, uncached_as=min(broader) if broader else None)
        self.units = tuple(units)
        self.tiered = any(isinstance(u.price, gp.TieredPrices) for u in self.units)

    def cost(self, usage: dict[str, int]) -> Cost:
        if not self.units:
            return ZERO_COST
        leaves: list[int] = []
        # input, cache_read, cache_write, output, other (see _BUCKETS)
        buckets = [_ZERO, _ZERO, _ZERO, _ZERO, _ZERO]
        total_input = usage.get("input_tokens", 0) if self.tiered else 0
        total = savings = _ZERO
        for unit in self.units:
            count = 1 if unit.usage_key == "requests" else usage.get(unit.usage_key, 0)
            leaf = count
            for index in unit.descendants:
                leaf -= leaves[index]
            if leaf < 0:
                raise ValueError(f"usage for {unit.usage_key} ({count}) is smaller than its parts")
            leaves.append(leaf)
            if not leaf:
                continue
            charge = _rate(unit.price, total_input) * leaf / unit.per
            buckets[unit.bucket] += charge
            total += charge
            if unit.cached:
                # Uncached, these tokens would fall to the broader unit, at its rate (same tier).
                plain = self.units[unit.uncached_as] if unit.uncached_as is not None else None
                uncached = _rate(plain.price, total_input) * leaf / plain.per if plain else _ZERO
                savings += uncached - charge
        return Cost(buckets[0], buckets[1], buckets[2], buckets[3], total, savings)


_BUCKETS = {"input": 0, "cache_read": 1, "cache_write": 2, "output": 3, "other": 4}


def _bucket(dimensions: Mapping[str, str]) -> str:
    token_type = dimensions.get("token_type")
    if token_type in ("cache_read", "cache_write"):
        return token_type
    direction = dimensions.get("direction")
    return direction if direction in ("input", "output") else "other"


def usage_dict(record: UsageRecord) -> dict[str, int]:
    """The catalogue's usage keys for a record."""
    usage = {
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cache_read_tokens": record.cache_read_tokens,
        "cache_write_tokens": record.cache_write_tokens,
    }
    if record.reasoning_tokens:
        usage["output_reasoning_tokens"] = record.reasoning_tokens
    if record.cache_write_1h_tokens:
        usage["cache_write_1h_tokens"] = record.cache_write_1h_tokens
    return usage


class _Resolution:
    """How one (provider, model) pair is priced."""

    __slots__ = ("status", "priced_model", "model_info", "fixed_plan", "discount")

    def __init__(
        self,
        status: str,
        priced_model: str,
        model_info: gp.ModelInfo | None = None,
        fixed_plan: PricePlan | None = None,
        discount: Decimal | None = None,
    ) -> None:
        self.status = status
        self.priced_model = priced_model
        self.model_info = model_info
        self.fixed_plan = fixed_plan
        self.discount = discount


def _custom_plan(input_per_mtok: Decimal, output_per_mtok: Decimal, **extra: Decimal | None) -> PricePlan:
    prices: dict[str, Any] = {"input_mtok": input_per_mtok, "output_mtok": output_per_mtok}
    if extra.get("cache_read") is not None:
        prices["cache_read_mtok"] = extra["cache_read"]
    if extra.get("cache_write") is not None:
        prices["cache_write_mtok"] = extra["cache_write"]
    per_request = extra.get("per_request")
    if per_request:
        prices["requests_kcount"] = per_request * 1000
    return PricePlan(gp.ModelPrice(**prices))


class Pricer:
    """Prices usage records; cheap after the first span of each model."""

    def __init__(self, config: PricingProcessor | None = None) -> None:
        config = config or PricingProcessor()
        self._snapshot = data_snapshot.get_snapshot()
        self._local = {cv.normalize_provider(p) for p in config.local_providers}
        self._discounts = {cv.normalize_provider(p): Decimal(1) - d for p, d in config.discounts.items()}
        self._custom: dict[tuple[str | None, str], _Resolution] = {}
        for entry in config.models:
            provider = cv.normalize_provider(entry.provider) if entry.provider else None
            plan = _custom_plan(
                entry.input_per_mtok,
                entry.output_per_mtok,
                cache_read=entry.cache_read_per_mtok,
                cache_write=entry.cache_write_per_mtok,
                per_request=entry.per_request,
            )
            self._custom[(provider, entry.model.lower())] = _Resolution(
                OVERRIDE, entry.model, fixed_plan=plan
            )
        self._fallback = (
            _custom_plan(config.fallback.input_per_mtok, config.fallback.output_per_mtok)
            if config.fallback
            else None
        )
        self._free = PricePlan(gp.ModelPrice())  # local models: no per-token charge
        self._resolutions: dict[tuple[str, str], _Resolution] = {}
        self._plans: dict[int, tuple[gp.ModelPrice, PricePlan]] = {}

    def resolve(self, provider: str, model: str) -> _Resolution:
        key = (provider, model)
        found = self._resolutions.get(key)
        if found is None:
            found = self._resolve(provider, model)
            if len(self._resolutions) > 100_000:  # hostile model names must not grow memory forever
                self._resolutions.clear()
            self._resolutions[key] = found
        return found

    def _resolve(self, provider: str, model: str) -> _Resolution:
        lowered = model.lower()
        custom = self._custom.get((provider, lowered)) or self._custom.get((None, lowered))
        if custom is not None:
            return custom
        if provider in self._local:
            return _Resolution(OVERRIDE, model, fixed_plan=self._free)
        info = self._lookup(provider, lowered) if model else None
        if info is not None:
            discount = self._discounts.get(provider)
            status = OVERRIDE if discount is not None else PRICED
            # A model without dated or time-of-day prices needs no per-span lookup.
            fixed = PricePlan(info.prices) if isinstance(info.prices, gp.ModelPrice) else None
            return _Resolution(status, info.id, model_info=info, fixed_plan=fixed, discount=discount)
        if self._fallback is not None:
            return _Resolution(FALLBACK, model, fixed_plan=self._fallback)
        return _Resolution(UNPRICED, model)

    def _lookup(self, provider: str, model: str) -> gp.ModelInfo | None:
        catalogue_provider = cv.CATALOGUE_PROVIDER.get(provider)
        attempts: list[str | None] = [catalogue_provider] if catalogue_provider else []
        attempts.append(None)  # let the catalogue guess the provider from the model name
        for provider_id in attempts:
            try:
                _, info = self._snapshot.find_provider_model(model, None, provider_id, None)
                return info
            except LookupError:
                continue
        return None

    def plan_for(self, info: gp.ModelInfo, start: datetime) -> PricePlan:
        model_price = info.get_prices(start)
        cached = self._plans.get(id(model_price))
        if cached is None or cached[0] is not model_price:
            cached = (model_price, PricePlan(model_price))
            self._plans[id(model_price)] = cached
        return cached[1]

    def price(self, record: UsageRecord) -> PricedUsage:
        resolution = self.resolve(record.provider, record.model)
        if resolution.status == UNPRICED:
            return PricedUsage(resolution.priced_model, UNPRICED, ZERO_COST)
        if resolution.fixed_plan is not None:
            plan = resolution.fixed_plan
        else:
            assert resolution.model_info is not None
            start = datetime.fromtimestamp(record.start_time_ns / 1e9, tz=UTC)
            plan = self.plan_for(resolution.model_info, start)
        try:
            cost = plan.cost(usage_dict(record))
        except ValueError as exc:
            log.warning("cannot price span %s: %s", record.span_id.hex(), exc)
            return PricedUsage(resolution.priced_model, UNPRICED, ZERO_COST)
        if resolution.discount is not None:
            cost = cost.scaled(resolution.discount)
        return PricedUsage(resolution.priced_model, resolution.status, cost)
