"""``spendgate price``: what the collector would charge for a call, with the config's overrides.

It runs the collector's pricer on the configured ``processors.pricing``
(custom models, discounts, local providers, fallback), so the figure is the
one a span with this usage would be stored with, and the one agents estimate.
``--operation embeddings`` prices an embeddings call (an unknown model gets the
embeddings fallback, and no output tokens by default).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from spendgate.collector.cli.client import CommandError
from spendgate.collector.cli.money import usd
from spendgate.collector.config import PricingProcessor
from spendgate.collector.ingest.conventions import LEAF_OPERATIONS

from spendgate.pricing import (
    EMBEDDINGS,
    FALLBACK,
    UNPRICED,
    Pricer,
    PricingOverrides,
    normalize_provider,
    plan,
)
from spendgate.pricing.pricer import Resolution
from spendgate.pricing.providers import CATALOGUE_PROVIDER

OPERATIONS = tuple(dict.fromkeys(LEAF_OPERATIONS.values()))  # the operations a span is stored with


def _provider(args: argparse.Namespace, pricer: Pricer) -> str:
    """The stored provider name: given, or the custom model's, or the one the catalogue guesses
    (discounts and local providers are keyed by it)."""
    if args.provider:
        return normalize_provider(args.provider)
    model = args.model.lower()
    for entry in pricer.overrides.models:
        if entry.model.lower() == model and entry.provider:
            return normalize_provider(entry.provider)
    guessed = pricer.resolve("", args.model).catalogue_provider
    if guessed is not None:
        return next((name for name, pid in CATALOGUE_PROVIDER.items() if pid == guessed.id), guessed.id)
    return ""


def _custom_price(overrides: PricingOverrides, provider: str, model: str) -> str:
    lowered = model.lower()
    for entry in sorted(overrides.models, key=lambda e: e.provider is None):  # as the pricer
        if entry.model.lower() != lowered:
            continue
        if not entry.provider or normalize_provider(entry.provider) == provider:
            price = plan.custom_price(
                entry.input_per_mtok,
                entry.output_per_mtok,
                entry.cache_read_per_mtok,
                entry.cache_write_per_mtok,
                entry.per_request,
            )
            return f"custom price from the config: {price}"
    return "local provider: no per-token charge"


def _fallback_price(overrides: PricingOverrides, operation: str) -> str:
    fallback = overrides.fallback
    assert fallback is not None
    if operation == EMBEDDINGS:
        price = plan.custom_price(fallback.embeddings_input_per_mtok, Decimal(0))
        return f"the config's embeddings fallback price: {price}"
    return (
        f"the config's fallback price: {plan.custom_price(fallback.input_per_mtok, fallback.output_per_mtok)}"
    )


def _describe(
    resolution: Resolution, overrides: PricingOverrides, provider: str, model: str, operation: str
) -> list[str]:
    info, found_at = resolution.model_info, resolution.catalogue_provider
    if info is not None and found_at is not None:
        lines = [
            f"{found_at.name} {info.name} ({found_at.id}/{info.id})",
            f"  {info.get_prices(datetime.now(UTC))}",
        ]
        if resolution.discount is not None:
            off = (1 - resolution.discount) * 100
            lines.append(f"  less the configured {off.normalize():f} % discount for {provider}")
        return lines
    if resolution.status == FALLBACK:
        return [
            f"{model!r} is not in the genai-prices catalogue",
            f"  {_fallback_price(overrides, operation)}",
        ]
    return [f"{model} ({provider or 'any provider'})", f"  {_custom_price(overrides, provider, model)}"]


def cmd_price(args: argparse.Namespace, config: PricingProcessor) -> int:
    pricer = Pricer(config.overrides())
    provider = _provider(args, pricer)
    resolution = pricer.resolve(provider, args.model)
    if resolution.status == UNPRICED:
        raise CommandError(
            f"{args.model!r} is not in the genai-prices catalogue and the config has no fallback"
        )
    output = args.output if args.output is not None else (0 if args.operation == EMBEDDINGS else 1_000_000)
    counts = plan.usage(args.input, output, args.cache_read, args.cache_write)
    try:
        total = pricer.price(provider, args.model, counts, time.time_ns(), args.operation).cost.total
    except ValueError as exc:
        raise CommandError(f"cannot price this usage: {exc}") from None
    lines = _describe(resolution, pricer.overrides, provider, args.model, args.operation)
    lines.append(f"  pricing_status: {resolution.status}")
    usage_text = f"{args.input:,} input ({args.cache_read:,} cached) and {output:,} output tokens"
    lines.append(f"  {usage_text}: {usd(total, exact=True)}")
    print("\n".join(lines))
    return 0


def add_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], run: Callable[[argparse.Namespace], int]
) -> None:
    """``run`` loads the config (as the other config-reading commands do) and calls :func:`cmd_price`."""
    price = commands.add_parser("price", help="what the collector charges for a call (catalogue and config)")
    price.add_argument("model")
    price.add_argument("--provider", help="e.g. openai, anthropic (guessed from the model when omitted)")
    price.add_argument("--input", type=int, default=1_000_000, help="input tokens to price (default 1M)")
    price.add_argument("--output", type=int, help="output tokens to price (default 1M; 0 for embeddings)")
    price.add_argument("--cache-read", dest="cache_read", type=int, default=0, help="of the input tokens")
    price.add_argument("--cache-write", dest="cache_write", type=int, default=0, help="of the input tokens")
    price.add_argument(
        "--operation",
        default="chat",
        choices=OPERATIONS,
        help="an unknown model's fallback rate depends on it",
    )
    price.add_argument(
        "--config", help="the collector's config file (default: ./otel-config.yaml if present)"
    )
    price.set_defaults(func=run)
