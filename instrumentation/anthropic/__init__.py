"""Instrument the ``anthropic`` SDK (sync and async)."""

from __future__ import annotations

from ..instrumentor import SpendgateInstrumentor, Target
from . import patch

_MESSAGES = "anthropic.resources.messages.messages"


class AnthropicInstrumentor(SpendgateInstrumentor):
    sdk = "anthropic"
    package = "anthropic >= 0.40"
    targets = (
        Target(_MESSAGES, "Messages.create", patch.MESSAGES),
        Target(_MESSAGES, "AsyncMessages.create", patch.MESSAGES, is_async=True),
        Target(_MESSAGES, "Messages.stream", patch.stream_helper),
        Target(_MESSAGES, "AsyncMessages.stream", patch.stream_helper),
    )
    # Newer SDKs trace their own calls when a tracer provider is set; with spendgate metering
    # them, each call would be counted twice. Clients created afterwards leave it off unless
    # they are given their own `open_telemetry` option.
    native_tracing_switch = ("ANTHROPIC_OPEN_TELEMETRY", "false")


__all__ = ["AnthropicInstrumentor"]
