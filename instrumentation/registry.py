"""The SDK instrumentors: this distribution's ``opentelemetry_instrumentor`` entry points.

pyproject.toml lists them once; ``opentelemetry-instrument`` and :func:`configure.instrument`
both read that list (in the order the installed metadata gives it).
"""

from __future__ import annotations

import importlib.metadata
from typing import Any, Protocol

DISTRIBUTION = "spendgate"
GROUP = "opentelemetry_instrumentor"


class SdkInstrumentor(Protocol):
    """What configure needs of an instrumentor (a :class:`~.instrumentor.SpendgateInstrumentor`)."""

    sdk: str  # the SDK's import name

    @property
    def is_instrumented_by_opentelemetry(self) -> bool: ...

    def instrument(self, **kwargs: Any) -> None: ...

    def uninstrument(self, **kwargs: Any) -> None: ...


def entry_points() -> list[importlib.metadata.EntryPoint]:
    """The instrumentors' entry points (``name = module:Class``), spendgate's own only."""
    entries = importlib.metadata.distribution(DISTRIBUTION).entry_points
    return list(entries.select(group=GROUP))
