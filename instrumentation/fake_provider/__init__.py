"""A local fake LLM provider speaking each provider's wire format (tests, benchmarks, demo)."""

from .formats import REPLY, Usage
from .server import FakeProvider, Received

__all__ = ["REPLY", "FakeProvider", "Received", "Usage"]
