"""A catalogue price compiled for fast, exact repeated use.

The plan follows the catalogue's own unit decomposition: each priced unit is
charged for its count minus the counts of the more specific priced units
inside it (input minus cache reads, say), with tiered prices chosen by the
total input tokens. Costs are Decimal throughout; they agree with
``genai_prices.calc_price`` to the last digit (tests/test_pricing.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Context, Decimal, Inexact
from typing import Any, NamedTuple

from genai_prices import types as gp
from genai_prices.units import _get_registry  # the catalogue's unit definitions

_ZERO = Decimal(0)


class Cost(NamedTuple):  # a tuple: built for every priced call, three times cheaper than a frozen dataclass
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


ZERO_COST = Cost(_ZERO, _ZERO, _ZERO, _ZERO, _ZERO)


def usage(
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    reasoning_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
) -> dict[str, int]:
    """The catalogue's usage keys for one call's counts (semantic-convention meaning: input
    includes cache reads and writes, output includes reasoning)."""
    counts = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read_tokens,
        "cache_write_tokens": cache_write_tokens,
    }
    if reasoning_tokens:
        counts["output_reasoning_tokens"] = reasoning_tokens
    if cache_write_1h_tokens:
        counts["cache_write_1h_tokens"] = cache_write_1h_tokens
    return counts


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
_BUCKETS = {"input": 0, "cache_read": 1, "cache_write": 2, "output": 3, "other": 4}


def _bucket(dimensions: Mapping[str, str]) -> str:
    token_type = dimensions.get("token_type")
    if token_type in ("cache_read", "cache_write"):
        return token_type
    direction = dimensions.get("direction")
    return direction if direction in ("input", "output") else "other"


def _is_zero(price: Decimal | gp.TieredPrices) -> bool:
    if isinstance(price, gp.TieredPrices):
        return price.base == 0 and all(tier.price == 0 for tier in price.tiers)
    return price == 0


_EXACT = Context(prec=60, traps=[Inexact])
_UP = Context(prec=28, rounding=ROUND_CEILING)  # a bound may err high, never low


def _per_unit(price: Decimal, per: int) -> Decimal | None:
    """``price / per`` when that is exact (per is a power of ten in the catalogue), else None."""
    try:
        return _EXACT.divide(price, Decimal(per))
    except Inexact:
        return None


class _Rate(NamedTuple):
    """A unit's price per single unit (token, request), for :meth:`PricePlan.total`."""

    base: Decimal
    tiers: tuple[tuple[int, Decimal], ...]  # (start, price), highest start first

    def at(self, total_input: int) -> Decimal:
        for start, price in self.tiers:
            if total_input > start:
                return price
        return self.base


def _unit_rate(price: Decimal | gp.TieredPrices, per: int) -> _Rate | None:
    if not isinstance(price, gp.TieredPrices):
        base = _per_unit(price, per)
        return None if base is None else _Rate(base, ())
    base = _per_unit(price.base, per)
    tiers = tuple((tier.start, _per_unit(tier.price, per)) for tier in reversed(price.tiers))
    if base is None or any(rate is None for _, rate in tiers):
        return None
    return _Rate(base, tiers)  # type: ignore[arg-type]  # no None left


