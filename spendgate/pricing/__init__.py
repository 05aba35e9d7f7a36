"""One pricer for the collector and the agent (catalogue lookup, price plans, config overrides).

Light on purpose: it needs genai-prices and the standard library only, so agents can import it
without the collector (chDB, FastAPI) and the collector without the instrumentation.
"""

from .overrides import DEFAULT_OVERRIDES, EMBEDDINGS, CustomModel, Fallback, PricingOverrides
from .plan import ZERO_COST, Cost, PricePlan, usage
from .pricer import FALLBACK, OVERRIDE, PRICED, UNPRICED, PricedUsage, Pricer, Resolution
from .providers import normalize_provider

__all__ = [
    "DEFAULT_OVERRIDES",
    "EMBEDDINGS",
    "FALLBACK",
    "OVERRIDE",
    "PRICED",
    "UNPRICED",
    "ZERO_COST",
    "Cost",
    "CustomModel",
    "Fallback",
    "PricePlan",
    "PricedUsage",
    "Pricer",
    "PricingOverrides",
    "Resolution",
    "normalize_provider",
    "usage",
]
