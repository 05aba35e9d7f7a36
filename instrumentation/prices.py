"""Prices in the agent: worst-case estimates and per-run spend, with the collector's pricer.

Both go through :class:`spendgate.pricing.Pricer`, the code that prices spans
in the collector, with the overrides the collector sends in every flag
snapshot (custom models, discounts, local providers, fallback). Before the
first snapshot the pricer holds the built-in defaults, which are the
collector's: local providers are free, unknown models get the fallback rate
(the embeddings one for embeddings calls).

An estimate is the collector's price of the worst-case usage (the prompt's
tokens at most, plus the request's output limit). Tiers are chosen by that
input, an upper bound of the call's, so an estimate errs high but never
above what the collector would charge for the same usage; for a local
provider or a zero-priced custom model it is 0.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import NamedTuple

from spendgate.pricing import CustomModel, Fallback, Pricer, PricingOverrides, plan
from spendgate.pricing.overrides import DEFAULT_EMBEDDINGS_INPUT, wire_amount
from spendgate.proto import flags_pb2 as pb

from .recorder import CACHE_WRITE_1H_ATTRIBUTE, LLMCall

logger = logging.getLogger("spendgate.instrumentation")
_ZERO = Decimal(0)


def _optional(text: str, what: str) -> Decimal | None:
    return wire_amount(text, what) if text else None


def _fallback(message: pb.FallbackPrice) -> Fallback:
    # A collector older than the embeddings rate leaves it empty: keep the built-in default.
    embeddings = message.embeddings_input_per_mtok
    return Fallback(
        wire_amount(message.input_per_mtok, "fallback"),
        wire_amount(message.output_per_mtok, "fallback"),
        wire_amount(embeddings, "fallback") if embeddings else DEFAULT_EMBEDDINGS_INPUT,
    )


def overrides_from(message: pb.PricingOverrides) -> PricingOverrides:
    """The overrides a snapshot carries; ValueError if an amount is malformed."""
    models = tuple(
        CustomModel(
            model=m.model,
            provider=m.provider or None,
            input_per_mtok=wire_amount(m.input_per_mtok, m.model),
            output_per_mtok=wire_amount(m.output_per_mtok, m.model),
            cache_read_per_mtok=_optional(m.cache_read_per_mtok, m.model),
            cache_write_per_mtok=_optional(m.cache_write_per_mtok, m.model),
            per_request=wire_amount(m.per_request, m.model),
        )
        for m in message.models
    )
    fallback = _fallback(message.fallback) if message.HasField("fallback") else None
    return PricingOverrides(
        models=models,
        discounts=tuple(sorted((p, wire_amount(d, p)) for p, d in message.discounts.items())),
        local_providers=tuple(message.local_providers),
        fallback=fallback,
    )


class WorstCase(NamedTuple):
    """The most a request can use and cost: its input tokens, its output limit, their price."""

    input_tokens: int
    output_tokens: int
    cost: Decimal

    def of(self, metric: str) -> Decimal:
        """The value a limit of ``metric`` (cost or tokens) is compared with."""
        return self.cost if metric == "cost" else Decimal(self.input_tokens + self.output_tokens)


def worst_case(
    pricer: Pricer, provider: str, model: str, input_tokens: int, output_tokens: int, operation: str = "chat"
) -> WorstCase:
    """The usage priced as the collector would price it, starting now."""
    counts = plan.usage(input_tokens, output_tokens)
    try:
        cost = pricer.price(provider, model, counts, time.time_ns(), operation).cost.total
    except ValueError:  # counts the plan cannot take; the collector would not price them either
        cost = _ZERO
    return WorstCase(input_tokens, output_tokens, cost)


def worst_case_bound(
    pricer: Pricer, provider: str, model: str, input_bound: int, output_tokens: int, operation: str = "chat"
) -> WorstCase:
    """At least :func:`worst_case` of any input up to ``input_bound`` tokens, without pricing: the
    model's highest rate at any date, times every token."""
    ceiling = pricer.ceiling(provider, model, operation)
    return WorstCase(input_bound, output_tokens, ceiling.bound(input_bound + output_tokens))


def call_cost(
    pricer: Pricer, call: LLMCall, input_tokens: int | None = None, output_tokens: int | None = None
) -> Decimal:
    """What the collector will charge for a finished call, priced as its span will be; a stream
    still running is priced with the input and output counted so far (``input_tokens``, ``output_tokens``)."""
    one_hour = (call.attributes or {}).get(CACHE_WRITE_1H_ATTRIBUTE, 0)
    counts = plan.usage(
        call.input_tokens or 0 if input_tokens is None else input_tokens,
        call.output_tokens or 0 if output_tokens is None else output_tokens,
        call.cache_read_tokens or 0,
        call.cache_write_tokens or 0,
        call.reasoning_tokens or 0,
        one_hour,
    )
    model = call.response_model or call.request_model
    try:
        return pricer.total(call.provider, model, counts, call.start_ns, call.operation)
    except ValueError:
        logger.debug("spendgate: cannot price the usage of a %s call: %s", model, counts)
        return _ZERO
