"""Price a call's usage from the genai-prices catalogue and the configured overrides.

The collector prices every span with this, and agents price their worst-case
estimates and per-run spend with it, so both charge the same call the same.
The resolution of each (provider, model) pair and the compiled plan of each
catalogue price are cached: after the first call of a model, pricing costs a
dictionary lookup and a few Decimal operations.

In order, a call is priced by: a custom model price (for its provider, then
for any provider), zero for a local provider, the catalogue (less the
provider's discount), the fallback price, or not at all (``unpriced``). The
fallback depends on the operation: embeddings calls get the embeddings rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

from genai_prices import data_snapshot
from genai_prices import types as gp

from .overrides import DEFAULT_OVERRIDES, EMBEDDINGS, PricingOverrides
from .plan import FREE_PLAN, ZERO_COST, Ceiling, Cost, PricePlan, custom_plan
from .providers import CATALOGUE_PROVIDER, normalize_provider

PRICED, OVERRIDE, FALLBACK, UNPRICED = "priced", "override", "fallback", "unpriced"
_MAX_RESOLUTIONS = 100_000  # hostile model names must not grow memory forever


class PricedUsage(NamedTuple):
    priced_model: str
    status: str
    cost: Cost


class Resolution:
    """How one (provider, model) pair is priced."""

    __slots__ = ("status", "priced_model", "model_info", "fixed_plan", "discount", "catalogue_provider")

    def __init__(
        self,
        status: str,
        priced_model: str,
        model_info: gp.ModelInfo | None = None,
        fixed_plan: PricePlan | None = None,
        discount: Decimal | None = None,  # the factor to multiply by (1 - fraction off)
        catalogue_provider: gp.Provider | None = None,  # where the catalogue found the model
    ) -> None:
        self.status = status
        self.priced_model = priced_model
        self.model_info = model_info
        self.fixed_plan = fixed_plan
        self.discount = discount
        self.catalogue_provider = catalogue_provider


class Pricer:
    """Prices usage; cheap after the first call of each model. Safe to share between threads
    (the caches only ever gain equivalent entries)."""

    def __init__(self, overrides: PricingOverrides = DEFAULT_OVERRIDES) -> None:
        self.overrides = overrides
        self._snapshot = data_snapshot.get_snapshot()
        self._local = {normalize_provider(p) for p in overrides.local_providers}
        self._discounts = {normalize_provider(p): Decimal(1) - d for p, d in overrides.discounts}
        self._custom: dict[tuple[str | None, str], Resolution] = {}
        for entry in overrides.models:
            provider = normalize_provider(entry.provider) if entry.provider else None
            plan = custom_plan(
                entry.input_per_mtok,
                entry.output_per_mtok,
                entry.cache_read_per_mtok,
                entry.cache_write_per_mtok,
                entry.per_request,
            )
            self._custom[(provider, entry.model.lower())] = Resolution(OVERRIDE, entry.model, fixed_plan=plan)
        fallback = overrides.fallback
        self._fallback: PricePlan | None = None
        self._embeddings_fallback: PricePlan | None = None
        if fallback is not None:
            self._fallback = custom_plan(fallback.input_per_mtok, fallback.output_per_mtok)
            # Embeddings calls report no output tokens: the rate is for input only.
            self._embeddings_fallback = custom_plan(fallback.embeddings_input_per_mtok, Decimal(0))
        self._resolutions: dict[tuple[str, str], Resolution] = {}
        self._plans: dict[int, tuple[gp.ModelPrice, PricePlan]] = {}
        self._ceilings: dict[tuple[str, str, bool], Ceiling] = {}

    def resolve(self, provider: str, model: str) -> Resolution:
        key = (provider, model)
        found = self._resolutions.get(key)
        if found is None:
            found = self._resolve(normalize_provider(provider), model)
            if len(self._resolutions) > _MAX_RESOLUTIONS:
                self._resolutions.clear()
            self._resolutions[key] = found
        return found

    def _resolve(self, provider: str, model: str) -> Resolution:
        lowered = model.lower()
        custom = self._custom.get((provider, lowered)) or self._custom.get((None, lowered))
        if custom is not None:
            return custom
        if provider in self._local:
            return Resolution(OVERRIDE, model, fixed_plan=FREE_PLAN)
        found = self._lookup(provider, lowered) if model else None
        if found is not None:
            catalogue_provider, info = found
            discount = self._discounts.get(provider)
            status = OVERRIDE if discount is not None else PRICED
            # A model without dated or time-of-day prices needs no per-call lookup.
            fixed = PricePlan(info.prices) if isinstance(info.prices, gp.ModelPrice) else None
            return Resolution(status, info.id, info, fixed, discount, catalogue_provider)
        if self._fallback is not None:
            return Resolution(FALLBACK, model, fixed_plan=self._fallback)
        return Resolution(UNPRICED, model)

    def _lookup(self, provider: str, model: str) -> tuple[gp.Provider, gp.ModelInfo] | None:
        catalogue_provider = CATALOGUE_PROVIDER.get(provider)
        attempts: list[str | None] = [catalogue_provider] if catalogue_provider else []
        attempts.append(None)  # let the catalogue guess the provider from the model name
        for provider_id in attempts:
            try:
                return self._snapshot.find_provider_model(model, None, provider_id, None)
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

    def fixed_plan(self, resolution: Resolution, operation: str = "") -> PricePlan | None:
        """The plan of a resolution whose price does not depend on the date. Resolutions are cached
        per model, not per operation, so an embeddings call of an unknown model swaps in the
        embeddings fallback here."""
        if resolution.status == FALLBACK and operation == EMBEDDINGS:
            return self._embeddings_fallback
        return resolution.fixed_plan

    def is_free(self, provider: str, model: str, operation: str = "") -> bool:
        """Whether every call of the model costs nothing (a local provider, a custom price of zero,
        a free catalogue model), whatever its usage."""
        resolution = self.resolve(provider, model)
        plan = self.fixed_plan(resolution, operation)
        return resolution.status != UNPRICED and plan is not None and plan.free

    def price(
        self, provider: str, model: str, usage: Mapping[str, int], start_ns: int, operation: str = ""
    ) -> PricedUsage:
        """The price of a call that started at ``start_ns`` (Unix ns; dated and time-of-day prices
        depend on it). ``usage`` has the catalogue's keys (see :func:`plan.usage`); ``operation``
        (gen_ai.operation.name) picks the fallback rate. Raises ValueError when its counts are
        inconsistent."""
        resolution = self.resolve(provider, model)
        plan = self._plan(resolution, start_ns, operation)
        if plan is None:
            return PricedUsage(resolution.priced_model, UNPRICED, ZERO_COST)
        cost = plan.cost(usage)
        if resolution.discount is not None:
            cost = cost.scaled(resolution.discount)
        return PricedUsage(resolution.priced_model, resolution.status, cost)

    def total(
        self, provider: str, model: str, usage: Mapping[str, int], start_ns: int, operation: str = ""
    ) -> Decimal:
        """``price(...).cost.total`` alone (the same value), for the agent's per-call spend."""
        resolution = self.resolve(provider, model)
        plan = self._plan(resolution, start_ns, operation)
        if plan is None:
            return ZERO_COST.total
        total = plan.total(usage)
        return total if resolution.discount is None else total * resolution.discount

    def _plan(self, resolution: Resolution, start_ns: int, operation: str) -> PricePlan | None:
        """The plan that prices a call of this resolution at ``start_ns``; None when unpriced."""
        status = resolution.status
        if status == UNPRICED:
            return None
        if status == FALLBACK and operation == EMBEDDINGS:  # inlined fixed_plan(): the hot path
            return self._embeddings_fallback
        plan = resolution.fixed_plan
        if plan is None:
            assert resolution.model_info is not None
            plan = self.plan_for(resolution.model_info, datetime.fromtimestamp(start_ns / 1e9, tz=UTC))
        return plan

    def ceiling(self, provider: str, model: str, operation: str = "") -> Ceiling:
        """The most a call of the model can cost per token and per call, at any date: an upper
        bound the agent compares with a limit before it prices a worst case exactly."""
        key = (provider, model, operation == EMBEDDINGS)
        found = self._ceilings.get(key)
        if found is None:
            found = self._ceiling(self.resolve(provider, model), operation)
            if len(self._ceilings) > _MAX_RESOLUTIONS:
                self._ceilings.clear()
            self._ceilings[key] = found
        return found

    def _ceiling(self, resolution: Resolution, operation: str) -> Ceiling:
        if resolution.status == UNPRICED:
            return Ceiling(Decimal(0), Decimal(0))
        plan = self.fixed_plan(resolution, operation)
        if plan is not None:
            ceiling = plan.ceiling
        else:
            assert resolution.model_info is not None
            prices = resolution.model_info.prices
            dated = [prices] if isinstance(prices, gp.ModelPrice) else [c.prices for c in prices]
            ceiling = PricePlan(dated[0]).ceiling
            for model_price in dated[1:]:
                ceiling = ceiling.join(PricePlan(model_price).ceiling)
        return ceiling if resolution.discount is None else ceiling.scaled(resolution.discount)
