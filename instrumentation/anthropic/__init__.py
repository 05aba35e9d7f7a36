"""Instrument the ``anthropic`` SDK (sync and async)."""

from __future__ import annotations

from ..instrumentor import SpendgateInstrumentor, Target
from . import patch

_MESSAGES = "anthropic.resources.messages.messages"


class AnthropicInstrumentor(SpendgateInstrumentor):
    package = "anthropic >= 0.40"
    targets = (
        Target(_MESSAGES, "Messages.create", patch.MESSAGES),
        Target(_MESSAGES, "AsyncMessages.create", patch.MESSAGES, is_async=True),
        Target(_MESSAGES, "Messages.stream", patch.stream_helper),
        Target(_MESSAGES, "AsyncMessages.stream", patch.stream_helper),
    )


__all__ = ["AnthropicInstrumentor"]
