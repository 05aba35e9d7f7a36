"""Price usage records: the collector's side of the shared pricer (``spendgate.pricing``).

The agent prices its estimates with the same :class:`spendgate.pricing.Pricer`
and the same overrides (sent with the flag snapshot), so a call costs the same
in both. This module only turns a :class:`UsageRecord` into the pricer's
arguments and logs the spans that cannot be priced.
"""

from __future__ import annotations

import logging

from spendgate.collector.config import PricingProcessor
from spendgate.collector.ingest.normalize import UsageRecord

from spendgate.pricing import plan
from spendgate.pricing.pricer import FALLBACK, OVERRIDE, PRICED, UNPRICED, PricedUsage, Resolution
from spendgate.pricing.pricer import Pricer as SharedPricer

log = logging.getLogger(__name__)

__all__ = ["FALLBACK", "OVERRIDE", "PRICED", "UNPRICED", "Pricer", "PricedUsage", "usage_dict"]


def usage_dict(record: UsageRecord) -> dict[str, int]:
    """The catalogue's usage keys for a record."""
    return plan.usage(
        record.input_tokens,
        record.output_tokens,
        record.cache_read_tokens,
        record.cache_write_tokens,
        record.reasoning_tokens,
        record.cache_write_1h_tokens,
    )


class Pricer:
    """Prices usage records with the configured overrides; cheap after the first span of each model."""

    def __init__(self, config: PricingProcessor | None = None) -> None:
        self.shared = SharedPricer((config or PricingProcessor()).overrides())

    def resolve(self, provider: str, model: str) -> Resolution:
        return self.shared.resolve(provider, model)

    def price(self, record: UsageRecord) -> PricedUsage:
        try:
            return self.shared.price(
                record.provider, record.model, usage_dict(record), record.start_time_ns, record.operation
            )
        except ValueError as exc:
            log.warning("cannot price span %s: %s", record.span_id.hex(), exc)
            return PricedUsage(
                self.resolve(record.provider, record.model).priced_model, UNPRICED, plan.ZERO_COST
            )
