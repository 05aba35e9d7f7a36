"""Per-token prices in the agent, for worst-case estimates and per-run spend.

Rates come from the genai-prices catalogue (the collector's source too) and
are cached per provider and model, so a check costs a dictionary lookup and
a few multiplications. A rate is taken at a million tokens, which for
long-context tiered models gives the higher tier: an estimate errs high.
Models the catalogue does not know get the collector's default fallback
rate, so a limit still binds.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from genai_prices import Usage, calc_price

_MTOK = 1_000_000
FALLBACK_INPUT = Decimal(15) / _MTOK  # USD per token, as the collector's default fallback
FALLBACK_OUTPUT = Decimal(75) / _MTOK


@dataclass(frozen=True)
class Rates:
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    known: bool = True


def _per_token(usage: Usage, model: str, provider: str | None) -> Decimal:
    return Decimal(calc_price(usage, model, provider_id=provider).total_price) / _MTOK


@lru_cache(maxsize=1024)
def rates_for(provider: str, model: str) -> Rates:
    provider_id = provider or None
    try:
        input_rate = _per_token(Usage(input_tokens=_MTOK), model, provider_id)
        output_rate = _per_token(Usage(output_tokens=_MTOK), model, provider_id)
    except Exception:  # unknown model or provider
        return Rates(FALLBACK_INPUT, FALLBACK_OUTPUT, FALLBACK_INPUT, FALLBACK_INPUT, known=False)
    try:
        cache_read = _per_token(Usage(input_tokens=_MTOK, cache_read_tokens=_MTOK), model, provider_id)
    except Exception:
        cache_read = input_rate
    try:
        cache_write = _per_token(Usage(input_tokens=_MTOK, cache_write_tokens=_MTOK), model, provider_id)
    except Exception:
        cache_write = input_rate
    return Rates(input_rate, output_rate, cache_read, cache_write)


def cost_of(
    rates: Rates, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0
) -> Decimal:
    """Cost of a call; ``input_tokens`` includes cache reads and writes, as in the conventions."""
    plain = max(input_tokens - cache_read - cache_write, 0)
    return (
        plain * rates.input
        + cache_read * rates.cache_read
        + cache_write * rates.cache_write
        + output_tokens * rates.output
    )