class Ceiling(NamedTuple):
    """The most a call of token usage can cost: ``tokens * per_token + per_call``, whatever the
    split of the tokens (input, output, cached) and whatever tier they fall in."""

    per_token: Decimal
    per_call: Decimal

    def bound(self, tokens: int) -> Decimal:
        return tokens * self.per_token + self.per_call

    def scaled(self, factor: Decimal) -> Ceiling:
        return Ceiling(self.per_token * factor, self.per_call * factor)

    def join(self, other: Ceiling) -> Ceiling:
        return Ceiling(max(self.per_token, other.per_token), max(self.per_call, other.per_call))


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

    __slots__ = ("units", "tiered", "free", "ceiling", "_rates")

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
        for index, compiled in enumerate(units):
            if compiled.usage_key in _CACHED_KEYS:
                broader = [
                    i
                    for i, other in enumerate(units)
                    if index in other.descendants and other.usage_key not in _CACHED_KEYS
                ]
                units[index] = replace(compiled, cached=True, uncached_as=min(broader) if broader else None)
        self.units = tuple(units)
        self.tiered = any(isinstance(u.price, gp.TieredPrices) for u in self.units)
        self.free = all(_is_zero(u.price) for u in self.units)
        rates = tuple(_unit_rate(u.price, u.per) for u in self.units)
        # total() multiplies by the per-unit rates; a rate that is not exact leaves it to cost().
        self._rates: tuple[_Rate, ...] | None = None if None in rates else rates  # type: ignore[assignment]
        self.ceiling = _ceiling(self.units)

    def cost(self, usage: Mapping[str, int]) -> Cost:
        """Raises ValueError when a part of the usage is larger than the whole (cache reads
        above the input, say): such counts cannot be priced."""
        if not self.units:
            return ZERO_COST
        leaves: list[int] = []
        # input, cache_read, cache_write, output, other (see _BUCKETS)
        buckets = [_ZERO, _ZERO, _ZERO, _ZERO, _ZERO]
        total_input = usage.get("input_tokens", 0) if self.tiered else 0
        total = savings = _ZERO
        get = usage.get
        for unit in self.units:
            count = 1 if unit.usage_key == "requests" else get(unit.usage_key, 0)
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

    def total(self, usage: Mapping[str, int]) -> Decimal:
        """``cost(usage).total`` alone, with the same leaves and rates (hence the same value), for
        the agent's per-call spend; raises ValueError where cost() does."""
        rates = self._rates
        if rates is None:
            return self.cost(usage).total
        leaves: list[int] = []
        total_input = usage.get("input_tokens", 0) if self.tiered else 0
        total = _ZERO
        get = usage.get
        for unit, rate in zip(self.units, rates, strict=True):
            leaf = 1 if unit.usage_key == "requests" else get(unit.usage_key, 0)
            for index in unit.descendants:
                leaf -= leaves[index]
            if leaf < 0:
                raise ValueError(f"usage for {unit.usage_key} is smaller than its parts")
            leaves.append(leaf)
            if leaf:
                total += (rate.at(total_input) if rate.tiers else rate.base) * leaf
        return total


def _highest(price: Decimal | gp.TieredPrices) -> Decimal:
    if isinstance(price, gp.TieredPrices):
        return max([price.base, *(tier.price for tier in price.tiers)])
    return price


def _ceiling(units: tuple[_Unit, ...]) -> Ceiling:
    """Each token is charged by one leaf unit at most, so the highest token rate bounds every
    split; units counted in anything but tokens or requests are never in the agent's usage."""
    per_token = per_call = _ZERO
    for unit in units:
        rate = _UP.divide(_highest(unit.price), Decimal(unit.per))
        if unit.usage_key == "requests":
            per_call = max(per_call, rate)
        elif unit.usage_key.endswith("_tokens"):
            per_token = max(per_token, rate)
    return Ceiling(per_token, per_call)


def custom_price(
    input_per_mtok: Decimal,
    output_per_mtok: Decimal,
    cache_read: Decimal | None = None,
    cache_write: Decimal | None = None,
    per_request: Decimal | None = None,
) -> gp.ModelPrice:
    """A configured price in the catalogue's terms, per million tokens (per call for ``per_request``)."""
    prices: dict[str, Any] = {"input_mtok": input_per_mtok, "output_mtok": output_per_mtok}
    if cache_read is not None:
        prices["cache_read_mtok"] = cache_read
    if cache_write is not None:
        prices["cache_write_mtok"] = cache_write
    if per_request:
        prices["requests_kcount"] = per_request * 1000
    return gp.ModelPrice(**prices)


def custom_plan(
    input_per_mtok: Decimal,
    output_per_mtok: Decimal,
    cache_read: Decimal | None = None,
    cache_write: Decimal | None = None,
    per_request: Decimal | None = None,
) -> PricePlan:
    return PricePlan(custom_price(input_per_mtok, output_per_mtok, cache_read, cache_write, per_request))


FREE_PLAN = PricePlan(gp.ModelPrice())  # local models: no per-token charge
